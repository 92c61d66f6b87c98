"""Ledger sinks: JSONL, SQLite (the default) and PostgreSQL, chosen by URL.

Every sink's ``write_batch`` is durable when it returns (fsync / committed transaction) and
idempotent by ``request_id``: writing a record twice (a retry after a crash between commit and
acknowledgement) keeps one copy. One exception: a ``pending`` record (the intent written
before a request is forwarded, see ``Ledger.intent``) is replaced by the request's final
record; a final record is never replaced. These adapters are the only ledger code that does I/O.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..files import bounded_lines
from ..limits.sqlite_open import open_sqlite
from ..providers.usage import TOKEN_FIELDS
from ..redact import redact
from .errors import LedgerError
from .record import COLUMNS, PENDING, UsageRecord, keep_final, wrong_field

MAX_RECORD_LINE = 1024 * 1024
"""Bytes past which a JSONL ledger line is no record (records are a few hundred bytes): it is
skipped as it is read, never held whole."""

_QCOLS = ", ".join(f'"{c}"' for c in COLUMNS)  # quoted: `user` is reserved in PostgreSQL

DEFAULT_LEDGER = "sqlite:aigw-usage.db"
TABLE = "aigw_usage"


class Sink(Protocol):
    url: str

    def write_batch(self, records: Sequence[UsageRecord]) -> None: ...

    def read(self, since: str | None = None) -> Iterator[UsageRecord]: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# JSONL


class JsonlSink:
    """Append-only JSON lines; ``flock`` serializes writers across processes; fsync per batch.

    A writer killed mid-line leaves a torn last line: the next writer starts on a fresh line
    and readers skip lines that do not parse. Reads keep the first final record per request
    id, else its pending intent.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"jsonl:{self.path}"
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot open ledger `{self.url}`: {exc.strerror}") from None

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        import fcntl  # noqa: PLC0415 - POSIX only

        data = "".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n" for r in records).encode()
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(self._fd).st_size
                if size:
                    with open(self.path, "rb") as fh:
                        fh.seek(size - 1)
                        if fh.read(1) != b"\n":
                            data = b"\n" + data
                view = memoryview(data)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
                os.fsync(self._fd)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self, since: str | None = None, until: str | None = None,
             limit: int | None = None) -> Iterator[UsageRecord]:
        """The records with ``since <= time < until``, time order, at most ``limit``. The file
        is read whole (a request's final record may follow its intent anywhere): a ledger
        too big for that belongs in SQLite or PostgreSQL, whose reads use the time index."""
        found: dict[str, UsageRecord] = {}
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        with fh:
            for line, _ in bounded_lines(fh, MAX_RECORD_LINE):
                if line is None:
                    continue  # longer than any record
                try:
                    rec = UsageRecord.from_dict(json.loads(line.decode("utf-8", "replace")))
                except (ValueError, TypeError, RecursionError):
                    continue  # a torn line from a killed writer
                if (since is not None and rec.time < since) or (until is not None and rec.time >= until):
                    continue
                keep_final(found, rec)  # the first final record, else the intent
        ordered = sorted(found.values(), key=lambda r: (r.time, r.request_id))
        yield from ordered if limit is None else ordered[:limit]

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


# ---------------------------------------------------------------------------------------------
# SQL

_TYPES = {
    "request_id": "TEXT PRIMARY KEY",
    "stream": "BOOLEAN NOT NULL",
    "cost_usd": "DOUBLE PRECISION",
    "latency_ms": "DOUBLE PRECISION",
    "status_code": "INTEGER",
    "max_output_tokens": "BIGINT",
    "attempts": "INTEGER",
}
_ADDED = ("attempts", "route_key_id", "would_deny", "reason", "cache_creation_1h_input_tokens")
"""Columns added after the first release: a table made before gets them (:func:`_type`)."""
_INTS = TOKEN_FIELDS


def _type(column: str) -> str:
    """A column's SQL type, the same in a new table and in an older one that gets it. An added
    token count is 0 by default: the rows written before it read as their records did, and a
    writer that does not know it (an older gateway beside a newer one) writes 0, never null."""
    if column in _TYPES:
        return _TYPES[column]
    if column in _INTS:
        return "BIGINT NOT NULL DEFAULT 0" if column in _ADDED else "BIGINT NOT NULL"
    return "TEXT"


def _ddl(table: str) -> list[str]:
    cols = ",\n  ".join(f'"{c}" ' + _type(c) for c in COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)",
        f"CREATE INDEX IF NOT EXISTS {table}_time ON {table} (time)",
    ]


