"""The SQLite store: one host, many processes, survives restarts.

WAL journal (readers never block the writer), and every step in one ``BEGIN IMMEDIATE``
transaction, so steps from all processes are serialised by SQLite's write lock: the same
all-or-nothing, no-overshoot guarantee as the memory store's lock. ``timeout`` bounds the wait
for that lock; past it the call raises :class:`StoreUnavailable`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import accounting
from .algorithms import Locator
from .base import (DEFAULT_POOL_TIMEOUT, DEFAULT_RECORD_TTL, DEFAULT_RESERVATION_TTL,
                   DEFAULT_TIMEOUT, Overlay, TxnStore)
from .model import StoreUnavailable
from .sqlite_open import open_sqlite

__all__ = ["CAP_EVERY", "PURGE_BATCH", "SQLiteStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS aigw_limit_cells ("
    " id TEXT PRIMARY KEY, value REAL NOT NULL, live_until REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS aigw_limit_records ("
    " id TEXT PRIMARY KEY, data TEXT NOT NULL, keep_until REAL NOT NULL, pending_until REAL)"
    " WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS aigw_limit_records_pending"
    " ON aigw_limit_records (pending_until) WHERE pending_until IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS aigw_limit_records_settled"
    " ON aigw_limit_records (keep_until) WHERE pending_until IS NULL",
    "CREATE INDEX IF NOT EXISTS aigw_limit_cells_life ON aigw_limit_cells (live_until)",
)
_NAMES = ("aigw_limit_cells", "aigw_limit_records", "aigw_limit_records_pending",
          "aigw_limit_records_settled", "aigw_limit_cells_life")
PURGE_BATCH = 8
"""Expired records and dead cells each step deletes, at most: bounded work per step, and
more than a step adds, so they never pile up."""
CAP_EVERY = 64
"""Steps between two counts of the records against ``max_records``."""
DEFAULT_MAX_RECORDS = 1_000_000


class _Cells:
    __slots__ = ("db", "locate")

    def __init__(self, db: sqlite3.Connection, locate: Locator) -> None:
        self.db = db
        self.locate = locate

    def get(self, cid: str) -> float | None:
        row = self.db.execute("SELECT value FROM aigw_limit_cells WHERE id = ?", (cid,)).fetchone()
        return row[0] if row else None

    def get_record(self, rid: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM aigw_limit_records WHERE id = ?",
                              (rid,)).fetchone()
        return accounting.record_from_json(json.loads(row[0])) if row else None

    def room(self, now: float) -> None:  # on disk: no bound of cells (docs/limits.md)
        return None

    def due(self, now: float) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM aigw_limit_records WHERE pending_until IS NOT NULL"
            " AND pending_until <= ? ORDER BY pending_until LIMIT 1000", (now,))]


class SQLiteStore(TxnStore):
    """Limits in a SQLite file shared by every process on the host.

    ``path``: the database file (created with its tables if missing; many processes may
    create it at once). ``timeout``: seconds a call waits for the database's write lock
    (held by another process). ``pool_timeout``: seconds a call waits for its turn in this
    process (calls of one process take turns: a burst queues, it does not fail).
    ``reservation_ttl`` / ``record_ttl``: as :class:`MemoryStore`. ``max_records``: request
    records kept at most; past it the oldest settled ones go first (a pending reservation is
    never dropped). ``outbox``: the file keeping reconciles and releases the store did not
    acknowledge until a retry lands (default: ``PATH-outbox`` beside the database).

    Growth: a request that reserved nothing (denied, or no charge) keeps no record; each step
    deletes up to :data:`PURGE_BATCH` records past ``record_ttl`` and cells past their window.
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 reservation_ttl: float = DEFAULT_RESERVATION_TTL,
                 record_ttl: float = DEFAULT_RECORD_TTL, timeout: float = DEFAULT_TIMEOUT,
                 max_records: int = DEFAULT_MAX_RECORDS,
                 outbox: str | os.PathLike[str] | None = None,
                 pool_timeout: float = DEFAULT_POOL_TIMEOUT) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self.path = str(Path(path))
        self.reservation_ttl = float(reservation_ttl)
        self.record_ttl = float(record_ttl)
        self.timeout = float(timeout)
        self.pool_timeout = max(float(pool_timeout), self.timeout)
        self.max_records = int(max_records)
        self._writes = 0
        self._locate = Locator()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        try:
            self._connect()
        except sqlite3.Error as e:
            raise StoreUnavailable(f"sqlite store {self.path}: {e}") from e
        if outbox is None and self.path != ":memory:":
            outbox = self.path + "-outbox"
        self._outbox_path = outbox
        self._start_retry()

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        # a connection is never used across fork: the child opens its own
        db = open_sqlite(self.path, schema=_SCHEMA, names=_NAMES, synchronous="NORMAL",
                         busy_timeout=self.timeout)
        self._db, self._pid = db, os.getpid()
        return db

    @contextmanager
    def _txn(self, now: float) -> Iterator[accounting.Cells]:
        if not self._lock.acquire(timeout=self.pool_timeout):
            raise StoreUnavailable(f"sqlite store {self.path}: busy for {self.pool_timeout}s")
        try:
            try:
                db = self._connect()
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StoreUnavailable(f"sqlite store {self.path}: {e}") from e
            try:
                overlay = Overlay(_Cells(db, self._locate))
                yield overlay
                self._write(db, overlay, now)
                db.execute("COMMIT")
            except BaseException as e:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(e, sqlite3.Error):
                    raise StoreUnavailable(f"sqlite store {self.path}: {e}") from e
                raise
        finally:
            self._lock.release()

    def _write(self, db: sqlite3.Connection, overlay: Overlay, now: float) -> None:
        if overlay.cells:
            db.executemany(
                "INSERT INTO aigw_limit_cells (id, value, live_until) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET value = excluded.value,"
                " live_until = excluded.live_until",
                [(k, v, lu) for k, (v, lu) in overlay.cells.items()])
        if overlay.records:
            db.executemany(
                "INSERT INTO aigw_limit_records (id, data, keep_until, pending_until)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data,"
                " keep_until = excluded.keep_until, pending_until = excluded.pending_until",
                [(k, json.dumps(accounting.record_to_json(rec)), keep, pending)
                 for k, (rec, keep, pending) in overlay.records.items()])
        db.execute("DELETE FROM aigw_limit_cells WHERE id IN (SELECT id FROM aigw_limit_cells"
                   " WHERE live_until <= ? ORDER BY live_until LIMIT ?)", (now, PURGE_BATCH))
        db.execute("DELETE FROM aigw_limit_records WHERE id IN (SELECT id FROM aigw_limit_records"
                   " WHERE pending_until IS NULL AND keep_until <= ? ORDER BY keep_until LIMIT ?)",
                   (now, PURGE_BATCH))
        self._writes += 1
        if self._writes % CAP_EVERY == 0:
            (count,) = db.execute("SELECT count(*) FROM aigw_limit_records").fetchone()
            if count > self.max_records:
                db.execute("DELETE FROM aigw_limit_records WHERE id IN (SELECT id FROM"
                           " aigw_limit_records WHERE pending_until IS NULL ORDER BY keep_until"
                           " LIMIT ?)", (count - self.max_records,))

    def close(self) -> None:
        self._stop_retry()
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
