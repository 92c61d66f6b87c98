"""docs/embedding.md is true: its Python blocks run, and the numbers it states are the code's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from aigw_policy.engine.runner import MAX_DONE, MAX_PENDING
from aigw_policy.limits.base import DEFAULT_RESERVATION_TTL
from aigw_policy.limits.memory import DEFAULT_MAX_RECORDS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "embedding.md").read_text()


def test_the_python_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/embedding.md", "exec"), namespace)  # noqa: S102 - our own doc
    assert os.getcwd() == str(ROOT)


def test_the_numbers_are_the_code_s() -> None:
    flat = " ".join(DOC.split())
    assert f"max_pending={MAX_PENDING:_}" in DOC and f"max_records={DEFAULT_MAX_RECORDS:_}" in DOC
    assert f"{MAX_DONE:,} completed decisions" in flat
    assert f"`reservation_ttl` ({DEFAULT_RESERVATION_TTL:.0f} s)" in flat
    assert "MEMORY-TABLE" not in DOC
