"""The token counts are declared once (providers.usage.Usage); the ledger's record, its SQL
columns and the usage report follow that declaration."""

from __future__ import annotations

from dataclasses import fields

from aigw_policy.ledger import report, sinks
from aigw_policy.ledger.record import COLUMNS, UsageRecord
from aigw_policy.providers.usage import TOKEN_FIELDS, Usage


def test_the_token_counts_are_usages() -> None:
    assert TOKEN_FIELDS == ("input_tokens", "output_tokens", "cached_input_tokens",
                            "cache_creation_input_tokens", "cache_creation_1h_input_tokens", "reasoning_tokens",
                            "total_tokens")
    assert list(Usage.of(3, 4).to_dict()) == [*TOKEN_FIELDS, "source"]


def test_the_record_report_and_columns_follow_usage() -> None:
    record_counts = tuple(f.name for f in fields(UsageRecord) if f.name in TOKEN_FIELDS)
    assert record_counts == TOKEN_FIELDS and set(TOKEN_FIELDS) <= set(COLUMNS)
    assert report.METRICS[1:1 + len(TOKEN_FIELDS)] == TOKEN_FIELDS
    assert set(report._HEAD) == set(report.METRICS)
    assert sinks._INTS == TOKEN_FIELDS


def test_a_row_adds_every_count() -> None:
    row = report.Row(("t",))
    u = Usage.of(5, 7, cached_input_tokens=2, cache_creation_input_tokens=1, reasoning_tokens=3)
    rec = UsageRecord("r1", "2026-11-26T12:00:00Z", **u.counts())
    row.add(rec)
    row.add(rec)
    assert {m: row.metrics()[m] for m in TOKEN_FIELDS} == {k: 2 * v for k, v in u.counts().items()}
