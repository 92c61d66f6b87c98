"""Reading a ledger for the usage report, without ever writing to it.

The sinks open a ledger to write: they create its table (and SQLite's WAL files). A report
only reads: it connects read-only, and a ledger whose table does not exist yet holds no usage
(an empty report), so running ``aigw-policy usage`` against a production database changes
nothing in it. A table written before a column was added (``would_deny``, ``reason``, ...) is
read as it is: the columns it lacks read as their defaults, and nothing is altered.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..files import bounded_lines
from ..redact import redact
from .record import COLUMNS, UsageRecord, keep_final
from .sinks import MAX_RECORD_LINE, TABLE, LedgerError, local_path, record_of_row, select

__all__ = ["Skipped", "Window", "read_ledger"]

Skipped = Callable[[int, int, str], None]
"""Told, once a JSONL ledger has been read, of the lines that held no usage record and were
not counted: ``(how many, the first one's line number, why the first one is none)``."""


def read_ledger(url: str, since: str | None = None, until: str | None = None,
                limit: int | None = None, skipped: Skipped | None = None) -> Iterator[UsageRecord]:
    """The records with ``since <= time < until`` (either bound optional), in time order, at
    most ``limit``, read-only. ``skipped`` is called when a JSONL ledger had lines that are no
    record (a writer killed mid-line, a line edited by hand): a report can say that its totals
    leave them out (a SQL ledger's rows are records by construction)."""
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres(url, since, until, limit)
    local = local_path(url)
    if local is None:
        raise LedgerError(f"bad ledger url `{redact(url)}` (use `sqlite:PATH`, `jsonl:PATH` or `postgresql://...`)")
    scheme, path = local
    if scheme == "sqlite":
        return _sqlite(path, since, until, limit)
    return _jsonl(path, since, until, limit, skipped)


def _table(name: str) -> str:
    if not name or not name.replace("_", "").isalnum() or name[0].isdigit():
        raise LedgerError(f"bad ledger table name `{name}`")
    return name


def _sqlite(path: str, since: str | None, until: str | None, limit: int | None) -> Iterator[UsageRecord]:
    shown = f"sqlite:{path}"
    try:
        db = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open ledger `{shown}`: {exc}") from None
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        if TABLE not in tables:
            db.close()
            if tables:  # another database named by mistake; an empty one is a ledger not written yet
                raise LedgerError(f"`{shown}` is not a usage ledger: no table `{TABLE}` (it has "
                                  f"{', '.join(f'`{t}`' for t in tables[:5])})")
            return iter(())
        have = [c for c in COLUMNS if c in {row[1] for row in db.execute(f"PRAGMA table_info({TABLE})")}]
        cursor = db.execute(*select(TABLE, have, since, until, limit, "?"))
    except sqlite3.Error as exc:
        db.close()
        raise LedgerError(f"cannot read ledger `{shown}`: {exc}") from None
    return _stream(db, cursor, have, shown)


def _stream(db: sqlite3.Connection, cursor: sqlite3.Cursor, have: list[str], shown: str) -> Iterator[UsageRecord]:
    """The rows as records, fetched as they are consumed (memory: a page, not the window);
    WAL mode lets the gateway write meanwhile."""
    try:
        number = 0
        while rows := cursor.fetchmany(PAGE):
            for row in rows:
                number += 1
                yield record_of_row(have, row, shown, number, sqlite=True)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot read ledger `{shown}`: {exc}") from None
    finally:
        db.close()


def _postgres(url: str, since: str | None, until: str | None, limit: int | None) -> Iterator[UsageRecord]:
    try:
        import psycopg  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise LedgerError("the postgresql ledger needs psycopg 3 (`pip install psycopg[binary]`)") from None
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    table = _table(query.pop("table", TABLE))
    shown = redact(urlunsplit(parts._replace(query=urlencode(query), netloc=parts.netloc.rpartition("@")[2])))
    try:
        db = psycopg.connect(urlunsplit(parts._replace(query=urlencode(query))), connect_timeout=10)
    except psycopg.Error as exc:
        raise LedgerError(f"cannot read ledger `{shown}`: {str(exc).strip()[:200]}") from None
    try:
        db.read_only = True
        found = db.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if found is None or found[0] is None:
            db.close()
            return iter(())
        names = {row[0] for row in db.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped", (table,))}
        have = [c for c in COLUMNS if c in names]
        cursor = db.cursor(name="aigw_usage_read")  # on the server: rows come a page at a time
        cursor.itersize = PAGE
        cursor.execute(*select(table, have, since, until, limit, "%s"))
    except psycopg.Error as exc:
        db.close()
        raise LedgerError(f"cannot read ledger `{shown}`: {str(exc).strip()[:200]}") from None
    return _pg_stream(db, cursor, have, shown, psycopg.Error)


PAGE = 1000
"""Rows fetched at a time from a SQL ledger: a report holds a page, not the window."""


def _pg_stream(db: object, cursor: object, have: list[str], shown: str,
               error: type[Exception]) -> Iterator[UsageRecord]:
    try:
        for number, row in enumerate(cursor, 1):  # type: ignore[call-overload]
            yield record_of_row(have, row, shown, number)
    except error as exc:
        raise LedgerError(f"cannot read ledger `{shown}`: {str(exc).strip()[:200]}") from None
    finally:
        db.close()  # type: ignore[attr-defined]


def _jsonl(path: str, since: str | None, until: str | None, limit: int | None,
           skipped: Skipped | None = None) -> Iterator[UsageRecord]:
    """Lines that do not parse (a writer killed mid-line) are skipped; a request's first final
    record wins over its ``pending`` intent, as the sink's own reader does. A file with lines
    and not one record among them is no usage ledger (another file named by mistake): an error
    naming its first line, rather than an empty report."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise LedgerError(f"cannot open ledger `jsonl:{path}`: {exc.strerror}") from None
    found: dict[str, UsageRecord] = {}
    first_bad: tuple[int, str] | None = None
    records = bad = 0
    with fh:
        for number, (line, _) in enumerate(bounded_lines(fh, MAX_RECORD_LINE), 1):
            try:
                if line is None:
                    raise ValueError(f"longer than {MAX_RECORD_LINE:,} bytes")
                rec = UsageRecord.from_dict(json.loads(line.decode("utf-8", "replace")))
            except (ValueError, TypeError, RecursionError) as exc:
                if line is None or line.strip():
                    bad += 1
                    if first_bad is None:
                        first_bad = (number, str(exc)[:120])
                continue
            records += 1
            keep_final(found, rec)
    if records == 0 and first_bad is not None:
        raise LedgerError(f"`jsonl:{path}` is not a usage ledger: line {first_bad[0]} is no usage record "
                          f"({first_bad[1]})")
    if bad and skipped is not None and first_bad is not None:
        skipped(bad, *first_bad)
    kept = sorted((r for r in found.values() if (since is None or r.time >= since)
                   and (until is None or r.time < until)), key=lambda r: (r.time, r.request_id))
    yield from kept if limit is None else kept[:limit]


class Window:
    """At most ``limit`` records of a time-ordered read, cut between two times so that what is
    counted is exactly the records with ``since <= time < until``: ``until`` is None when the
    read ended by itself, else the time of the first record not counted. ``read`` counts the
    records taken from the source (at most ``limit + 1``: ask the source for that many)."""

    def __init__(self, records: Iterator[UsageRecord], limit: int) -> None:
        self._records = records
        self.limit = limit
        self.until: str | None = None
        self.read = 0

    def __iter__(self) -> Iterator[UsageRecord]:
        held: list[UsageRecord] = []  # the records of the latest time: counted once a later time comes
        for r in self._records:
            self.read += 1
            if held and r.time != held[0].time:
                yield from held
                held = []
            if self.read > self.limit:
                self.until = r.time  # the held records share its time: not counted
                close = getattr(self._records, "close", None)
                if close is not None:
                    close()  # a database read ends here, its connection closed
                return
            held.append(r)
        yield from held
