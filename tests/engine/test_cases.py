"""Data-driven engine tests: every tests/engine/data/*.test.yaml case must pass, in both the
indexed and the unindexed (traced) evaluation, with identical decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_policy.engine.testing import discover, run_file

CASES = Path(__file__).parent / "data"
FILES = discover(CASES)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_case_file(path: Path) -> None:
    result = run_file(path)
    failed = [f"{c.name}: " + "; ".join(c.failures) for c in result.cases if not c.passed]
    assert not failed, "\n".join(failed)
    assert result.cases


def test_every_action_is_covered_by_a_case() -> None:
    from aigw_policy.ir.actions import ACTIONS

    text = "\n".join(p.read_text() for p in FILES)
    missing = [a for a in ACTIONS if a not in text]
    assert not missing
