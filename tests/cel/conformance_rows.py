"""Rows in the conformance files' shape (``{"section": [{"name", "test": [...]}]}``) kept under
tests/cel/data, each run through tests/conformance/run.py's ``run_test`` as the suite's own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
from run import run_test, to_value  # noqa: E402  (tests/conformance/run.py)

__all__ = ["DATA", "row_ids", "rows_of", "run_test", "to_value"]

DATA = Path(__file__).parent / "data"


def rows_of(name: str) -> list[tuple[str, dict[str, Any]]]:
    """``(section name, row)`` for every row of ``data/NAME``."""
    return [(s["name"], t) for s in json.loads((DATA / name).read_text())["section"] for t in s["test"]]


def row_ids(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """A test id per row: ``section/name``."""
    return [f"{s}/{t['name']}" for s, t in rows]
