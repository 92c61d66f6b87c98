"""Settlements the store did not acknowledge, kept and retried until it does.

A served request's usage is settled by a ``reconcile`` (an upstream error's by a
``release``). When the store cannot answer at that moment (a stall, a restart, a locked
file) the usage must not be lost: left alone, the reservation would stay pending and be
*released* when it expires, so the served tokens would never be charged. Instead the store
writes the settlement to an :class:`Outbox` before reporting the failure, and a background
thread retries it with exponential backoff until the store acknowledges it. Settlements are
idempotent by request id, so a retry that races another, or one whose first attempt did
reach the store, charges nothing twice; a reconcile that arrives after the reservation
expired still charges the served usage, in the window of the reservation.

The outbox is a SQLite table: in memory by default (it survives a store outage, not the end
of the process), or a file (``outbox=PATH``: it survives a crash too, and whichever process
opens that file next retries what is left).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Outcome, StoreUnavailable
from .sqlite_open import open_sqlite

__all__ = ["FIRST_DELAY", "MAX_DELAY", "Outbox", "Settlement", "SettleRetry"]

FIRST_DELAY = 0.05
"""Seconds before the first retry; each failure doubles it, up to :data:`MAX_DELAY`."""
MAX_DELAY = 30.0
_FURTHEST = MAX_DELAY + 1.0
"""No next try is set further ahead than this (seconds), unless the wall clock stepped back."""

_log = logging.getLogger("aigw_policy.limits")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS aigw_settle_outbox ("
    " request_id TEXT PRIMARY KEY, op TEXT NOT NULL, actual TEXT NOT NULL, at REAL NOT NULL,"
    " attempts INTEGER NOT NULL, next_try REAL NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Settlement:
    """One queued settlement: ``op`` is ``reconcile`` or ``release``; ``at`` the time of the
    first attempt (the retry settles as of then)."""

    op: str
    request_id: str
    actual: dict[str, float]
    at: float
    attempts: int


class Outbox:
    """The queue of unacknowledged settlements, one per request id (the latest wins)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = ":memory:" if path is None else str(Path(path))
        self._lock = threading.Lock()
        self._db = open_sqlite(self.path, schema=_SCHEMA, names=("aigw_settle_outbox",),
                               synchronous="FULL", busy_timeout=5.0)

    def put(self, op: str, request_id: str, actual: Mapping[str, float], at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO aigw_settle_outbox VALUES (?, ?, ?, ?, 0, ?)"
                " ON CONFLICT(request_id) DO UPDATE SET op = excluded.op,"
                " actual = excluded.actual, at = excluded.at",
                (request_id, op, json.dumps(dict(actual)), at, time.time() + FIRST_DELAY))

    def due(self, everything: bool = False, limit: int = 256) -> list[Settlement]:
        """Settlements whose next try has come (``everything``: all of them)."""
        sql = "SELECT op, request_id, actual, at, attempts FROM aigw_settle_outbox"
        args: tuple[Any, ...] = ()
        if not everything:
            # a next try further ahead than any back-off puts it was set before the wall clock
            # stepped back: it is due, not stalled for the size of the step
            now = time.time()
            sql += " WHERE next_try <= ? OR next_try > ?"
            args = (now, now + _FURTHEST)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY next_try LIMIT ?", (*args, limit)).fetchall()
        return [Settlement(op, rid, json.loads(actual), at, n) for op, rid, actual, at, n in rows]

    def ack(self, request_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM aigw_settle_outbox WHERE request_id = ?", (request_id,))

    def later(self, item: Settlement) -> None:
        """One more failed try: back off (doubling, capped)."""
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (item.attempts + 1))
        with self._lock:
            self._db.execute("UPDATE aigw_settle_outbox SET attempts = attempts + 1,"
                             " next_try = ? WHERE request_id = ?",
                             (time.time() + delay, item.request_id))

    def wait(self) -> float | None:
        """Seconds until the next try is due (0 when one is), None when the outbox is empty."""
        with self._lock:
            (at,) = self._db.execute("SELECT min(next_try) FROM aigw_settle_outbox").fetchone()
        if at is None:
            return None
        left = at - time.time()
        return 0.0 if left > _FURTHEST else max(0.0, left)  # further: the clock stepped back

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM aigw_settle_outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SettleRetry:
    """What a store mixes in: public ``reconcile`` / ``release`` (and async twins) that queue
    an unacknowledged settlement before raising :class:`StoreUnavailable`, and the retry
    thread. The store provides ``_reconcile_now`` / ``_release_now`` and their async twins,
    and may set ``_outbox_path`` before the first settlement."""

    _outbox_path: str | os.PathLike[str] | None = None
    _retry: _Retrier | None = None

    def _reconcile_now(self, request_id: str, actual: Mapping[str, float],
                       now: float) -> list[Outcome]:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _release_now(self, request_id: str, now: float) -> None:  # pragma: no cover
        raise NotImplementedError

    async def _areconcile_now(self, request_id: str, actual: Mapping[str, float],
                              now: float) -> list[Outcome]:  # pragma: no cover
        raise NotImplementedError

    async def _arelease_now(self, request_id: str, now: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def reconcile(self, request_id: str, actual: Mapping[str, float], now: float) -> list[Outcome]:
        try:
            return self._reconcile_now(request_id, actual, now)
        except StoreUnavailable:
            self._retrier().queue("reconcile", request_id, actual, now)
            raise

    def release(self, request_id: str, now: float) -> None:
        try:
            self._release_now(request_id, now)
        except StoreUnavailable:
            self._retrier().queue("release", request_id, {}, now)
            raise

    async def areconcile(self, request_id: str, actual: Mapping[str, float],
                         now: float) -> list[Outcome]:
        try:
            return await self._areconcile_now(request_id, actual, now)
        except StoreUnavailable:
            await asyncio.to_thread(self._retrier().queue, "reconcile", request_id, actual, now)
            raise

    async def arelease(self, request_id: str, now: float) -> None:
        try:
            await self._arelease_now(request_id, now)
        except StoreUnavailable:
            await asyncio.to_thread(self._retrier().queue, "release", request_id, {}, now)
            raise

    def settle_pending(self) -> int:
        """Try every queued settlement now, whatever its backoff; returns how many are left
        (0: the store has acknowledged them all)."""
        return self._retrier().drain(everything=True)

    def _retrier(self) -> _Retrier:
        retry = self._retry
        if retry is None or retry.pid != os.getpid():  # a forked child opens its own
            with _CREATE:
                if self._retry is None or self._retry.pid != os.getpid():
                    self._retry = _Retrier(self, Outbox(self._outbox_path))
                retry = self._retry
        return retry

    def _start_retry(self) -> None:
        """Open the outbox now and retry what an earlier process left in it."""
        if len(self._retrier().outbox):
            self._retrier().wake()

    def _stop_retry(self) -> None:
        retry, self._retry = self._retry, None
        if retry is not None and retry.pid == os.getpid():
            retry.stop()


_CREATE = threading.Lock()


class _Retrier:
    """The retry thread of one store: sleeps until the next settlement is due."""

    def __init__(self, store: SettleRetry, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox
        self.pid = os.getpid()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def queue(self, op: str, request_id: str, actual: Mapping[str, float], at: float) -> None:
        self.outbox.put(op, request_id, actual, at)
        self.wake()

    def wake(self) -> None:
        with self._lock:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aigw-settle-retry",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def drain(self, everything: bool = False) -> int:
        """Try the due settlements in turn; at the first the store refuses, back them all
        off (the store is down: the others would wait out its timeout one by one)."""
        items = self.outbox.due(everything)
        for i, item in enumerate(items):
            try:
                if item.op == "release":
                    self.store._release_now(item.request_id, item.at)
                else:
                    self.store._reconcile_now(item.request_id, item.actual, item.at)
            except StoreUnavailable:
                for rest in items[i:]:
                    self.outbox.later(rest)
                break
            except Exception as error:  # noqa: BLE001 - kept and retried, never dropped
                _log.warning("settlement of %s failed (%s); retrying later", item.request_id,
                             type(error).__name__)
                self.outbox.later(item)
                continue
            self.outbox.ack(item.request_id)
        return len(self.outbox)

    def _run(self) -> None:
        while not self._stopped:
            wait = self.outbox.wait()
            if wait is None or wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            try:
                self.drain()
            except sqlite3.Error:  # the outbox itself failed: keep it, try again later
                self._wake.wait(MAX_DELAY)

    def stop(self) -> None:
        """Stop the thread, try what is queued once more, close the outbox."""
        with self._lock:
            self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(MAX_DELAY)
        try:
            if len(self.outbox):
                self.drain(everything=True)
        finally:
            self.outbox.close()
