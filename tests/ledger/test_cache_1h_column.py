"""The ledger keeps Anthropic's 1-hour cache writes (``cache_creation_1h_input_tokens``): every
sink and wire format carries them, a table made before the column gets it (its rows read 0),
an older writer that does not name it writes 0, and the usage report sums and shows them."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aigw_policy.ledger import make_record, open_sink
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.ledger.record import UsageRecord
from aigw_policy.ledger.report import parse_by, render_csv, render_table, summarize
from aigw_policy.ledger.sinks import _ddl
from aigw_policy.ledger.usage_codec import FORMATS, decode, encode
from aigw_policy.providers import Usage

NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
USAGE = Usage.of(14_050, 120, cached_input_tokens=10_000, cache_creation_input_tokens=4000,
                 cache_creation_1h_input_tokens=2500, model="claude-sonnet-4-5")
COLUMN = "cache_creation_1h_input_tokens"
OLD_ROW = ("INSERT INTO {t} (request_id, time, stream, input_tokens, output_tokens, cached_input_tokens, "
           "cache_creation_input_tokens, reasoning_tokens, total_tokens, usage_source, cost_source, verdict, limits) "
           "VALUES ('{rid}', '2026-11-26T11:00:00.000000Z', {false}, 5000, 10, 0, 4000, 0, 5010, 'provider', "
           "'genai-prices', 'allow', '[]')")
"""A row as a gateway from before the column writes it: the column unnamed."""


def _record(rid: str = "new-1") -> UsageRecord:
    return make_record(rid, time=NOW, usage=USAGE, identity={"team": "research"})


def test_the_record_and_every_wire_format_carry_the_one_hour_writes() -> None:
    rec = _record()
    assert rec.cache_creation_1h_input_tokens == 2500
    assert rec.to_dict()["aigw.usage.cache_creation_1h.input_tokens"] == 2500
    for fmt in FORMATS:
        assert decode(encode(rec, fmt), fmt) == rec


def test_a_jsonl_line_from_before_reads_zero(tmp_path: Path) -> None:
    line = {k: v for k, v in _record("old-1").to_dict().items() if k != "aigw.usage.cache_creation_1h.input_tokens"}
    (tmp_path / "u.jsonl").write_text(json.dumps(line) + "\n")
    (old,) = read_ledger(f"jsonl:{tmp_path / 'u.jsonl'}")
    assert (old.cache_creation_input_tokens, old.cache_creation_1h_input_tokens) == (4000, 0)


def _old_sqlite(path: Path) -> None:
    """A ledger table as made before the column, with one record."""
    db = sqlite3.connect(path)
    for stmt in _ddl("aigw_usage"):
        db.execute("\n".join(line for line in stmt.split("\n") if f'"{COLUMN}"' not in line))
    db.execute(OLD_ROW.format(t="aigw_usage", rid="old-1", false=0))
    db.commit()
    db.close()


def _sqlite_columns(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {row[1] for row in db.execute("PRAGMA table_info(aigw_usage)")}
    finally:
        db.close()


def test_an_older_sqlite_ledger_gets_the_column_and_its_rows_read_zero(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_sqlite(path)
    assert COLUMN not in _sqlite_columns(path)
    (old,) = read_ledger(f"sqlite:{path}")  # read-only: the record's 0, the table unchanged
    assert (old.request_id, old.cache_creation_input_tokens, old.cache_creation_1h_input_tokens) == ("old-1", 4000, 0)
    assert COLUMN not in _sqlite_columns(path)
    sink = open_sink(f"sqlite:{path}")  # a writer migrates
    try:
        sink.write_batch([_record()])
    finally:
        sink.close()
    assert COLUMN in _sqlite_columns(path)
    db = sqlite3.connect(path)
    db.execute(OLD_ROW.format(t="aigw_usage", rid="old-2", false=0))  # an older gateway, after the migration
    db.commit()
    db.close()
    got = {r.request_id: r.cache_creation_1h_input_tokens for r in read_ledger(f"sqlite:{path}")}
    assert got == {"old-1": 0, "old-2": 0, "new-1": 2500}


@pytest.mark.usefixtures("pg_base")
def test_an_older_postgresql_ledger_gets_the_column_and_its_rows_read_zero(pg_url: str) -> None:
    import psycopg

    base, table = pg_url.split("?table=")
    with psycopg.connect(base) as db:
        for stmt in _ddl(table):
            db.execute("\n".join(line for line in stmt.split("\n") if f'"{COLUMN}"' not in line))
        db.execute(OLD_ROW.format(t=table, rid="old-1", false="false"))
    (old,) = read_ledger(pg_url)
    assert (old.request_id, old.cache_creation_1h_input_tokens) == ("old-1", 0)
    sink = open_sink(pg_url)
    try:
        sink.write_batch([_record()])
    finally:
        sink.close()
    with psycopg.connect(base) as db:
        db.execute(OLD_ROW.format(t=table, rid="old-2", false="false"))
    got = {r.request_id: r.cache_creation_1h_input_tokens for r in read_ledger(pg_url)}
    assert got == {"old-1": 0, "old-2": 0, "new-1": 2500}


def test_the_usage_report_sums_and_shows_them() -> None:
    recs = [_record("a"), _record("b"), make_record("c", time=NOW, usage=Usage.of(10, 5))]
    report = summarize(recs, parse_by("team"))
    assert report.to_dict()["total"]["cache_creation_1h_input_tokens"] == 5000
    table = render_table(report)
    head, research = table.splitlines()[0].split(), table.splitlines()[2].split()
    assert head[head.index("cache-write") + 1] == "cache-write-1h"
    assert (research[0], research[head.index("cache-write-1h")]) == ("research", "5,000")
    csv_head = render_csv(report).splitlines()[0].split(",")
    assert csv_head[csv_head.index("cache_creation_input_tokens") + 1] == COLUMN
