"""The in-memory store: one process, thread-safe (one lock; a step is a few dict operations)."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import accounting
from .base import (DEFAULT_RECORD_TTL, DEFAULT_RESERVATION_TTL, DEFAULT_TIMEOUT, Overlay,
                   TxnStore)
from .model import StoreUnavailable

__all__ = ["MemoryStore"]

_GC_EVERY = 4096


class MemoryStore(TxnStore):
    """Limits in this process's memory: the default, and what ``replay`` and tests use.

    ``reservation_ttl``: seconds an unsettled reservation holds capacity; ``record_ttl``:
    seconds a request id is remembered; ``timeout``: seconds to wait for the lock before
    :class:`StoreUnavailable`.
    """

    def __init__(self, *, reservation_ttl: float = DEFAULT_RESERVATION_TTL,
                 record_ttl: float = DEFAULT_RECORD_TTL, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.reservation_ttl = float(reservation_ttl)
        self.record_ttl = float(record_ttl)
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._cells: dict[str, tuple[float, float]] = {}
        self._records: dict[str, tuple[dict[str, Any], float]] = {}
        self._pending: list[tuple[float, str]] = []  # heap of (expires_at, request id)
        self._pending_at: dict[str, float] = {}
        self._writes = 0

    # the Cells read side ------------------------------------------------------------

    def get(self, cid: str) -> float | None:
        hit = self._cells.get(cid)
        return hit[0] if hit is not None else None

    def get_record(self, rid: str) -> dict[str, Any] | None:
        hit = self._records.get(rid)
        return hit[0] if hit is not None else None

    def due(self, now: float) -> list[str]:
        out = []
        heap = self._pending
        while heap and heap[0][0] <= now:
            at, rid = heapq.heappop(heap)
            if self._pending_at.get(rid) == at:
                del self._pending_at[rid]
                out.append(rid)
        return out

    # transactions -------------------------------------------------------------------

    @contextmanager
    def _txn(self, now: float) -> Iterator[accounting.Cells]:
        if not self._lock.acquire(timeout=self.timeout):
            raise StoreUnavailable(f"memory store lock not acquired in {self.timeout}s")
        try:
            overlay = Overlay(self)
            yield overlay
            self._commit(overlay, now)
        finally:
            self._lock.release()

    def _commit(self, overlay: Overlay, now: float) -> None:
        self._cells.update(overlay.cells)
        for rid, (rec, keep_until, pending_until) in overlay.records.items():
            self._records[rid] = (rec, keep_until)
            if pending_until is None:
                self._pending_at.pop(rid, None)
            else:
                self._pending_at[rid] = pending_until
                heapq.heappush(self._pending, (pending_until, rid))
        self._writes += 1
        if self._writes % _GC_EVERY == 0:
            self._gc(now)

    def _gc(self, now: float) -> None:
        """Drop cells past their life and request ids past their retention."""
        self._cells = {k: v for k, v in self._cells.items() if v[1] > now}
        self._records = {k: v for k, v in self._records.items()
                         if v[1] > now or k in self._pending_at}

    # fast paths: no thread hop for async -----------------------------------------------

    async def _arun(self, fn, *args):
        return fn(*args)

    def snapshot(self) -> dict[str, float]:
        """Every stored cell and its value (tests, debugging)."""
        with self._lock:
            return {k: v[0] for k, v in self._cells.items()}
