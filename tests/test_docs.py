"""The docs keep up with the code: every diagnostic code and every action key is documented."""

import re
from pathlib import Path

import pytest

from aigw_policy.codes import CODES
from aigw_policy.ir.actions import ACTIONS

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_is_documented(code: str) -> None:
    assert f"`{code}`" in (DOCS / "diagnostics.md").read_text()


def test_documented_codes_exist() -> None:
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


def _aigw_codes() -> dict[str, str]:
    """Every ``aigw.code`` the gateway's own answers can carry, read from its source: the
    ``code=`` it passes, the codes a refused body or request line raises, and the fallbacks
    by status and by decision kind; each with where it was found."""
    import ast

    from aigw_policy.gateway import errors

    found: dict[str, str] = {}
    for path in sorted((Path(__file__).parent.parent / "aigw_policy" / "gateway").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                values += [k.value for k in node.keywords if k.arg == "code"]
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                where = {"BadBody": 0, "refusal": 2}.get(name)
                if where is not None and len(node.args) > where:
                    values.append(node.args[where])
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple) and any(
                    (isinstance(t, ast.Attribute) and t.attr in ("edge", "failed"))
                    or (isinstance(t, ast.Name) and t.id == "edge") for t in node.targets):
                values += node.value.elts  # (status, code) / (code, message); head.py's local edge
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str) \
                        and re.fullmatch(r"[a-z][a-z_]+", value.value):
                    found.setdefault(value.value, path.name)
    for code in [*errors._CODES.values(), *errors._KIND_CODES.values()]:
        found.setdefault(code, "errors.py (a fallback)")
    return found


AIGW_CODES = _aigw_codes()


def test_the_scan_finds_the_gateway_s_codes() -> None:
    """The scan below is not vacuous: it sees codes of each of its sources."""
    assert {"body_timeout", "json_too_deep", "invalid_http", "invalid_path", "exclude_failed",
            "upstream_timeout", "policy_denied", "no_upstream"} <= set(AIGW_CODES)


@pytest.mark.parametrize("code", sorted(AIGW_CODES))
def test_every_aigw_code_is_documented(code: str) -> None:
    """SPEC §14: the `aigw` object's `code` is stable, for programs: each one the gateway can
    answer is in docs/usage-visibility.md's table."""
    text = (DOCS / "usage-visibility.md").read_text()
    [row] = [line for line in text.splitlines() if line.startswith("| `code` |")]
    assert f"`{code}`" in row, f"`{code}` ({AIGW_CODES[code]}) is not in usage-visibility.md's `code` row"