def _missing(table_columns: set[str]) -> list[str]:
    """``ALTER TABLE`` clauses for the added columns an older table lacks."""
    return [f'ADD COLUMN "{c}" ' + _type(c) for c in _ADDED if c not in table_columns]


def _upsert(table: str) -> str:
    """The conflict clause shared by SQLite and PostgreSQL: a record replaces a ``pending``
    one (the final record of a forwarded request), and nothing else."""
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in COLUMNS if c != "request_id")
    return f"ON CONFLICT (request_id) DO UPDATE SET {sets} WHERE {table}.verdict = '{PENDING}'"


def _check_table(name: str) -> str:
    if not name.replace("_", "").isalnum() or name[0].isdigit():
        raise LedgerError(f"bad ledger table name `{name}`")
    return name


def select(table: str, columns: Sequence[str], since: str | None, until: str | None, limit: int | None,
           mark: str) -> tuple[str, tuple[str | int, ...]]:
    """The one read of a SQL ledger: ``since <= time < until`` in time order (the ``time``
    index serves both the range and the order), at most ``limit`` rows."""
    parts, args = [], []
    if since is not None:
        parts.append(f"time >= {mark}")
        args.append(since)
    if until is not None:
        parts.append(f"time < {mark}")
        args.append(until)
    where = f" WHERE {' AND '.join(parts)}" if parts else ""
    quoted = ", ".join(f'"{c}"' for c in columns)  # quoted: `user` is reserved in PostgreSQL
    sql = f"SELECT {quoted} FROM {table}{where} ORDER BY time, request_id"
    if limit is not None:
        sql += f" LIMIT {mark}"
        args.append(limit)  # type: ignore[arg-type]
    return sql, tuple(args)


