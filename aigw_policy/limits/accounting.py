"""Reserve, reconcile, release: the accounting steps, written once over a tiny cell interface.

The memory and SQLite stores run these functions inside their own transaction (a lock; a
``BEGIN IMMEDIATE``); the Redis store runs the same steps in a Lua script. A step never does
I/O itself: it reads and writes :class:`Cells`.

A reservation record (one per request id) is a dict::

    {"state": "reserved" | "denied" | "reconciled" | "released" | "expired",
     "now": <time of the reserve>, "expires_at": <when an unsettled reservation is released>,
     "admitted": bool,
     "items": [{"spec": LimitSpec, "key": str, "cost": float,
                "cur": float | None, "prev": float | None,     # values read before the reserve
                "final": float | None}],                      # the reconciled cost
     "settled_at": <time of the reconcile>, "after": [[cur, prev], ...]}

The steps keep the item's ``LimitSpec`` itself (the memory store holds records as they are);
a store that writes records as JSON (SQLite) turns them to and from JSON-able dicts with
:func:`record_to_json` and :func:`record_from_json` (the spec as a dict of its fields).

States move ``reserved -> reconciled | released | expired`` and ``expired -> reconciled``
(usage that arrives after the reservation expired is still charged, in the window of the
reserve); ``reconciled`` and ``released`` are final, so every step is idempotent. A denied
reserve (or one with no charge) reserved nothing and keeps no record: asking again decides
afresh, and a reconcile or release of it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from functools import lru_cache
from typing import Any, Protocol

from .algorithms import (Slot, adjust, apply, build_outcome, fits, locate, outcome_after,
                         staged_outcome, used_before)
from .model import Charge, LimitSpec, Outcome

__all__ = [
    "Cells",
    "Reads",
    "Staged",
    "check",
    "final_cost",
    "live_until",
    "reconcile",
    "record_from_json",
    "record_to_json",
    "release",
    "reserve",
    "seed",
    "spec_from_dict",
    "spec_to_dict",
    "stage",
    "stage_outcomes",
    "sweep",
    "reserve_outcomes",
    "settle_outcomes",
]


class Reads(Protocol):
    """What staging a reserve reads: the cells and where a charge lands."""

    def get(self, cid: str) -> float | None: ...
    def locate(self, spec: LimitSpec, key: str, now: float) -> Slot: ...
    def room(self, now: float) -> int | None:
        """How many new cells a step may make (None: no bound; the memory store's ``max_cells``)."""
        ...


class Cells(Protocol):
    """The storage a step reads and writes, inside one transaction."""

    def get(self, cid: str) -> float | None: ...
    def put(self, cid: str, value: float, live_until: float) -> None: ...
    def get_record(self, rid: str) -> dict[str, Any] | None: ...
    def put_record(self, rid: str, record: dict[str, Any], keep_until: float,
                   pending_until: float | None) -> None: ...
    def due(self, now: float) -> Iterable[str]: ...
    def room(self, now: float) -> int | None: ...
    def locate(self, spec: LimitSpec, key: str, now: float) -> Slot:
        """:func:`~.algorithms.locate` (a store gives its :class:`~.algorithms.Locator`)."""
        ...


def live_until(slot: Slot, value: float) -> float:
    """Until when a stored cell matters: the slot's end of life, or, for GCRA, its TAT."""
    return value if slot.kind == "gcra" else slot.live_until


_SPEC_FIELDS = tuple(f.name for f in fields(LimitSpec))


@lru_cache(maxsize=4096)
def spec_to_dict(spec: LimitSpec) -> dict[str, Any]:
    """A spec as a JSON-able dict (cached: specs are few and frozen; never mutate the result)."""
    return {f: getattr(spec, f) for f in _SPEC_FIELDS}


def spec_from_dict(d: Mapping[str, Any]) -> LimitSpec:
    return LimitSpec(**d)


def record_to_json(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a JSON-able dict: each item's spec as a dict of its fields."""
    return {**rec, "items": [{**it, "spec": spec_to_dict(it["spec"])} for it in rec["items"]]}


def record_from_json(d: dict[str, Any]) -> dict[str, Any]:
    """The record :func:`record_to_json` wrote (its items' specs rebuilt; ``d`` is reused)."""
    for it in d["items"]:
        it["spec"] = spec_from_dict(it["spec"])
    return d


def _read(cells: Cells, slot: Slot) -> tuple[float | None, float | None]:
    return cells.get(slot.cur), (cells.get(slot.prev) if slot.prev else None)


Staged = tuple[Slot, float | None, float | None, float, bool, float | None]
"""One staged charge: its slot, the values read (``cur``, ``prev``), the use before it, whether
it fits, and the cell's value with it applied (None: no room for its cell, nothing written)."""


def stage(cells: Reads, charges: Sequence[Charge], now: float) -> tuple[list[Staged], bool]:
    """Read every charge's cell, with earlier charges of the same request on the same cell
    already added (a request may charge one bucket twice). Returns each charge's
    :data:`Staged` and whether the request is admitted (every enforced charge fits).

    A charge needing a new cell when the store has no room for one (``cells.room``: the memory
    store's ``max_cells``) does not fit, whatever its bucket holds, and its new value is None
    (nothing to write, even for a limit that does not enforce): no live cell is ever dropped
    to make room, so no client can push its own bucket out (serve29)."""
    staged: dict[str, float | None] = {}
    rows: list[Staged] = []
    admitted = True
    locate = cells.locate
    room = cells.room(now)
    for c in charges:
        spec = c.spec
        slot = locate(spec, c.key, now)
        cur = staged[slot.cur] if slot.cur in staged else cells.get(slot.cur)
        prev = None
        if slot.prev:
            prev = staged[slot.prev] if slot.prev in staged else cells.get(slot.prev)
        before = used_before(slot, cur, prev, now)
        f = fits(before, c.cost, spec.capacity)
        if room is not None and cur is None and slot.cur not in staged:
            if room <= 0:  # no room for its cell: refused, and not staged
                if spec.enforce:
                    admitted = False
                rows.append((slot, cur, prev, before, False, None))
                continue
            room -= 1
        if not f and spec.enforce:
            admitted = False
        new = staged[slot.cur] = apply(slot, cur, c.cost, now)
        rows.append((slot, cur, prev, before, f, new))
    return rows, admitted


def stage_outcomes(charges: Sequence[Charge], rows: list[Staged], now: float,
                   admitted: bool) -> list[Outcome]:
    """Each staged charge's outcome: what :func:`~.algorithms.build_outcome` gives for it."""
    return [staged_outcome(c, s, cur, prev, now, admitted, before, ok, new if admitted else cur)
            for c, (s, cur, prev, before, ok, new) in zip(charges, rows)]


def sweep(cells: Cells, now: float) -> None:
    """Release every reservation whose time ran out without a reconcile or release."""
    for rid in list(cells.due(now)):
        rec = cells.get_record(rid)
        if rec is None or rec["state"] != "reserved":
            continue
        _settle(cells, rec, {i: -it["cost"] for i, it in enumerate(rec["items"])}, now)
        rec["state"] = "expired"
        cells.put_record(rid, rec, rec["keep_until"], None)


def _settle(cells: Cells, rec: dict[str, Any], deltas: Mapping[int, float], now: float) -> None:
    t0 = rec["now"]
    for i, it in enumerate(rec["items"]):
        delta = deltas.get(i, 0.0)
        if delta == 0:
            continue
        slot = cells.locate(it["spec"], it["key"], t0)
        new = adjust(slot, cells.get(slot.cur), delta, now)
        if new is not None:
            cells.put(slot.cur, new, live_until(slot, new))


def check(cells: Cells, charges: Sequence[Charge], now: float) -> list[Outcome]:
    sweep(cells, now)
    rows, admitted = stage(cells, charges, now)
    return stage_outcomes(charges, rows, now, admitted)


def reserve(cells: Cells, rid: str, charges: Sequence[Charge], now: float, ttl: float,
            keep: float) -> list[Outcome]:
    """All or nothing; a known request id returns its first outcomes and charges nothing."""
    sweep(cells, now)
    rec = cells.get_record(rid)
    if rec is not None:
        return reserve_outcomes(rec)
    rows, admitted = stage(cells, charges, now)
    if admitted:
        for s, _cur, _prev, _before, _f, new in rows:
            # in order: a cell charged twice ends at its last value (None: no room for it)
            if new is not None:
                cells.put(s.cur, new, live_until(s, new))
    if admitted and charges:  # a request that reserved nothing needs no record
        rec = {
            "state": "reserved",
            "now": now,
            "expires_at": now + ttl,
            "keep_until": now + keep,
            "admitted": True,
            "items": [
                {"spec": c.spec, "key": c.key, "cost": c.cost, "cur": cur, "prev": prev,
                 "final": None}
                for c, (_s, cur, prev, _b, _f, _n) in zip(charges, rows)
            ],
        }
        cells.put_record(rid, rec, now + keep, now + ttl)
    # what reserve_outcomes(rec) gives on a replay, from the values already staged
    return stage_outcomes(charges, rows, now, admitted)


def reserve_outcomes(rec: Mapping[str, Any]) -> list[Outcome]:
    """The outcomes of a reserve, rebuilt from its record (the same on every replay)."""
    now = rec["now"]
    out = []
    for it in rec["items"]:
        spec = it["spec"]
        charge = Charge(spec, it["key"], it["cost"])
        out.append(build_outcome(charge, locate(spec, it["key"], now), it["cur"], it["prev"],
                                 now, rec["admitted"]))
    return out


def settle_outcomes(rec: Mapping[str, Any], slots: Sequence[Slot] | None = None) -> list[Outcome]:
    """The outcomes of a reconcile, rebuilt from its record (``slots``: the items' slots at
    ``settled_at``, when the caller has them)."""
    now = rec["settled_at"]
    items = rec["items"]
    if slots is None:
        slots = [locate(it["spec"], it["key"], now) for it in items]
    return [outcome_after(it["spec"], it["key"], it["final"], slot, cur, prev, now)
            for it, slot, (cur, prev) in zip(items, slots, rec["after"])]


def final_costs(rec: Mapping[str, Any], actual: Mapping[str, float]) -> list[float]:
    """Each item's final cost (:func:`final_cost`)."""
    seen: set[str] = set()
    return [final_cost(it["spec"].name, it["cost"], actual, seen) for it in rec["items"]]


def final_cost(name: str, reserved: float, actual: Mapping[str, float], seen: set[str]) -> float:
    """An item's final cost: the actual amount for its limit name (given once per name: a
    second charge on the same name settles at 0; ``seen`` holds the names met so far in the
    record's items), else its reservation."""
    if name in actual:
        final = 0.0 if name in seen else float(actual[name])
        seen.add(name)
        return final
    return reserved


def reconcile(cells: Cells, rid: str, actual: Mapping[str, float], now: float) -> list[Outcome]:
    sweep(cells, now)
    rec = cells.get_record(rid)
    if rec is None or rec["state"] in ("denied", "released"):
        return []
    if rec["state"] == "reconciled":
        return settle_outcomes(rec) if "after" in rec else []
    finals = final_costs(rec, actual)
    was_reserved = rec["state"] == "reserved"
    deltas = {i: f - (it["cost"] if was_reserved else 0.0)
              for i, (it, f) in enumerate(zip(rec["items"], finals))}
    _settle(cells, rec, deltas, now)
    after = []
    slots = []
    for it, f in zip(rec["items"], finals):
        it["final"] = f
        slot = cells.locate(it["spec"], it["key"], now)
        slots.append(slot)
        cur, prev = _read(cells, slot)
        after.append([cur, prev])
    rec["state"] = "reconciled"
    rec["settled_at"] = now
    rec["after"] = after
    cells.put_record(rid, rec, rec["keep_until"], None)
    return settle_outcomes(rec, slots)


def release(cells: Cells, rid: str, now: float) -> None:
    sweep(cells, now)
    rec = cells.get_record(rid)
    if rec is None or rec["state"] != "reserved":
        return
    _settle(cells, rec, {i: -it["cost"] for i, it in enumerate(rec["items"])}, now)
    rec["state"] = "released"
    cells.put_record(rid, rec, rec["keep_until"], None)


def seed(cells: Cells, spec: LimitSpec, key: str, used: float, now: float) -> None:
    """Make the bucket hold ``used`` at ``now`` (the previous sliding window empty)."""
    slot = cells.locate(spec, key, now)
    if slot.kind == "gcra":
        value = now + used * slot.interval
    else:
        value = float(used)
        if slot.prev:
            cells.put(slot.prev, 0.0, slot.live_until - slot.window)
    cells.put(slot.cur, value, live_until(slot, value))
