"""`usage` and `report` over ledgers at the edges: empty, one record, records out of order or
given twice, numbers past what a sum can hold or that are no numbers (`NaN`, `Infinity`, which
Python's json reads). The JSON output is JSON a strict parser reads (no `NaN`/`Infinity`);
a record with a non-finite or absurd amount is no usage record (as a torn line is), so no sum
becomes `inf`; the answers do not depend on the order of the lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.ledger.record import UsageRecord

from . import fixture_ledger

RECORDS = [r.to_dict() for r in fixture_ledger.records()]
SINCE = "2026-01-01"


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return f"jsonl:{path}"


def _usage(ledger: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["usage", "--ledger", ledger, "--since", SINCE, "--format", "json", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout


BAD_AMOUNTS = {"nan-cost": {"aigw.cost_usd": float("nan")}, "inf-cost": {"aigw.cost_usd": float("inf")},
               "minus-inf-latency": {"aigw.latency_ms": float("-inf")}, "huge-cost": {"aigw.cost_usd": 1e308},
               "huge-latency": {"aigw.latency_ms": 1e300}}


@pytest.mark.parametrize("name", sorted(BAD_AMOUNTS))
def test_a_non_finite_or_absurd_amount_is_no_usage_record(name: str, tmp_path: Path) -> None:
    fields = BAD_AMOUNTS[name]
    with pytest.raises(TypeError):
        UsageRecord.from_dict({**RECORDS[0], **fields})
    rows = [dict(r) | (fields if i in (1, 2) else {}) for i, r in enumerate(RECORDS)]
    code, out = _usage(_write(tmp_path / "l.jsonl", rows))
    assert code == 0
    base = [r for i, r in enumerate(RECORDS) if i not in (1, 2)]
    assert _strict(out) == _strict(_usage(_write(tmp_path / "base.jsonl", base))[1])


@pytest.mark.parametrize("shape", ["empty", "one", "reversed", "twice", "shuffled"])
def test_usage_and_report_at_the_edges(shape: str, tmp_path: Path) -> None:
    rows = {"empty": [], "one": RECORDS[:1], "reversed": RECORDS[::-1], "twice": RECORDS + RECORDS,
            "shuffled": RECORDS[1::2] + RECORDS[::2]}[shape]
    ledger = _write(tmp_path / "l.jsonl", rows)
    code, out = _usage(ledger)
    assert code == 0
    data = _strict(out)
    if shape in ("reversed", "twice", "shuffled"):
        assert data == _strict(_usage(_write(tmp_path / "base.jsonl", RECORDS))[1])
    html = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "--ledger", ledger, "--since", SINCE, "-o", str(html)])
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert "NaN" not in page and "Infinity" not in page
