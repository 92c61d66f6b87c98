"""The Redis store: many gateways share limits through one Redis (or one Redis Cluster slot).

Each step is one call of one Lua script (``redis_lua.SCRIPT``), atomic on the server, with
Redis's own clock by default. This module is a thin driver: the request/reply logic is a
generator (sans-IO) that yields script arguments and receives replies, so the sync client
(``redis``) and the async one (``redis.asyncio``) run the very same code.

Bursts: calls share a pool of ``max_connections`` connections per process (sync and async
each); a call that finds them all busy waits in line for one, up to ``pool_timeout`` seconds,
instead of failing. So a burst far larger than the pool is served in order, not answered
with ``StoreUnavailable`` (503 under ``fail_closed``, uncounted under ``fail_open``).

Store failure: a call is bounded by ``pool_timeout`` (waiting for a connection) and
``timeout`` (connect, and each reply); a refused or slow connection, a script error or a
server that is loading or paused raises :class:`StoreUnavailable`. A reserve that reached
the server but whose reply was lost is found again by its request id on the next attempt, so
nothing is charged twice. Once a call has timed out, one call at a time goes to the server
and the others fail at once until one succeeds (:mod:`.breaker`): a paused Redis no longer
costs every request its full time-out.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from .accounting import spec_to_dict
from .breaker import Breaker
from .algorithms import Slot, build_outcome, locate, outcome_after
from .base import DEFAULT_POOL_TIMEOUT, DEFAULT_RECORD_TTL, DEFAULT_RESERVATION_TTL
from .model import Charge, LimitSpec, Outcome, StoreUnavailable
from .protocol_store import ProtocolStore
from .redis_lua import SCRIPT

__all__ = ["RedisStore"]

Step = Generator[list[str], Any, Any]
_TRIES = 4
DEFAULT_REDIS_TIMEOUT = 1.0
"""Seconds to connect to Redis, and for each reply once a call is sent."""
DEFAULT_MAX_CONNECTIONS = 64


def _f(x: float) -> str:
    return repr(float(x))


def _n(s: str) -> float | None:
    return float(s) if s != "" else None


def _charge_args(charges: Sequence[Charge], now: float) -> list[str]:
    out = [str(len(charges))]
    for c in charges:
        slot = locate(c.spec, c.key, now)
        out += _slot_args(c.spec.name, slot)
        out += [_f(c.spec.capacity), _f(c.cost), "1" if c.spec.enforce else "0"]
    return out


def _slot_args(name: str, slot: Slot) -> list[str]:
    gcra = slot.kind == "gcra"
    return [name, slot.kind, slot.cur, slot.prev or "",
            "0" if gcra else _f(slot.start), "0" if gcra else _f(slot.end), _f(slot.window),
            _f(slot.interval), "-1" if gcra else _f(slot.live_until)]


def _meta_charges(meta: str) -> list[Charge]:
    return [Charge(LimitSpec(**spec), key, cost) for spec, key, cost in json.loads(meta)]


def _admission(charges: Sequence[Charge], reply: list[str]) -> list[Outcome]:
    """The outcomes of a check or reserve reply: ``ok``, server time, admitted, meta, then
    two reads (current and previous window) per charge."""
    t = float(reply[1])
    admitted = reply[2] == "1"
    reads = reply[4:]
    return [build_outcome(c, locate(c.spec, c.key, t), _n(reads[2 * i]), _n(reads[2 * i + 1]), t, admitted)
            for i, c in enumerate(charges)]


class _Protocol:
    """The sans-IO half: builds script arguments, reads replies, learns the server clock."""

    def __init__(self, prefix: str, clock: str, reservation_ttl: float, record_ttl: float):
        self.prefix = prefix
        self.pending = prefix + "pending"
        self.server_clock = clock == "server"
        self.reservation_ttl = reservation_ttl
        self.record_ttl = record_ttl
        self.offset: float | None = None  # server time minus local time

    def _now(self, now: float) -> tuple[str, float]:
        """The time argument ('' = the script reads Redis TIME) and our guess of it."""
        if not self.server_clock:
            return _f(now), now
        return "", time.time() + (self.offset or 0.0)

    def _learn(self, server_now: float) -> None:
        if self.server_clock:
            self.offset = server_now - time.time()

    def check(self, charges: Sequence[Charge], now: float) -> Step:
        arg, t = self._now(now)
        for _ in range(_TRIES):
            reply = yield ["check", self.prefix, arg, "", *_charge_args(charges, t)]
            if reply[0] == "retry":
                t = float(reply[1])
                self._learn(t)
                continue
            return _admission(charges, reply)
        raise StoreUnavailable("redis store: server clock does not settle in a window")

    def reserve(self, rid: str, charges: Sequence[Charge], now: float) -> Step:
        arg, t = self._now(now)
        meta = json.dumps([[spec_to_dict(c.spec), c.key, c.cost] for c in charges])
        for _ in range(_TRIES):
            reply = yield ["reserve", self.prefix, arg, rid, *_charge_args(charges, t),
                           _f(self.reservation_ttl), _f(self.record_ttl), meta]
            if reply[0] == "retry":
                t = float(reply[1])
                self._learn(t)
                continue
            return _admission(_meta_charges(reply[3]), reply)
        raise StoreUnavailable("redis store: server clock does not settle in a window")

    def reconcile(self, rid: str, actual: Mapping[str, float], now: float) -> Step:
        arg, _ = self._now(now)
        pairs: list[str] = []
        for name, value in actual.items():
            pairs += [name, _f(value)]
        hints: list[str] = []
        for _ in range(_TRIES):
            reply = yield ["reconcile", self.prefix, arg, rid, str(len(actual)), *pairs,
                           str(len(hints) // 5), *hints]
            if reply[0] == "none":
                return []
            if reply[0] == "need":  # a limit's window ended since the reserve
                t = float(reply[1])
                self._learn(t)
                rec = json.loads(reply[2])
                hints = []
                for i, (it, c) in enumerate(zip(rec["it"], _meta_charges(rec["meta"])), 1):
                    if it["k"] != "gcra" and t >= float(it["e"]):
                        s = locate(c.spec, c.key, t)
                        hints += [str(i), s.cur, s.prev or "", _f(s.start), _f(s.end)]
                continue
            t = float(reply[2])
            rest = reply[3:]
            out = []
            for i, c in enumerate(_meta_charges(reply[1])):
                fin, cur, prev = rest[3 * i: 3 * i + 3]
                out.append(outcome_after(c.spec, c.key, float(fin), locate(c.spec, c.key, t),
                                         _n(cur), _n(prev), t))
            return out
        raise StoreUnavailable("redis store: server clock does not settle in a window")

    def release(self, rid: str, now: float) -> Step:
        arg, _ = self._now(now)
        yield ["release", self.prefix, arg, rid]
        return None

    def seed(self, spec: LimitSpec, key: str, used: float, now: float) -> Step:
        arg, t = self._now(now)
        for _ in range(_TRIES):
            slot = locate(spec, key, t)
            reply = yield ["seed", self.prefix, arg, _f(used), "1", *_slot_args(spec.name, slot),
                           _f(spec.capacity), "0", "1"]
            if reply[0] == "retry":
                t = float(reply[1])
                self._learn(t)
                continue
            return None
        raise StoreUnavailable("redis store: server clock does not settle in a window")


class RedisStore(ProtocolStore):
    """Limits in Redis, shared by every gateway that points at it.

    ``url``: ``redis://host:port/db`` (or ``rediss://``, ``unix://``). ``timeout``: seconds
    for connect and for each reply. ``max_connections``: connections per process (each of
    the sync and async clients); ``pool_timeout``: seconds a call waits for one when all are
    busy. ``clock``: ``"server"`` (Redis ``TIME``, the default: all gateways agree whatever
    their clocks) or ``"client"`` (the ``now`` passed in; tests, replay). ``outbox``: a file
    keeping reconciles and releases Redis did not acknowledge until a retry lands (default:
    in memory, retried while this process lives). ``hash_tag``: every key is
    ``{hash_tag}:...``, one Redis Cluster slot, so one script sees every limit a request
    touches; give tenants different tags to spread them. ``round_trips`` counts calls to the
    server.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *,
                 timeout: float = DEFAULT_REDIS_TIMEOUT, clock: str = "server",
                 hash_tag: str = "aigw", reservation_ttl: float = DEFAULT_RESERVATION_TTL,
                 record_ttl: float = DEFAULT_RECORD_TTL,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 pool_timeout: float = DEFAULT_POOL_TIMEOUT,
                 outbox: str | os.PathLike[str] | None = None) -> None:
        if clock not in ("server", "client"):
            raise ValueError("clock must be 'server' or 'client'")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.url = url
        self.timeout = float(timeout)
        self.pool_timeout = float(pool_timeout)
        self.reservation_ttl = float(reservation_ttl)
        self.record_ttl = float(record_ttl)
        self.prefix = "{" + hash_tag + "}:"
        self._proto = _Protocol(self.prefix, clock, self.reservation_ttl, self.record_ttl)
        self._max_connections = max_connections
        self._init_lock = threading.Lock()
        self._client: Any = None
        self._script: Any = None
        self._aclient: Any = None
        self._ascript: Any = None
        self.round_trips = 0
        self.breaker = Breaker()
        self._outbox_path = outbox
        if outbox is not None:
            self._start_retry()

    def _options(self) -> dict[str, Any]:
        # no retries inside redis-py: a step is retried by request id, never blindly
        return dict(socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                    decode_responses=True, max_connections=self._max_connections,
                    timeout=self.pool_timeout)

    # sync -----------------------------------------------------------------------------

    def _run(self, step: Step) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        script = self._script
        if script is None:
            with self._init_lock:  # many threads may make the first call at once
                if self._script is None:
                    pool = redis.BlockingConnectionPool.from_url(
                        self.url, retry=Retry(NoBackoff(), 0), **self._options())
                    self._client = redis.Redis.from_pool(pool)
                    self._script = self._client.register_script(SCRIPT)
                script = self._script
        probe = self._may_call()
        try:
            args = next(step)
            while True:
                self.round_trips += 1
                try:
                    reply = script(keys=[self._proto.pending], args=args)
                except redis.RedisError as e:
                    raise self._failed(e) from e
                args = step.send(reply)
        except StopIteration as done:
            self.breaker.ok()
            return done.value
        finally:
            if probe:
                self.breaker.over()

    # async ----------------------------------------------------------------------------

    async def _arun(self, step: Step) -> Any:
        import redis
        import redis.asyncio as aredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        script = self._ascript
        if script is None:  # no await in between: one coroutine creates the client
            pool = aredis.BlockingConnectionPool.from_url(self.url, retry=Retry(NoBackoff(), 0),
                                                          **self._options())
            self._aclient = aredis.Redis.from_pool(pool)
            script = self._ascript = self._aclient.register_script(SCRIPT)
        probe = self._may_call()
        try:
            args = next(step)
            while True:
                self.round_trips += 1
                try:
                    reply = await script(keys=[self._proto.pending], args=args)
                except redis.RedisError as e:
                    raise self._failed(e) from e
                args = step.send(reply)
        except StopIteration as done:
            self.breaker.ok()
            return done.value
        finally:
            if probe:
                self.breaker.over()

    # housekeeping -----------------------------------------------------------------------

    def _may_call(self) -> bool:
        """Whether this call is the probe of a stalled server (:mod:`.breaker`);
        :class:`StoreUnavailable` at once when another call is probing it, or it rests."""
        go, probe = self.breaker.admit()
        if not go:
            raise StoreUnavailable(f"redis store {self._safe_url()}: it stalled (a call timed out) and "
                                   f"{self.breaker.why()}")
        return probe

    def _failed(self, error: Exception) -> StoreUnavailable:
        import redis

        self.breaker.failed(timed_out=isinstance(error, redis.TimeoutError))
        return StoreUnavailable(f"redis store {self._safe_url()}: {error}")

    def _safe_url(self) -> str:
        from ..redact import redact

        return redact(self.url)

    def clear(self) -> None:
        """Delete every key of this store's hash tag (tests; never on a shared prefix)."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                      socket_connect_timeout=self.timeout, decode_responses=True)
        try:
            keys = list(client.scan_iter(match=self.prefix.replace("{", "\\{").replace(
                "}", "\\}") + "*", count=1000))
            for i in range(0, len(keys), 500):
                client.delete(*keys[i:i + 500])
        except redis.RedisError as e:
            raise StoreUnavailable(str(e)) from e
        finally:
            client.close()

    def close(self) -> None:
        self._stop_retry()  # (its last try uses the client: before closing it)
        with self._init_lock:
            if self._client is not None:
                self._client.close()
            self._client = self._script = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            client, self._aclient, self._ascript = self._aclient, None, None
            await client.aclose()
        await asyncio.to_thread(self.close)

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