class SqliteSink:
    """SQLite in WAL mode with ``synchronous=FULL``; many processes may write one file."""

    def __init__(self, path: str | Path, *, table: str = TABLE) -> None:
        self.path = str(path)
        self.table = _check_table(table)
        self.url = f"sqlite:{self.path}"
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # many workers may create the file at once: open_sqlite waits and retries
            self._db = open_sqlite(self.path, schema=_ddl(self.table),
                                   names=(self.table, f"{self.table}_time"), synchronous="FULL",
                                   busy_timeout=60.0)
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({self.table})")}
            for clause in _missing(have):
                try:
                    self._db.execute(f"ALTER TABLE {self.table} {clause}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger `{self.url}`: {exc}") from None
        cols = _QCOLS
        marks = ", ".join("?" for _ in COLUMNS)
        self._insert = f"INSERT INTO {self.table} ({cols}) VALUES ({marks}) {_upsert(self.table)}"

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(self._insert, [r.as_row() for r in records])
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot write ledger `{self.url}`: {exc}") from None

    def read(self, since: str | None = None, until: str | None = None,
             limit: int | None = None) -> Iterator[UsageRecord]:
        sql, args = select(self.table, COLUMNS, since, until, limit, "?")
        with self._lock:
            try:
                rows = self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read ledger `{self.url}`: {exc}") from None
        for number, row in enumerate(rows, 1):
            yield record_of_row(COLUMNS, row, self.url, number, sqlite=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresSink:
    """PostgreSQL through psycopg 3; ``INSERT ... ON CONFLICT (request_id)`` replaces only a
    pending record.

    The URL may carry ``?table=NAME`` (removed before connecting).
    """

    def __init__(self, url: str, *, table: str | None = None) -> None:
        try:
            import psycopg  # noqa: PLC0415 - optional dependency
        except ImportError:
            raise LedgerError("the postgresql ledger needs psycopg 3 (`pip install psycopg[binary]`)") from None
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        table = table or query.pop("table", TABLE)
        self.table = _check_table(table)
        # what errors name: without the userinfo, and a `password=` (libpq takes one in the query) as ***
        self.url = redact(urlunsplit(parts._replace(query=urlencode(query), netloc=parts.netloc.rpartition("@")[2])))
        self._conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        self._psycopg = psycopg
        self._lock = threading.Lock()
        try:
            self._db = self._connect()
            with self._db.transaction():
                # concurrent CREATE TABLE IF NOT EXISTS can race in PostgreSQL: serialize it
                self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
                for stmt in _ddl(self.table):
                    self._db.execute(stmt)
                for c in _ADDED:  # a table made before these columns existed
                    self._db.execute(f'ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS "{c}" '
                                     + _type(c))
        except psycopg.Error as exc:
            raise LedgerError(f"cannot open ledger `{self.url}`: {str(exc).strip()[:200]}") from None
        cols = _QCOLS
        marks = ", ".join("%s" for _ in COLUMNS)
        self._insert = f"INSERT INTO {self.table} ({cols}) VALUES ({marks}) {_upsert(self.table)}"

    def _connect(self) -> Any:
        return self._psycopg.connect(self._conninfo, connect_timeout=10)

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` in one transaction. A connection that broke (the server restarted,
        a proxy or the network cut it) is opened again, once a batch: it never came back
        before, so every later write failed until a restart of the gateway. The batch then goes
        again on the new connection: a row that landed before the break is not doubled (a final
        record replaces only a pending one)."""
        if not records:
            return
        rows = [r.as_row() for r in records]
        with self._lock:
            try:
                if not self._db.closed:
                    self._insert_rows(rows)
                    return
            except self._psycopg.Error as exc:
                if not self._db.closed:  # the server refused the rows: the connection is fine
                    raise LedgerError(f"cannot write ledger `{self.url}`: {str(exc).strip()[:200]}") from None
            self._db.close()
            try:
                self._db = self._connect()
                self._insert_rows(rows)
            except self._psycopg.Error as exc:
                raise LedgerError(f"cannot write ledger `{self.url}`: {str(exc).strip()[:200]}") from None

    def _insert_rows(self, rows: list[Any]) -> None:
        with self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(self._insert, rows)

    def read(self, since: str | None = None, until: str | None = None,
             limit: int | None = None) -> Iterator[UsageRecord]:
        """A connection of its own, read-only, with a server-side cursor: the rows come a page
        at a time as they are consumed, and writes never wait for a read."""
        sql, args = select(self.table, COLUMNS, since, until, limit, "%s")
        try:
            with self._psycopg.connect(self._conninfo, connect_timeout=10) as db:
                db.read_only = True
                with db.transaction(), db.cursor(name="aigw_usage_read") as cur:
                    cur.itersize = 1000
                    cur.execute(sql, args)
                    for number, row in enumerate(cur, 1):
                        yield record_of_row(COLUMNS, row, self.url, number)
        except self._psycopg.Error as exc:
            raise LedgerError(f"cannot read ledger `{self.url}`: {str(exc).strip()[:200]}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()


READABLE = (JsonlSink, SqliteSink, PostgresSink)
"""The sinks a gateway can read its usage back from, a window at a time (``read(since, until,
limit)``); NATS is a stream to consume (``ledger consume``), not a ledger to query."""


def local_path(url: str) -> tuple[str, str] | None:
    """``(scheme, path)`` of a ``sqlite:`` / ``jsonl:`` URL (``sqlite:///abs`` too), else None."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("sqlite", "jsonl") or not rest:
        return None
    if rest.startswith("//"):
        rest = rest[2:]
    return scheme, rest


def open_sink(url: str = DEFAULT_LEDGER) -> Sink:
    """``jsonl:PATH``, ``sqlite:PATH`` (also ``sqlite:///PATH``), ``postgresql://...`` or
    ``nats://HOST:PORT/SUBJECT`` (usage events on JetStream, ``nats_sink.py``)."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresSink(url)
    if url.startswith(("nats://", "tls://")):
        from .nats_sink import NatsSink  # noqa: PLC0415 - optional dependency

        return NatsSink(url)
    local = local_path(url)
    if local is None:
        raise LedgerError(f"bad ledger url `{redact(url)}` (use `sqlite:PATH`, `jsonl:PATH`, `postgresql://...` or `nats://HOST:PORT/SUBJECT`)")
    scheme, path = local
    return SqliteSink(path) if scheme == "sqlite" else JsonlSink(path)


def record_of_row(columns: Sequence[str], row: Sequence[object], shown: str, number: int, *,
                  sqlite: bool = False) -> UsageRecord:
    """Row ``number`` (in the read's order) as a record; a value of the wrong type (a
    hand-made table) is an error naming the ledger, the row and the column."""
    d = dict(zip(columns, row, strict=True))
    if sqlite and d.get("stream") in (0, 1):  # SQLite keeps a bool as 0 or 1
        d["stream"] = bool(d["stream"])
    for name, value in d.items():
        wrong = wrong_field(name, value)
        if wrong is not None:
            rid = d.get("request_id")
            of = f" (request `{rid[:64]}`)" if isinstance(rid, str) and rid else ""
            raise LedgerError(f"`{shown}` is not a usage ledger: row {number}{of}: {wrong}")
    return UsageRecord(**d)  # type: ignore[arg-type]
