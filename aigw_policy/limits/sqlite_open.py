"""Opening a SQLite database that many processes may create at the same moment.

A fleet of workers starting together all find a new file and all try to switch it to WAL and
create its tables. Each of those needs the write lock, and a short ``busy_timeout`` (or none:
changing the journal mode can answer "database is locked" at once) made some of them fail at
start. Here the setup waits up to :data:`SETUP_TIMEOUT` seconds, retrying with backoff: WAL
is set only when the file is not in WAL yet, and the tables are created in one ``BEGIN
IMMEDIATE`` transaction (``IF NOT EXISTS``), only when one of them is missing. Then the
connection's busy timeout becomes the caller's.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

__all__ = ["SETUP_TIMEOUT", "open_sqlite"]

SETUP_TIMEOUT = 30.0
"""Seconds the setup of a database (journal mode, tables) may wait for other processes."""

T = TypeVar("T")


def open_sqlite(path: str, *, schema: Sequence[str], names: Collection[str], synchronous: str,
                busy_timeout: float) -> sqlite3.Connection:
    """A connection (autocommit, usable from any thread) to ``path`` with ``schema`` created.

    ``names``: the tables and indexes ``schema`` creates (when all exist, no DDL runs).
    ``busy_timeout``: seconds later statements wait for a lock. Raises ``sqlite3.Error``.
    """
    db = sqlite3.connect(path, timeout=SETUP_TIMEOUT, isolation_level=None,
                         check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(SETUP_TIMEOUT * 1000)}")
        if path != ":memory:":
            _patiently(lambda: _wal(db))
        db.execute(f"PRAGMA synchronous = {synchronous}")
        have = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if not set(names) <= have:
            _patiently(lambda: _create(db, schema))
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    except BaseException:
        db.close()
        raise
    return db


def _wal(db: sqlite3.Connection) -> None:
    if db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":  # another connection held the file: try again
        raise sqlite3.OperationalError("database is locked")


def _create(db: sqlite3.Connection, schema: Sequence[str]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for stmt in schema:
            db.execute(stmt)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _patiently(step: Callable[[], T]) -> T:
    deadline = time.monotonic() + SETUP_TIMEOUT
    delay = 0.002
    while True:
        try:
            return step()
        except sqlite3.OperationalError as error:
            text = str(error).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
