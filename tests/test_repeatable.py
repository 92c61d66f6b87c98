"""The suite is reproducible: every property test runs derandomized unless asked otherwise."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

HERE = Path(__file__).parent


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE") not in (None, "repeatable"),
                    reason="another hypothesis profile was asked for")
def test_the_default_profile_is_repeatable() -> None:
    assert settings.default.derandomize is True
    assert settings.default.database is None
    assert settings.default.deadline is None


def test_no_property_test_opts_out() -> None:
    """A test that re-randomizes itself, or reads a time limit, can go red on a clean change."""
    bad = re.compile(r"derandomize\s*=\s*False|database\s*=|deadline\s*=\s*(?!None)\S")
    found = []
    for path in sorted(HERE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name == "conftest.py" or "hypothesis" not in text:
            continue
        found += [f"{path.relative_to(HERE)}:{n}: {line.strip()}"
                  for n, line in enumerate(text.splitlines(), 1) if bad.search(line)]
    assert not found, "\n".join(found)


def test_no_wall_clock_budgets() -> None:
    """Timings belong in benchmarks/: a test bounds work by counts and sizes (tests/work.py),
    so a busy machine cannot turn it red."""
    timed = re.compile(r"perf_counter|process_time|assert .*(monotonic|time\.time)\(\) *-")
    found = []
    for path in sorted(HERE.rglob("*.py")):
        if path.name == "test_repeatable.py":
            continue
        found += [f"{path.relative_to(HERE)}:{n}: {line.strip()}"
                  for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                  if timed.search(line)]
    assert not found, "\n".join(found)


def test_the_work_meter_stops_runaway_work_the_code_cannot_swallow() -> None:
    from work import OverBudget, calls

    def swallowing() -> None:
        try:
            for _ in range(10**9):
                abs(1)
        except Exception:  # noqa: BLE001  (the code under test may catch broadly)
            pass

    with pytest.raises(OverBudget):
        calls(swallowing, budget=10_000)
    assert calls(lambda: [abs(i) for i in range(100)]) >= 100
