"""The in-memory store: one process, thread-safe (one lock; a step is a few dict operations).

A request's record is kept as one flat tuple (state, times, then per limit its spec number,
key, cost and the values read): as it is while its reservation is unsettled (~0.6 KB with
three limits; a dict of dicts took ~1.5 KB), pickled once it is final (~0.4 KB); at most
``max_records`` final records are kept (:data:`DEFAULT_MAX_RECORDS`), the oldest dropped
first. See docs/embedding.md.

The usual check and reserve (a new request id) and the usual reconcile (of an unsettled
reservation), when no reservation is due to expire, run straight on the store's dicts: the
values are computed first, then written, so a step still writes all or nothing; everything
else (replays, expiry sweeps, releases, seeds) runs the :mod:`.accounting` steps over an
:class:`Overlay`, as the SQLite store does. Both give the same outcomes, cells and records
(``tests/limits/test_fast_paths.py`` runs them side by side).
"""

from __future__ import annotations

import heapq
import pickle
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from . import accounting
from .accounting import final_cost, live_until
from .algorithms import Locator, adjust, outcome_after
from .base import (DEFAULT_POOL_TIMEOUT, DEFAULT_RECORD_TTL, DEFAULT_RESERVATION_TTL, Overlay,
                   TxnStore)
from .model import Charge, LimitSpec, Outcome, StoreUnavailable

__all__ = ["DEFAULT_MAX_CELLS", "DEFAULT_MAX_RECORDS", "MemoryStore"]

_GC_EVERY = 4096
_HEAD = 6  # a flat record: state, now, expires_at, keep_until, admitted, settled_at, then
_ITEM = 8  # per item: spec number, key, cost, cur, prev, final, and the two values read after

DEFAULT_MAX_CELLS = 500_000
"""Limit cells (one per bucket key and window) a memory store holds (~270 bytes each with keys
of 60 characters, ~470 at their 256-character bound: ~135 MB and ~235 MB full). Past it, once cells past their window are
swept (at most once a second while full), a charge that needs a new cell is refused (limited,
``Retry-After`` the window's end) and a limit that does not enforce counts nothing for it; a
live cell is never dropped, so a client making keys cannot push its own bucket out (serve29)."""

_SWEEP_FULL_EVERY = 1.0
"""Seconds between two sweeps of a full store's cells (each walks them all)."""

DEFAULT_MAX_RECORDS = 100_000
"""Final request records a memory store keeps (about 45 MB). Past it the oldest is dropped:
a retry of that request id is then a new request (charged again) and its late usage is not
counted. Unsettled reservations are never dropped; they expire after ``reservation_ttl``."""


