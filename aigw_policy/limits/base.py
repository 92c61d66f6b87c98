"""What the memory and SQLite stores share: the sync and async methods over one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from . import accounting
from .model import Charge, LimitSpec, Outcome
from .outbox import SettleRetry

__all__ = ["DEFAULT_POOL_TIMEOUT", "DEFAULT_RESERVATION_TTL", "DEFAULT_RECORD_TTL",
           "DEFAULT_TIMEOUT", "TxnStore"]

DEFAULT_RESERVATION_TTL = 900.0
"""Seconds an unsettled reservation holds capacity before it is released (a gateway that died
mid-request must not hold a team's budget forever). Long streams need a longer value."""
DEFAULT_RECORD_TTL = 86400.0
"""Seconds a request id is remembered, so that retries never charge twice."""
DEFAULT_TIMEOUT = 0.25
"""Seconds a store call may wait for the store (lock, busy database, network)."""
DEFAULT_POOL_TIMEOUT = 5.0
"""Seconds a store call may wait for its turn among this process's calls (a connection of
the pool, the SQLite store's lock): a burst queues for this long before it fails."""


class Overlay:
    """Buffered writes over a store's cells: a step either commits all its writes or none."""

    __slots__ = ("base", "cells", "locate", "records")

    def __init__(self, base: Any) -> None:
        self.base = base
        self.locate = base.locate
        self.cells: dict[str, tuple[float, float]] = {}
        self.records: dict[str, tuple[dict[str, Any], float, float | None]] = {}

    def get(self, cid: str) -> float | None:
        hit = self.cells.get(cid)
        return hit[0] if hit is not None else self.base.get(cid)

    def put(self, cid: str, value: float, live_until: float) -> None:
        self.cells[cid] = (value, live_until)

    def get_record(self, rid: str) -> dict[str, Any] | None:
        hit = self.records.get(rid)
        if hit is not None:
            return hit[0]
        rec = self.base.get_record(rid)
        if rec is None:
            return None
        # steps change a record's top-level fields and its items' fields, nothing deeper
        return {**rec, "items": [dict(it) for it in rec["items"]]}

    def put_record(self, rid: str, record: dict[str, Any], keep_until: float,
                   pending_until: float | None) -> None:
        self.records[rid] = (record, keep_until, pending_until)

    def due(self, now: float):
        return self.base.due(now)

    def room(self, now: float) -> int | None:
        room = self.base.room(now)  # less what this step wrote (a few cells, new or not)
        return None if room is None else room - len(self.cells)


class TxnStore(SettleRetry):
    """A store whose subclass provides ``_txn()``: a context manager yielding :class:`Cells`
    that commits on a clean exit and raises ``StoreUnavailable`` when it cannot start in time
    (or overrides ``_step``, which runs one step in one such transaction, as the memory store
    does to spare a generator per call). A reconcile or release that fails is queued and
    retried (:class:`SettleRetry`).
    """

    reservation_ttl: float
    record_ttl: float

    def _txn(self, now: float) -> AbstractContextManager[accounting.Cells]:  # pragma: no cover
        raise NotImplementedError

    # sync -----------------------------------------------------------------------------

    def _step(self, now: float, step: Any, *args: Any) -> Any:
        """Run ``step(cells, *args)`` (an :mod:`accounting` step) in one transaction."""
        with self._txn(now) as cells:
            return step(cells, *args)

    def check(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        out: list[Outcome] = self._step(now, accounting.check, charges, now)
        return out

    def reserve(self, request_id: str, charges: Sequence[Charge], now: float) -> list[Outcome]:
        out: list[Outcome] = self._step(now, accounting.reserve, request_id, charges, now,
                                        self.reservation_ttl, self.record_ttl)
        return out

    def _reconcile_now(self, request_id: str, actual: Mapping[str, float],
                       now: float) -> list[Outcome]:
        out: list[Outcome] = self._step(now, accounting.reconcile, request_id, actual, now)
        return out

    def _release_now(self, request_id: str, now: float) -> None:
        self._step(now, accounting.release, request_id, now)

    def seed(self, spec: LimitSpec, key: str, used: float, now: float) -> None:
        self._step(now, accounting.seed, spec, key, used, now)

    # async ----------------------------------------------------------------------------

    async def acheck(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        return await self._arun(self.check, charges, now)

    async def areserve(self, request_id: str, charges: Sequence[Charge],
                       now: float) -> list[Outcome]:
        return await self._arun(self.reserve, request_id, charges, now)

    async def _areconcile_now(self, request_id: str, actual: Mapping[str, float],
                              now: float) -> list[Outcome]:
        return await self._arun(self._reconcile_now, request_id, actual, now)

    async def _arelease_now(self, request_id: str, now: float) -> None:
        return await self._arun(self._release_now, request_id, now)

    async def aseed(self, spec: LimitSpec, key: str, used: float, now: float) -> None:
        return await self._arun(self.seed, spec, key, used, now)

    async def _arun(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    def close(self) -> None:
        self._stop_retry()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
