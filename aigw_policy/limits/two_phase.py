"""The cluster store's request/reply logic (sans-IO): one script call per hash tag a request
touches, sent together (one round trip per shard), and the two-phase reserve of a request
whose limits live on several shards.

Each step is a generator that yields a *batch* (a list of script argument lists, each routed
by its prefix, ``args[1]``) and receives the replies in the same order, each a reply or the
:class:`StoreUnavailable` its call ended with. The sync and async drivers in
``redis_cluster.py`` run the same steps.

The two-phase reserve, for a request whose charges carry several tags:

1. *prepare*: a ``reserve`` on every tag at once, flagged as a first phase: each tag admits
   or denies its own charges all or nothing and, when it admits, holds them for
   ``prepare_ttl`` seconds under the request id.
2. *commit* when every tag admitted (each tag then holds its reservation for the store's
   ``reservation_ttl``, as a one-shard reserve does), otherwise *abort* on the tags that
   admitted (they give the capacity back and forget the request).

So no limit ever counts past its capacity: a hold is taken atomically on its shard before any
request is admitted. A gateway that dies between the phases leaves holds that expire after
``prepare_ttl`` (a prepare that was never committed is forgotten, not remembered as admitted);
a retry with the same request id finds the holds that are still there (the first call's
outcomes) and decides afresh on the shards that hold nothing. A hold of a request that is
aborted in the end can deny a concurrent request on that shard for the moment it lasts (one
round trip): the price of never over-admitting without a global lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from .accounting import spec_to_dict
from .algorithms import build_outcome, locate
from .model import Charge, LimitSpec, Outcome, StoreUnavailable
from .redis_store import _TRIES, _charge_args, _f, _meta_charges, _n, _Protocol
from .sharding import ShardRule, group, prefix_of

__all__ = ["ClusterProtocol", "Batch"]

Batch = Generator[list[list[str]], list[Any], Any]
"""A step: yields script calls, receives their replies (or StoreUnavailable), returns."""
DEFAULT_PREPARE_TTL = 10.0
"""Seconds a first-phase hold lasts when its commit never comes (a gateway died between
the phases): short, as the hold denies other requests while it lasts."""


class _Shard(_Protocol):
    """The one-tag protocol, with the clock offset shared by every tag of a store."""

    def __init__(self, prefix: str, owner: ClusterProtocol) -> None:
        self._owner = owner
        learned = owner.offset
        super().__init__(prefix, owner.clock, owner.reservation_ttl, owner.record_ttl)
        owner.offset = learned  # (the base class starts from no offset)

    @property  # type: ignore[override]
    def offset(self) -> float | None:
        return self._owner.offset

    @offset.setter
    def offset(self, value: float | None) -> None:
        self._owner.offset = value

    def prepare(self, rid: str, charges: Sequence[Charge], now: float, ttl: float) -> Generator[
            list[str], Any, tuple[bool, list[Charge], list[str]]]:
        """A first-phase reserve: (admitted, the charges recorded, the reply)."""
        arg, t = self._now(now)
        meta = json.dumps([[spec_to_dict(c.spec), c.key, c.cost] for c in charges])
        for _ in range(_TRIES):
            reply = yield ["reserve", self.prefix, arg, rid, *_charge_args(charges, t),
                           _f(ttl), _f(self.record_ttl), meta, "1"]
            if reply[0] == "retry":
                t = float(reply[1])
                self._learn(t)
                continue
            return reply[2] == "1", _meta_charges(reply[3]), reply
        raise StoreUnavailable("redis cluster store: server clock does not settle in a window")

    def probe(self, charges: Sequence[Charge], now: float) -> Generator[
            list[str], Any, tuple[bool, list[Charge], list[str]]]:
        """A check whose outcomes are built by the caller: (fits, the charges, the reply)."""
        arg, t = self._now(now)
        for _ in range(_TRIES):
            reply = yield ["check", self.prefix, arg, "", *_charge_args(charges, t)]
            if reply[0] == "retry":
                t = float(reply[1])
                self._learn(t)
                continue
            return reply[2] == "1", list(charges), reply
        raise StoreUnavailable("redis cluster store: server clock does not settle in a window")

    def second(self, op: str, rid: str, now: float, *extra: str) -> Generator[list[str], Any, list[str]]:
        """``commit`` (with the reservation ttl) or ``abort`` of a first-phase hold."""
        reply = yield [op, self.prefix, self._now(now)[0], rid, *extra]
        return reply


def _lockstep(steps: dict[str, Generator[list[str], Any, Any]]) -> Generator[
        list[list[str]], list[Any], tuple[dict[str, Any], dict[str, StoreUnavailable]]]:
    """Run one-tag steps side by side, one batch per round: (results, errors) by tag."""
    results: dict[str, Any] = {}
    errors: dict[str, StoreUnavailable] = {}
    calls: dict[str, list[str]] = {}
    for tag, step in steps.items():
        try:
            calls[tag] = next(step)
        except StopIteration as done:
            results[tag] = done.value
    while calls:
        tags = list(calls)
        replies = yield [calls[t] for t in tags]
        for tag, reply in zip(tags, replies):
            step = steps[tag]
            del calls[tag]
            if isinstance(reply, StoreUnavailable):
                errors[tag] = reply
                step.close()
                continue
            try:
                calls[tag] = step.send(reply)
            except StopIteration as done:
                results[tag] = done.value
            except StoreUnavailable as e:
                errors[tag] = e
    return results, errors


def _first(errors: Mapping[str, StoreUnavailable]) -> StoreUnavailable:
    return next(iter(errors.values()))


class ClusterProtocol:
    """Groups charges by hash tag and runs the one-tag protocol per tag, in lockstep."""

    def __init__(self, base: str, rule: ShardRule, clock: str, reservation_ttl: float,
                 record_ttl: float, prepare_ttl: float = DEFAULT_PREPARE_TTL,
                 max_located: int = 200_000) -> None:
        self.base = base
        self.rule = rule
        self.clock = clock
        self.reservation_ttl = reservation_ttl
        self.record_ttl = record_ttl
        self.prepare_ttl = prepare_ttl
        self.offset: float | None = None
        self.max_located = max_located
        # where each admitted, unsettled request's charges live: request id -> tag -> positions
        self.located: dict[str, dict[str, list[int]]] = {}
        self._located_lock = threading.Lock()
        self.cross_shard = 0  # reserves that took two phases (benchmarks, tests)

    def _shard(self, tag: str) -> _Shard:
        return _Shard(prefix_of(tag), self)

    def _groups(self, charges: Sequence[Charge]) -> dict[str, list[int]]:
        return group(charges, self.base, self.rule) or {self.base: []}

    def _remember(self, rid: str, groups: dict[str, list[int]]) -> None:
        with self._located_lock:
            if len(self.located) >= self.max_located:  # the oldest first: dicts keep order
                self.located.pop(next(iter(self.located)))
            self.located[rid] = groups

    def _forget(self, rid: str) -> None:
        with self._located_lock:
            self.located.pop(rid, None)

    def check(self, charges: Sequence[Charge], now: float) -> Batch:
        groups = self._groups(charges)
        results, errors = yield from _lockstep(
            {t: self._shard(t).probe([charges[i] for i in ix], now) for t, ix in groups.items()})
        if errors:
            raise _first(errors)
        return _merge(len(charges), groups, results, all(r[0] for r in results.values()))

    def reserve(self, rid: str, charges: Sequence[Charge], now: float) -> Batch:
        groups = self._groups(charges)
        if len(groups) == 1:
            (tag, ix), = groups.items()
            results, errors = yield from _lockstep({tag: self._shard(tag).reserve(rid, charges, now)})
            if errors:
                raise _first(errors)
            out = results[tag]
            if charges and not any(o.outcome == "limited" and c.spec.enforce
                                   for o, c in zip(out, charges)):
                self._remember(rid, groups)
            return out
        self.cross_shard += 1
        results, errors = yield from _lockstep(
            {t: self._shard(t).prepare(rid, [charges[i] for i in ix], now, self.prepare_ttl)
             for t, ix in groups.items()})
        admitted = not errors and all(r[0] for r in results.values())
        if not admitted:
            held = [t for t, r in results.items() if r[0]] + list(errors)
            if held:  # give back what was held; a lost abort expires after prepare_ttl
                yield from _lockstep({t: self._shard(t).second("abort", rid, now) for t in held})
            if errors:
                raise _first(errors)
            return _merge(len(charges), groups, results, False)
        done, errors = yield from _lockstep(
            {t: self._shard(t).second("commit", rid, now, _f(self.reservation_ttl))
             for t in groups})
        if errors or any(r[0] != "ok" for r in done.values()):
            # a commit failed or found its hold expired: undo them all, as if never admitted
            yield from _lockstep({t: self._shard(t).second("abort", rid, now) for t in groups})
            if errors:
                raise _first(errors)
            raise StoreUnavailable("redis cluster store: a first-phase hold expired before its commit")
        self._remember(rid, groups)
        return _merge(len(charges), groups, results, True)

    def reconcile(self, rid: str, actual: Mapping[str, float], now: float) -> Batch:
        groups = self.located.get(rid)
        if groups is None:
            return []
        results, errors = yield from _lockstep(
            {t: self._shard(t).reconcile(rid, actual, now) for t in groups})
        if errors:
            raise _first(errors)
        self._forget(rid)
        return _in_order(sum(map(len, groups.values())), groups, results)

    def release(self, rid: str, now: float) -> Batch:
        groups = self.located.get(rid)
        if groups is None:
            return None
        _, errors = yield from _lockstep({t: self._shard(t).release(rid, now) for t in groups})
        if errors:
            raise _first(errors)
        self._forget(rid)
        return None

    def seed(self, spec: LimitSpec, key: str, used: float, now: float) -> Batch:
        tag = next(iter(self._groups([Charge(spec, key, 0.0)])))
        _, errors = yield from _lockstep({tag: self._shard(tag).seed(spec, key, used, now)})
        if errors:
            raise _first(errors)
        return None


def _in_order(n: int, groups: Mapping[str, list[int]], results: Mapping[str, list[Outcome]]) -> list[Outcome]:
    out: list[Any] = [None] * n
    for tag, ix in groups.items():
        for i, o in zip(ix, results[tag]):
            out[i] = o
    return [o for o in out if o is not None]


def _merge(n: int, groups: Mapping[str, list[int]], results: Mapping[str, Any],
           admitted: bool) -> list[Outcome]:
    """The outcomes of a check or two-phase reserve, each built as if by one call that admits
    the request or not as a whole (``used`` counts the cost only when every tag admits)."""
    out: list[Any] = [None] * n
    for tag, ix in groups.items():
        _, recorded, reply = results[tag]
        t = float(reply[1])
        reads = reply[4:]
        for j, (i, c) in enumerate(zip(ix, recorded)):
            out[i] = build_outcome(c, locate(c.spec, c.key, t), _n(reads[2 * j]),
                                   _n(reads[2 * j + 1]), t, admitted)
    return out