class MemoryStore(TxnStore):
    """Limits in this process's memory: the default, and what ``replay`` and tests use.

    ``reservation_ttl``: seconds an unsettled reservation holds capacity; ``record_ttl``:
    seconds a request id is remembered; ``max_records``: final request records kept (the
    oldest dropped first, see :data:`DEFAULT_MAX_RECORDS`); ``max_cells``: limit cells held
    (a newcomer refused past them, see :data:`DEFAULT_MAX_CELLS`); ``timeout``: seconds to wait for
    the lock before :class:`StoreUnavailable` (a call holds it for microseconds: only a burst of
    thousands of threads waits long, and it waits its turn, as the other stores' calls do).
    """

    def __init__(self, *, reservation_ttl: float = DEFAULT_RESERVATION_TTL,
                 record_ttl: float = DEFAULT_RECORD_TTL, max_records: int = DEFAULT_MAX_RECORDS,
                 timeout: float = DEFAULT_POOL_TIMEOUT, max_cells: int = DEFAULT_MAX_CELLS) -> None:
        for name, value in (("max_records", max_records), ("max_cells", max_cells)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        self.max_cells = max_cells
        self._swept_full = float("-inf")
        self.reservation_ttl = float(reservation_ttl)
        self.record_ttl = float(record_ttl)
        self.max_records = max_records
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._cells: dict[str, tuple[float, float]] = {}
        self._live: dict[str, tuple[tuple[Any, ...], float]] = {}  # unsettled: flat
        self._final: dict[str, tuple[bytes, float]] = {}  # settled, oldest first: packed
        self._specs: list[LimitSpec] = []  # the limit specs packed records name, by number
        self._spec_ids: dict[LimitSpec, int] = {}
        self._spec_by_id: dict[int, int] = {}  # id() of a spec held in _specs: its number
        self._pending: list[tuple[float, str]] = []  # heap of (expires_at, request id)
        self._pending_at: dict[str, float] = {}
        self._writes = 0
        self.locate = Locator()

    def __len__(self) -> int:
        """Request records held (unsettled and final)."""
        return len(self._live) + len(self._final)

    # the Cells read side ------------------------------------------------------------

    def get(self, cid: str) -> float | None:
        hit = self._cells.get(cid)
        return hit[0] if hit is not None else None

    def room(self, now: float) -> int:
        """New cells that fit under ``max_cells``; when none, cells past their life are swept
        first (at most every :data:`_SWEEP_FULL_EVERY` seconds: a sweep walks them all)."""
        free = self.max_cells - len(self._cells)
        if free <= 0 and now - self._swept_full >= _SWEEP_FULL_EVERY:
            self._swept_full = now
            self._cells = {k: v for k, v in self._cells.items() if v[1] > now}
            free = self.max_cells - len(self._cells)
        return free

    def get_record(self, rid: str) -> dict[str, Any] | None:
        hit = self._live.get(rid)
        if hit is not None:
            return self._record(hit[0])
        packed = self._final.get(rid)
        return self._unpack(packed[0]) if packed is not None else None

    def _spec_number(self, spec: LimitSpec) -> int:
        # by identity first (a spec in _specs lives as long as the store: its id is never
        # reused), else by value: a spec equal to a known one, rebuilt by its caller, adds nothing
        n = self._spec_by_id.get(id(spec))
        if n is None:
            n = self._spec_ids.get(spec)
            if n is None:
                n = self._spec_ids[spec] = len(self._specs)
                self._specs.append(spec)
                self._spec_by_id[id(spec)] = n
        return n

    def _flat(self, rec: dict[str, Any]) -> tuple[Any, ...]:
        """A record as one flat tuple (``after`` is there iff ``settled_at``)."""
        flat: list[Any] = [rec["state"], rec["now"], rec["expires_at"], rec["keep_until"],
                           rec["admitted"], rec.get("settled_at")]
        after = rec.get("after")
        for i, it in enumerate(rec["items"]):
            a_cur, a_prev = after[i] if after is not None else (None, None)
            flat += (self._spec_number(it["spec"]), it["key"], it["cost"], it["cur"], it["prev"],
                     it["final"], a_cur, a_prev)
        return tuple(flat)

    def _record(self, flat: tuple[Any, ...]) -> dict[str, Any]:
        """The record :meth:`_flat` flattened (fresh dicts each time)."""
        specs = self._specs
        items, after = [], []
        for i in range(_HEAD, len(flat), _ITEM):
            n, key, cost, cur, prev, final, a_cur, a_prev = flat[i:i + _ITEM]
            items.append({"spec": specs[n], "key": key, "cost": cost, "cur": cur, "prev": prev,
                          "final": final})
            after.append([a_cur, a_prev])
        state, now, expires_at, keep_until, admitted, settled_at = flat[:_HEAD]
        rec = {"state": state, "now": now, "expires_at": expires_at, "keep_until": keep_until,
               "admitted": admitted, "items": items}
        if settled_at is not None:
            rec["settled_at"] = settled_at
            rec["after"] = after
        return rec

    def _pack(self, rec: dict[str, Any]) -> bytes:
        """A final record, flat and pickled."""
        return pickle.dumps(self._flat(rec), protocol=pickle.HIGHEST_PROTOCOL)

    def _unpack(self, blob: bytes) -> dict[str, Any]:
        return self._record(pickle.loads(blob))

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

    _fast = True
    """False: every step runs the :mod:`.accounting` steps over an :class:`Overlay` (the
    tests compare the two ways)."""

    def _acquire(self) -> None:
        lock = self._lock
        if not lock.acquire(False) and not lock.acquire(timeout=self.timeout):
            raise StoreUnavailable(f"memory store lock not acquired in {self.timeout}s")

    def _step(self, now: float, step: Any, *args: Any) -> Any:
        self._acquire()
        try:
            return self._in_overlay(now, step, *args)
        finally:
            self._lock.release()

    def _in_overlay(self, now: float, step: Any, *args: Any) -> Any:
        overlay = Overlay(self)
        out = step(overlay, *args)
        self._commit(overlay, now)
        return out

    def check(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        self._acquire()
        try:
            heap = self._pending
            if self._fast and (not heap or heap[0][0] > now):  # its sweep would do nothing
                rows, admitted = accounting.stage(self, charges, now)
                out = accounting.stage_outcomes(charges, rows, now, admitted)
                self._wrote(now)
                return out
            checked: list[Outcome] = self._in_overlay(now, accounting.check, charges, now)
            return checked
        finally:
            self._lock.release()

    def reserve(self, request_id: str, charges: Sequence[Charge], now: float) -> list[Outcome]:
        self._acquire()
        try:
            heap = self._pending
            if (self._fast and charges and (not heap or heap[0][0] > now)
                    and request_id not in self._live and request_id not in self._final):
                return self._reserve(request_id, charges, now)
            out: list[Outcome] = self._in_overlay(now, accounting.reserve, request_id, charges,
                                                  now, self.reservation_ttl, self.record_ttl)
            return out
        finally:
            self._lock.release()

    def _reserve(self, rid: str, charges: Sequence[Charge], now: float) -> list[Outcome]:
        """:func:`.accounting.reserve` of a new request id when nothing is due to expire
        (its sweep would do nothing): the cells are read from the store itself, and the
        record is written flat."""
        rows, admitted = accounting.stage(self, charges, now)
        out = accounting.stage_outcomes(charges, rows, now, admitted)
        if admitted:
            flat: list[Any] = ["reserved", now, now + self.reservation_ttl, now + self.record_ttl,
                               True, None]
            number = self._spec_number
            for c, (_s, cur, prev, _before, _fits, _new) in zip(charges, rows):
                flat += (number(c.spec), c.key, c.cost, cur, prev, None, None, None)
            cells = self._cells  # written once everything is computed: all or nothing
            for s, _cur, _prev, _before, _fits, new in rows:
                if new is not None:  # (None: no room for its cell)
                    cells[s.cur] = (new, live_until(s, new))
            expires_at = flat[2]
            self._live[rid] = (tuple(flat), flat[3])
            self._pending_at[rid] = expires_at
            heapq.heappush(self._pending, (expires_at, rid))
        self._wrote(now)
        return out

    def _reconcile_now(self, request_id: str, actual: Mapping[str, float],
                       now: float) -> list[Outcome]:
        self._acquire()
        try:
            heap = self._pending
            if self._fast and request_id in self._live and (not heap or heap[0][0] > now):
                return self._reconcile(request_id, actual, now)
            out: list[Outcome] = self._in_overlay(now, accounting.reconcile, request_id, actual,
                                                  now)
            return out
        finally:
            self._lock.release()

    def _reconcile(self, rid: str, actual: Mapping[str, float], now: float) -> list[Outcome]:
        """:func:`.accounting.reconcile` of an unsettled reservation when nothing is due to
        expire: the same steps over the flat record, the new cell values staged, then written
        with the final record."""
        flat = self._live[rid][0]
        t0 = flat[1]
        specs = self._specs
        cells = self._cells
        locate = self.locate
        staged: dict[str, tuple[float, float]] = {}
        seen: set[str] = set()
        packed = list(flat)  # the final record: the same, with the finals and values read after
        packed[0] = "reconciled"
        packed[5] = now
        items = []
        for i in range(_HEAD, len(flat), _ITEM):  # each item settled in order, as _settle does
            spec = specs[flat[i]]
            key = flat[i + 1]
            cost = flat[i + 2]
            final = packed[i + 5] = final_cost(spec.name, cost, actual, seen)
            items.append((i, spec, key, final))
            delta = final - cost
            if delta != 0:
                slot = locate(spec, key, t0)
                hit = staged.get(slot.cur) or cells.get(slot.cur)
                new = adjust(slot, hit[0] if hit is not None else None, delta, now)
                if new is not None:
                    staged[slot.cur] = (new, live_until(slot, new))
        out = []
        for i, spec, key, final in items:
            slot = locate(spec, key, now)
            hit = staged.get(slot.cur) or cells.get(slot.cur)
            a_cur = packed[i + 6] = hit[0] if hit is not None else None
            a_prev = None
            if slot.prev:
                hit = staged.get(slot.prev) or cells.get(slot.prev)
                a_prev = packed[i + 7] = hit[0] if hit is not None else None
            out.append(outcome_after(spec, key, final, slot, a_cur, a_prev, now))
        blob = pickle.dumps(tuple(packed), protocol=pickle.HIGHEST_PROTOCOL)
        cells.update(staged)
        del self._live[rid]
        self._pending_at.pop(rid, None)
        settled = self._final
        settled[rid] = (blob, flat[3])
        while len(settled) > self.max_records:
            del settled[next(iter(settled))]
        self._wrote(now)
        return out

    def _commit(self, overlay: Overlay, now: float) -> None:
        self._cells.update(overlay.cells)
        final = self._final
        for rid, (rec, keep_until, pending_until) in overlay.records.items():
            if pending_until is None:
                self._pending_at.pop(rid, None)
                self._live.pop(rid, None)
                final.pop(rid, None)  # re-inserted last: the order is the order of settling
                final[rid] = (self._pack(rec), keep_until)
            else:
                final.pop(rid, None)
                self._live[rid] = (self._flat(rec), keep_until)
                self._pending_at[rid] = pending_until
                heapq.heappush(self._pending, (pending_until, rid))
        while len(final) > self.max_records:
            del final[next(iter(final))]
        self._wrote(now)

    def _wrote(self, now: float) -> None:
        """One more step done: every :data:`_GC_EVERY` steps, :meth:`_gc`."""
        self._writes += 1
        if self._writes % _GC_EVERY == 0:
            self._gc(now)

    def _gc(self, now: float) -> None:
        """Drop cells past their life and request ids past their retention."""
        self._cells = {k: v for k, v in self._cells.items() if v[1] > now}
        self._live = {k: v for k, v in self._live.items() if v[1] > now or k in self._pending_at}
        self._final = {k: v for k, v in self._final.items() if v[1] > now}

    # fast paths: no thread hop for async -----------------------------------------------

    async def _arun(self, fn, *args):
        return fn(*args)

    def snapshot(self) -> dict[str, float]:
        """Every stored cell and its value (tests, debugging)."""
        with self._lock:
            return {k: v[0] for k, v in self._cells.items()}
