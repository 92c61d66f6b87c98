"""A SQL ledger's rows that are no usage record (a hand-made table whose counts are text,
a NULL request id, a stream flag that is a word) are a one-line error naming the ledger,
the row and the column, exit 2, never a traceback; a SQLite file with tables but no ledger
table (another database named by mistake) is no usage ledger either. The JSONL form's rules
are test_ledger_odd_lines.py's."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.ledger import LedgerError
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.ledger.sinks import TABLE

runner = CliRunner()
TIME = "2026-11-26T12:00:00.000000Z"

# (id, the row's columns and values, the column the error names)
ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("count-is-text", {"request_id": "r1", "time": TIME, "input_tokens": "abc"}, "input_tokens"),
    ("count-is-real", {"request_id": "r1", "time": TIME, "output_tokens": 1e300}, "output_tokens"),
    ("no-request-id", {"request_id": None, "time": TIME}, "request_id"),
    ("no-time", {"request_id": "r1", "time": None}, "time"),
    ("cost-is-text", {"request_id": "r1", "time": TIME, "cost_usd": "notnum"}, "cost_usd"),
    ("model-is-a-number", {"request_id": "r1", "time": TIME, "request_model": 5}, "request_model"),
    # session 24: a time is compared and grouped as text, so it is the form the ledger writes
    # (UTC, fixed width); another form was read, and --since/--until and `--by day` misplaced it
    ("time-has-an-offset", {"request_id": "r1", "time": "2026-11-26T12:00:00.000000+05:00"}, "time"),
    ("time-without-fraction", {"request_id": "r1", "time": "2026-11-26T12:00:00Z"}, "time"),
    ("time-is-a-word", {"request_id": "r1", "time": "next tuesday"}, "time"),
    ("time-no-such-day", {"request_id": "r1", "time": "2026-02-30T12:00:00.000000Z"}, "time"),
    ("time-a-date-only", {"request_id": "r1", "time": "2026-11-26"}, "time"),
]
COMMANDS = [["usage"], ["usage", "--by", "key"], ["usage", "--shadow"], ["report", "-o", "{out}"]]


def _sqlite(tmp: Path, row: dict[str, Any]) -> str:
    path = tmp / "odd.db"
    db = sqlite3.connect(path)
    names = ", ".join(row)
    db.execute(f"CREATE TABLE {TABLE} ({names})")
    db.execute(f"INSERT INTO {TABLE} ({names}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
    db.commit()
    db.close()
    return f"sqlite:{path}"


def _postgres(url: str, row: dict[str, Any]) -> str:
    import psycopg

    table = url.rpartition("table=")[2]
    kinds = {str: "text", float: "double precision", int: "bigint", type(None): "text"}
    with psycopg.connect(url.partition("?")[0]) as db:
        db.execute(f"CREATE TABLE {table} ({', '.join(f'{k} {kinds[type(v)]}' for k, v in row.items())})")
        db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                   tuple(row.values()))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def odd_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    def make(row: dict[str, Any]) -> str:
        if request.param == "sqlite":
            return _sqlite(tmp_path, row)
        return _postgres(request.getfixturevalue("pg_url"), row)
    return make


@pytest.mark.parametrize(("row", "column"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_row_that_is_no_record_is_an_error_naming_it(odd_ledger: Any, row: dict[str, Any], column: str) -> None:
    url = odd_ledger(row)
    with pytest.raises(LedgerError, match=f"row 1.*`{column}`"):
        list(read_ledger(url))


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_the_commands_say_so_and_exit_2(odd_ledger: Any, command: list[str], tmp_path: Path) -> None:
    url = odd_ledger(ROWS[0][1])
    out = runner.invoke(app, [*(a.replace("{out}", str(tmp_path / "r.html")) for a in command), "--ledger", url])
    assert out.exit_code == 2, out.output
    assert "row 1" in out.output and "input_tokens" in out.output
    assert "Traceback" not in out.output and out.exception is None or isinstance(out.exception, SystemExit)


def test_a_sqlite_file_of_other_tables_is_no_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match=f"no table `{TABLE}`.*customers"):
        list(read_ledger(f"sqlite:{path}"))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert list(read_ledger(f"sqlite:{empty}")) == []  # nothing written yet: an empty ledger



def test_the_gateways_own_read_names_the_row_too(pg_url: str) -> None:
    """``serve``'s `GET /v1/aigw/usage` reads PostgreSQL through the sink: a table made by hand
    with every column as text is a LedgerError there (its 503 `ledger_unavailable`), not a
    500 with a traceback."""
    import psycopg

    from aigw_policy.ledger.record import COLUMNS
    from aigw_policy.ledger.sinks import open_sink

    table = pg_url.rpartition("table=")[2]
    row = {"request_id": "r1", "time": TIME, "stream": "f", "input_tokens": "abc"}
    with psycopg.connect(pg_url.partition("?")[0]) as db:
        columns = ", ".join(f'"{c}" text' for c in COLUMNS)
        db.execute(f"CREATE TABLE {table} ({columns})")
        db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                   tuple(row.values()))
    sink = open_sink(pg_url)
    try:
        with pytest.raises(LedgerError, match="row 1 \\(request `r1`\\): `stream` is str"):
            list(sink.read())  # type: ignore[attr-defined]
    finally:
        sink.close()
