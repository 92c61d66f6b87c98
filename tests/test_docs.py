"""The docs keep up with the code: every diagnostic code and every action key is documented."""

from pathlib import Path

import pytest

from aigw_policy.codes import CODES
from aigw_policy.ir.actions import ACTIONS

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_is_documented(code: str) -> None:
    assert f"`{code}`" in (DOCS / "diagnostics.md").read_text()


def test_documented_codes_exist() -> None:
    import re

    documented = set(re.findall(r"`(AIGW\d{3})`", (DOCS / "diagnostics.md").read_text()))
    assert documented <= set(CODES)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_and_key_is_documented(action: str) -> None:
    text = (DOCS / "language.md").read_text()
    section = text.split(f"### `{action}`", 1)
    assert len(section) == 2, f"no section for `{action}`"
    body = section[1].split("\n### ", 1)[0]
    for key in ACTIONS[action].model_fields:
        assert f"`{key}`" in body, f"`{action}` section does not mention `{key}`"
