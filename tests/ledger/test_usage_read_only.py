"""``aigw-policy usage`` only reads: a missing table is "no usage yet", never created; and
its filters (--team, --key, --verdict, --until, --by month)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import typer
from typer.testing import CliRunner

from aigw_policy.ledger import Ledger, make_record, parse_since
from aigw_policy.cli.usage import usage
from aigw_policy.providers import Usage

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(usage)
    return app


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(_app(), list(args))


def _records():
    def rec(rid, month, day, team, key, verdict="allow"):
        r = make_record(rid, time=datetime(2026, month, day, 9, tzinfo=timezone.utc),
                        usage=Usage.of(10, 5, source="provider", model="gpt-4o"),
                        identity={"key": key, "team": team}, verdict=verdict)
        return replace(r, cost_usd=0.5, cost_source="override")

    return [rec("1", 10, 3, "research", "k1"), rec("2", 10, 20, "research", "k2"),
            rec("3", 11, 2, "sales", "k3"), rec("4", 11, 5, "sales", "k3", "deny"),
            rec("5", 11, 6, "research", "k1", "deny")]


def _pg_tables(url: str, table: str) -> bool:
    import psycopg

    with psycopg.connect(url.partition("?")[0]) as db:
        return db.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None


def test_postgres_without_a_table_is_no_usage_and_creates_nothing(pg_url: str) -> None:
    table = pg_url.rpartition("table=")[2]
    out = run("--ledger", pg_url, "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["requests"] == 0
    assert not _pg_tables(pg_url, table)


def test_postgres_reads_what_was_written(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        ledger.record_many(_records())
    out = run("--ledger", pg_url, "--by", "team", "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["requests"] == 5


def test_sqlite_file_is_not_written(tmp_path: Path) -> None:
    import sqlite3

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a database without the ledger table
    before = empty.read_bytes()
    out = run("--ledger", f"sqlite:{empty}", "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["requests"] == 0
    assert empty.read_bytes() == before
    full = tmp_path / "full.db"
    with Ledger(f"sqlite:{full}") as ledger:
        ledger.record_many(_records())
    before = full.read_bytes()
    out = run("--ledger", f"sqlite:{full}", "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["requests"] == 5
    # a WAL reader may leave SQLite's empty -wal/-shm beside it; the ledger itself is unchanged
    assert full.read_bytes() == before
    wal = tmp_path / "full.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def _ledger(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'u.db'}"
    with Ledger(url) as ledger:
        ledger.record_many(_records())
    return url


def test_filters_and_month(tmp_path: Path) -> None:
    url = _ledger(tmp_path)

    def rows(*args: str) -> dict:
        out = run("--ledger", url, "--format", "json", *args)
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    assert [(r["month"], r["requests"]) for r in rows("--by", "month")["rows"]] == [("2026-11", 3), ("2026-10", 2)]
    assert rows("--team", "sales")["total"]["requests"] == 2
    assert rows("--team", "sales", "--team", "research")["total"]["requests"] == 5
    assert rows("--key", "k1")["total"]["requests"] == 2
    assert rows("--verdict", "deny")["total"]["requests"] == 2
    data = rows("--since", "2026-10-10", "--until", "2026-11-05")
    assert data["total"]["requests"] == 2 and data["until"] == "2026-11-05T00:00:00.000000Z"
    table = run("--ledger", url, "--until", "2026-11-01", "--team", "research")
    assert "(2 requests, all time until 2026-11-01T00:00:00.000000Z; team research)" in table.output


def test_bad_filters_exit_2(tmp_path: Path) -> None:
    url = _ledger(tmp_path)
    assert run("--ledger", url, "--until", "soon").exit_code == 2
    assert run("--ledger", url, "--verdict", "maybe").exit_code == 2
    assert run("--ledger", url, "--since", "2026-11-05", "--until", "2026-11-01").exit_code == 2


def test_until_is_relative_like_since() -> None:
    now = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
    assert parse_since("1d", now) == "2026-11-25T12:00:00.000000Z"


def test_jsonl_reports_final_records_not_their_intents(tmp_path: Path) -> None:
    """A forwarded request leaves its ``pending`` intent, then its final record: the report
    counts the final one (as the sink's own reader does), the intent only when it is alone."""
    from aigw_policy.ledger.record import as_pending

    url = f"jsonl:{tmp_path / 'u.jsonl'}"
    finals = _records()[:2]
    with Ledger(url) as ledger:
        for r in finals:
            ledger.intent(r)
        ledger.record_many(finals)
        ledger.intent(_records()[2])  # a request whose process was killed: its intent only
    out = run("--ledger", url, "--format", "json", "--by", "verdict")
    assert out.exit_code == 0, out.output
    rows = {row["verdict"]: row for row in json.loads(out.output)["rows"]}
    assert rows["allow"]["requests"] == 2 and rows["pending"]["requests"] == 1
    assert as_pending(finals[0]).verdict == "pending"
