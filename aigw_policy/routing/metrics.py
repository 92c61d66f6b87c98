"""Live metrics of routing (SPEC §12): per (provider, model) and per (provider, key id), what
selection strategies read as ``m.metrics.global.*`` and ``k.quota.*`` / ``k.error_rate.*``.

Each attempt's outcome is counted into time slots (:data:`SLOT_S` seconds); a snapshot sums
the slots of the last ``window`` seconds: request count, latency (upstream and time to first
token: average, and p95 read from a histogram of bins :data:`BIN_RATIO` wide, so within
that factor), error rates (``total``: any answer that is not 2xx/3xx or none at all;
``timeout``; ``rate_limit``: 429; ``client``: other 4xx; ``server``: 5xx). A key's quota is
the last one its provider reported in rate-limit response headers (OpenAI
``x-ratelimit-{remaining,limit}-{requests,tokens}``, Anthropic
``anthropic-ratelimit-{requests,tokens}-{remaining,limit}``), kept for one window.

Where they live follows the limit store (:func:`route_metrics_for`), so every gateway
process sharing a store shares its metrics: in memory (:class:`MemoryRouteMetrics`), a
SQLite table beside the limits, or Redis hashes (one per pair and slot, expiring) indexed by
a sorted set. Memory stays bounded: at most ``max_pairs`` pairs of each kind (the least
recently used go first) and ``window / SLOT_S`` slots per pair. Only key *ids* are ever
stored, never a key's value.

Its Redis clients, like those of the owners of background responses (owners.py), come from
:mod:`.redis_clients`.

The metrics are advice to the planner, never a gate: a shared store that fails or stalls
(Redis down or paused, SQLite locked) loses the records made meanwhile (one warning says so)
and, for :data:`REST_S` seconds after, is not asked again (records dropped, snapshots fail
at once and the planner sees no metrics), so an attempt's answer never fails for a metric and
waits for the store's time-out at most once per rest, not once per attempt.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from .cooling_store import SCHEMA as _COOLING, RedisCooling, SharesCooling, sqlite_exchange
from .model import Attempt, AttemptOutcome, MetricsSnapshot, RouteMetrics
from .redis_clients import RedisClients

__all__ = ["BIN_RATIO", "DEFAULT_WINDOW", "MemoryRouteMetrics", "RedisRouteMetrics", "SLOT_S", "SQLiteRouteMetrics",
           "quota_from_headers", "route_metrics_for"]

SLOT_S = 10.0
"""Seconds per time slot."""
DEFAULT_WINDOW = 300.0
"""Seconds of history a snapshot covers (ngrok's metrics are recent, not all-time)."""
DEFAULT_MAX_PAIRS = 2048
BIN_RATIO = 1.25
REST_S = 5.0
"""Seconds a shared store that failed is left alone (see the module's docstring)."""
DEFAULT_CACHE_S = 1.0
"""Seconds a process reuses a snapshot of a shared store (SQLite, Redis) before reading it
again; its own records are seen at once. Other processes' records show within this time."""
_ERRORS = ("total", "timeout", "rate_limit", "client", "server")
_ERROR_KEYS = tuple((e, f"e.{e}") for e in _ERRORS)
_LATENCIES = tuple((f"{name}.n", f"{name}.sum", f"{name}.b", f"{label}_avg", f"{label}_p95")
                   for name, label in (("up", "upstream_ms"), ("ttft", "time_to_first_token_ms")))
"""Per latency: its counters' names (count, sum, the bins' prefix) and its two summary fields."""
_FIELDS = tuple((f"{name}.n", f"{name}.sum", tuple(f"{name}.b{b}" for b in range(100))) for name in ("up", "ttft"))
"""Per latency, as :func:`fields_of` counts it: the count's and the sum's names, and each bin's."""
_QUOTA_HEADERS = {
    "x-ratelimit-remaining-requests": "remaining_requests", "x-ratelimit-remaining-tokens": "remaining_tokens",
    "x-ratelimit-limit-requests": "limit_requests", "x-ratelimit-limit-tokens": "limit_tokens",
    "anthropic-ratelimit-requests-remaining": "remaining_requests",
    "anthropic-ratelimit-tokens-remaining": "remaining_tokens",
    "anthropic-ratelimit-requests-limit": "limit_requests", "anthropic-ratelimit-tokens-limit": "limit_tokens",
}
Pair = tuple[str, str, str]  # (kind "m" | "k", provider, model or key id)
_log = logging.getLogger("aigw_policy.routing")


class MetricsUnavailable(RuntimeError):
    """The shared store of the metrics failed a moment ago and is resting (:data:`REST_S`)."""


def quota_from_headers(headers: Mapping[str, str]) -> dict[str, int]:
    """The quota fields a provider's rate-limit headers tell (absent or unreadable: left out).

    >>> quota_from_headers({"X-RateLimit-Remaining-Requests": "59", "x-ratelimit-limit-tokens": "n/a"})
    {'remaining_requests': 59}
    """
    out: dict[str, int] = {}
    for name, value in headers.items():
        field = _QUOTA_HEADERS.get(name.lower())
        if field is not None and str(value).strip().isdigit():
            out[field] = int(str(value).strip())
    return out


def fields_of(outcome: AttemptOutcome) -> dict[str, float]:
    """The counters one outcome adds to its pairs' current slot (a ``late`` one: its error only)."""
    f: dict[str, float] = {} if outcome.late else {"n": 1.0}
    status = outcome.status_code
    kind = None
    if outcome.error is None and status is not None and 200 <= status < 400:  # (a success: no error counted)
        pass
    elif outcome.error == "timeout":
        kind = "timeout"
    elif outcome.error == "malformed":  # an answer no client can read: the server's failure, a 502's
        kind = "server"
    elif status is not None and status == 429:
        kind = "rate_limit"
    elif status is not None and 400 <= status < 500:
        kind = "client"
    elif status is not None and status >= 500:
        kind = "server"
    if kind is not None or outcome.error is not None or status is None or not 200 <= status < 400:
        f["e.total"] = 1.0
    if kind is not None:
        f[f"e.{kind}"] = 1.0
    for (count, total, bins), ms in zip(_FIELDS, (outcome.latency_ms, outcome.time_to_first_token_ms)):
        if ms is not None and ms >= 0 and math.isfinite(ms) and not outcome.late:
            f[count] = 1.0
            f[total] = float(ms)
            f[bins[_bin(ms)]] = 1.0
    return f


def _bin(ms: float) -> int:
    return 0 if ms < 1 else min(int(math.log(ms) / _LOG_RATIO) + 1, 99)  # (math.log(ms, BIN_RATIO), as CPython computes it)


_LOG_RATIO = math.log(BIN_RATIO)


def _bin_top(b: int) -> float:
    return 1.0 if b == 0 else BIN_RATIO ** b


def summarize(provider: str, name: str, kind: str, counts: Mapping[str, float], start: float, end: float,
              quota: Mapping[str, int] | None = None) -> dict[str, Any]:
    """One pair's metrics in ngrok's shape, from its summed counters."""
    get = counts.get
    n = get("n", 0.0)
    latency: dict[str, float | None] = {}
    bins: dict[str, list[tuple[int, float]]] | None = None
    for count, total, prefix, avg, p95 in _LATENCIES:
        seen = get(count, 0.0)
        if seen:
            if bins is None:  # every latency's bins, in one pass over the counters
                bins = {"up.b": [], "ttft.b": []}
                for k, v in counts.items():
                    if (where := _BIN_OF.get(k)) is not None:
                        bins[where[0]].append((where[1], v))
            latency[avg] = round(get(total, 0.0) / seen, 3)
            latency[p95] = _p95_of(bins[prefix], seen)
        else:
            latency[avg] = latency[p95] = None
    out: dict[str, Any] = {
        "provider": provider, "request_count": int(n), "start_time": int(start), "end_time": int(end),
        "latency": latency,
        "error_rate": ({e: min(1.0, get(key, 0.0) / n) for e, key in _ERROR_KEYS} if n  # (a late error, its
                       else dict.fromkeys(_ERRORS, 0.0)),  # request's slot gone: at most 1)
    }
    if kind == "m":
        out["model"] = name
    else:
        out["id"] = name
        out["quota"] = {q: (quota or {}).get(q) for q in
                        ("remaining_requests", "remaining_tokens", "limit_requests", "limit_tokens")}
    return out


_BIN_OF = {name: (prefix, b) for (_, _, names), prefix in zip(_FIELDS, ("up.b", "ttft.b"))
           for b, name in enumerate(names)}
"""Each bin counter's name -> its latency's prefix and its number (``up.b12`` -> ``("up.b", 12)``)."""


def _p95_of(counted: list[tuple[int, float]], seen: float) -> float:
    """The top of the bin (its number, and its count in ``counted``) where 95% of ``seen`` is reached."""
    bins = sorted(counted)
    need, acc = 0.95 * seen, 0.0
    for b, v in bins:
        acc += v
        if acc >= need - 1e-9:
            return round(_bin_top(b), 3)
    return round(_bin_top(bins[-1][0]), 3) if bins else 0.0


def _pairs(attempt: Attempt) -> list[Pair]:
    out: list[Pair] = [("m", attempt.provider.id, attempt.model)]
    if attempt.key is not None:
        out.append(("k", attempt.provider.id, attempt.key.id))
    return out


def _snapshot(rows: Iterable[tuple[Pair, Mapping[str, float]]], quotas: Mapping[tuple[str, str], Mapping[str, int]],
              start: float, end: float) -> MetricsSnapshot:
    models: dict[tuple[str, str], Any] = {}
    keys: dict[tuple[str, str], Any] = {}
    for (kind, provider, name), counts in rows:
        where = models if kind == "m" else keys
        where[(provider, name)] = summarize(provider, name, kind, counts, start, end, quotas.get((provider, name)))
    for (provider, key), quota in quotas.items():  # a key whose counts aged out keeps its quota a while
        if (provider, key) not in keys:
            keys[(provider, key)] = summarize(provider, key, "k", {}, start, end, quota)
    return {"models": models, "keys": keys}


class _Windowed(RouteMetrics):
    def __init__(self, window: float, max_pairs: int, cache_s: float = 0.0) -> None:
        if window < SLOT_S or max_pairs < 1:
            raise ValueError(f"window is at least {SLOT_S:g}s and max_pairs at least 1")
        self.window = float(window)
        self.max_pairs = int(max_pairs)
        self.cache_s = float(cache_s)
        self._cache: tuple[int, float, MetricsSnapshot] | None = None
        self._rest_until = 0.0

    def _resting(self) -> bool:
        return time.monotonic() < self._rest_until

    def _failed(self, error: BaseException) -> None:
        """The store failed: rest it, and say so once (never the store's URL: only the error's kind)."""
        if not self._resting():
            _log.warning("routing metrics: the store failed (%s); records are dropped and snapshots skipped "
                         "for %gs", type(error).__name__, REST_S)
        self._rest_until = time.monotonic() + REST_S

    def _rested(self, now: float) -> MetricsSnapshot | None:
        """The cached snapshot; :class:`MetricsUnavailable` while the store rests."""
        if self._resting():
            raise MetricsUnavailable("the routing metrics' store is resting after a failure")
        return self._cached(now)

    def _first_slot(self, now: float) -> int:
        return int((now - self.window) // SLOT_S) + 1

    def _cached(self, now: float) -> MetricsSnapshot | None:
        """The last snapshot, when it is of the same slot and younger than ``cache_s``
        (planning reads a snapshot per request: a shared store is read at most that often)."""
        c = self._cache
        if c is not None and c[0] == int(now // SLOT_S) and time.monotonic() - c[1] < self.cache_s:
            return c[2]
        return None

    def _keep(self, now: float, snap: MetricsSnapshot, version: int | None = None) -> MetricsSnapshot:
        """Stamp a new snapshot with a ``version`` (the planner memoizes strategies that read
        metrics per version; ``version``: one already drawn) and keep it for ``cache_s``."""
        snap = {**snap, "version": next(_VERSIONS) if version is None else version}
        if self.cache_s > 0:
            self._cache = (int(now // SLOT_S), time.monotonic(), snap)
        return snap


_VERSIONS = itertools.count(1)


class MemoryRouteMetrics(_Windowed):
    """Live metrics in this process (``memory:`` store, ``explain``, tests). Thread-safe."""

    def __init__(self, *, window: float = DEFAULT_WINDOW, max_pairs: int = DEFAULT_MAX_PAIRS,
                 cache_s: float = 0.0) -> None:
        super().__init__(window, max_pairs, cache_s)
        self._lock = threading.Lock()
        self._changes = 0  # records so far: an unchanged store gives the same snapshot (and version)
        self._last: tuple[int, int, float, MetricsSnapshot] | None = None
        # the model pairs of the last snapshot, with what they were made for (its first slot and
        # seconds) and its version: the next one of the same copies them and remakes only the
        # pairs recorded since (``_dirty``), so an unchanged pair's summary is the same object in
        # both, and says which it remade (``changed``: the planner asks those alone again,
        # routing/incremental.py)
        self._base: tuple[tuple[int, int, int], dict[tuple[str, str], Any], int] | None = None
        self._dirty: set[Pair] = set()
        self._keyed = False  # some key pair was recorded (else a snapshot has no key pairs to sum)
        self._closed: dict[Pair, tuple[int, int, dict[str, float]]] = {}
        self._slots: OrderedDict[Pair, dict[int, dict[str, float]]] = OrderedDict()
        self._quota: OrderedDict[tuple[str, str], tuple[float, dict[str, int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._slots)

    def record(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        add = fields_of(outcome)
        slot = int(now // SLOT_S)
        first = self._first_slot(now)
        quota = quota_from_headers(outcome.headers) if outcome.headers else None
        with self._lock:
            self._changes += 1
            if attempt.key is not None:
                self._keyed = True
            all_slots = self._slots
            for pair in _pairs(attempt):
                self._dirty.add(pair)
                slots = all_slots.get(pair)
                if slots is None:
                    slots = all_slots[pair] = {}
                else:
                    all_slots.move_to_end(pair)  # most recent last
                # a pair's slots are kept in time order: its oldest first, its newest last
                gone = [s for s in slots if s < first] if slots and next(iter(slots)) < first else ()
                for old in gone:
                    del slots[old]
                cell = slots.get(slot)
                if cell is None:
                    newest = next(reversed(slots)) if slots else slot
                    cell = slots[slot] = {}
                    if slot < newest:  # a record of an earlier time: put in its place
                        ordered = sorted(slots.items())
                        slots.clear()
                        slots.update(ordered)
                        self._closed.pop(pair, None)
                    elif gone:
                        self._closed.pop(pair, None)
                elif gone or next(reversed(slots)) != slot:  # (a record of an earlier time)
                    self._closed.pop(pair, None)
                for k, v in add.items():
                    cell[k] = cell.get(k, 0.0) + v
            if len(self._slots) > self.max_pairs:  # the least recently used pairs go, from what is kept for them too
                _cap(self._slots, self.max_pairs)
                self._base = None
                self._closed = {p: c for p, c in self._closed.items() if p in self._slots}
                self._dirty &= self._slots.keys()  # (no snapshot may come: a policy whose strategies read none)
            if quota and attempt.key is not None:
                kid = (attempt.provider.id, attempt.key.id)
                old_q = self._quota.pop(kid, (0.0, {}))[1]
                self._quota[kid] = (now, {**old_q, **quota})
                _cap(self._quota, self.max_pairs)

    def snapshot(self, now: float) -> MetricsSnapshot:
        cached = self._cached(now)
        if cached is not None:
            return cached
        first = self._first_slot(now)
        with self._lock:
            last, changes = self._last, self._changes
            if last is not None and last[0] == first and last[1] == changes and now < last[2]:
                return last[3]
            seconds = (first, int(now - self.window), int(now))
            base, dirty, self._dirty = self._base, self._dirty, set()
            if base is not None and base[0] == seconds:  # the same window: only the pairs recorded since
                pairs: Iterable[Pair] = [p for p in dirty if p[0] == "m"]
            else:
                base, pairs = None, [p for p in self._slots if p[0] == "m"]
            slots_of = self._slots
            rows = [(p, self._counts(p, slots_of[p], first)) for p in pairs if p in slots_of]
            if self._keyed:
                rows += [(p, self._counts(p, slots, first)) for p, slots in slots_of.items() if p[0] == "k"]
            live = [(k, at, q) for k, (at, q) in self._quota.items() if at > now - self.window] if self._quota else []
            quotas = {k: q for k, _, q in live}
            start = now - self.window
            if base is not None and not self._keyed and not quotas:  # model pairs only: the base's, those remade
                models = dict(base[1])
                remade = []
                for (_, provider, name), c in rows:
                    if c:  # (a pair in the base keeps the slots it had in this window)
                        models[(provider, name)] = summarize(provider, name, "m", c, start, now)
                        remade.append((provider, name))
                built: dict[str, Any] = {"models": models, "keys": {}, "changed": (base[2], frozenset(remade))}
            else:
                built = dict(_snapshot([(p, c) for p, c in rows if c], quotas, start, now))
            if base is not None and "changed" not in built:
                models = dict(base[1])
                remade = []
                for (kind, provider, name), c in rows:
                    if kind == "m" and c:  # (a pair in the base keeps the slots it had in this window)
                        models[(provider, name)] = built["models"][(provider, name)]
                        remade.append((provider, name))
                built["models"] = models
                # every other model pair is the very object the snapshot of that version has
                built["changed"] = (base[2], frozenset(remade))
            version = next(_VERSIONS)
            self._base = (seconds, built["models"], version)  # (under the lock: the next snapshot starts from it)
        # the snapshot stands until a record, the next slot, or the oldest quota ageing out
        until = min((at + self.window for _, at, _ in live), default=math.inf) if live else math.inf
        snap = self._keep(now, built, version)
        self._last = (first, changes, until, snap)
        return snap

    def _counts(self, pair: Pair, slots: dict[int, dict[str, float]], first: int) -> dict[str, float]:
        """The sum of ``pair``'s slots from ``first`` (in their order: the same additions as
        summing them all), its older slots' sum kept for the next time (under the lock)."""
        if not slots:
            return {}
        newest = next(reversed(slots))
        kept = self._closed.get(pair)
        if kept is not None and kept[0] == first and kept[1] == newest:
            older = kept[2]
        else:
            older = _sum(c for s, c in slots.items() if s >= first and s != newest)
            self._closed[pair] = (first, newest, older)
        if newest < first:
            return dict(older)
        out = dict(older)  # _sum((older, newest)): the same additions (0.0 + x is x for these counts)
        get = out.get
        for k, v in slots[newest].items():
            out[k] = get(k, 0.0) + v
        return out


def _cap(d: OrderedDict[Any, Any], most: int) -> None:
    while len(d) > most:
        d.popitem(last=False)


def _sum(cells: Iterable[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for cell in cells:
        for k, v in cell.items():
            out[k] = out.get(k, 0.0) + v
    return out


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS aigw_route_metrics ("
    " kind TEXT NOT NULL, provider TEXT NOT NULL, name TEXT NOT NULL, slot INTEGER NOT NULL,"
    " counts TEXT NOT NULL, PRIMARY KEY (kind, provider, name, slot)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS aigw_route_pairs ("
    " kind TEXT NOT NULL, provider TEXT NOT NULL, name TEXT NOT NULL, last_seen REAL NOT NULL,"
    " quota TEXT, quota_at REAL, PRIMARY KEY (kind, provider, name)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS aigw_route_pairs_seen ON aigw_route_pairs (last_seen)", _COOLING,
)


class SQLiteRouteMetrics(SharesCooling, _Windowed):
    """Live metrics in the SQLite file of the limit store (tables ``aigw_route_metrics`` and
    ``aigw_route_pairs``), shared by every process on the host. Each record is one
    transaction; old slots and the pairs past ``max_pairs`` are deleted as records come."""

    def __init__(self, path: str, *, window: float = DEFAULT_WINDOW, max_pairs: int = DEFAULT_MAX_PAIRS,
                 timeout: float = 5.0, cache_s: float = DEFAULT_CACHE_S) -> None:
        from ..limits.sqlite_open import open_sqlite

        super().__init__(window, max_pairs, cache_s)
        self.path = path
        self._lock = threading.Lock()
        self._db = open_sqlite(path, schema=_SCHEMA, synchronous="NORMAL", busy_timeout=timeout,
                               names=("aigw_route_metrics", "aigw_route_pairs", "aigw_route_pairs_seen",
                                      "aigw_route_cooling"))

    def record(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        if self._resting():
            return
        try:
            self._record(attempt, outcome, now)
        except sqlite3.Error as error:
            self._failed(error)

    def _record(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        add = fields_of(outcome)
        slot = int(now // SLOT_S)
        quota = quota_from_headers(outcome.headers)
        self._cache = None  # this process sees its own records at once
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for kind, provider, name in _pairs(attempt):
                    row = db.execute("SELECT counts FROM aigw_route_metrics WHERE kind=? AND provider=? AND name=?"
                                     " AND slot=?", (kind, provider, name, slot)).fetchone()
                    counts = _sum([json.loads(row[0]), add]) if row else add
                    db.execute("INSERT OR REPLACE INTO aigw_route_metrics VALUES (?, ?, ?, ?, ?)",
                               (kind, provider, name, slot, json.dumps(counts)))
                    db.execute("INSERT INTO aigw_route_pairs (kind, provider, name, last_seen) VALUES (?, ?, ?, ?)"
                               " ON CONFLICT (kind, provider, name) DO UPDATE SET last_seen = excluded.last_seen",
                               (kind, provider, name, now))
                    if kind == "k" and quota:
                        old = db.execute("SELECT quota FROM aigw_route_pairs WHERE kind='k' AND provider=? AND"
                                         " name=?", (provider, name)).fetchone()
                        merged = {**(json.loads(old[0]) if old and old[0] else {}), **quota}
                        db.execute("UPDATE aigw_route_pairs SET quota=?, quota_at=? WHERE kind='k' AND provider=?"
                                   " AND name=?", (json.dumps(merged), now, provider, name))
                self._trim(db, now)
                cooling = sqlite_exchange(db, self._board, now) if self._board is not None else None
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        if cooling is not None and self._board is not None:
            self._board.merge(cooling, now)

    def _trim(self, db: Any, now: float) -> None:
        db.execute("DELETE FROM aigw_route_metrics WHERE slot < ?", (self._first_slot(now),))
        for kind in ("m", "k"):
            (count,) = db.execute("SELECT count(*) FROM aigw_route_pairs WHERE kind=?", (kind,)).fetchone()
            if count > self.max_pairs:
                for provider, name in db.execute(
                        "SELECT provider, name FROM aigw_route_pairs WHERE kind=? ORDER BY last_seen LIMIT ?",
                        (kind, count - self.max_pairs)).fetchall():
                    db.execute("DELETE FROM aigw_route_pairs WHERE kind=? AND provider=? AND name=?",
                               (kind, provider, name))
                    db.execute("DELETE FROM aigw_route_metrics WHERE kind=? AND provider=? AND name=?",
                               (kind, provider, name))

    def snapshot(self, now: float) -> MetricsSnapshot:
        cached = self._rested(now)
        if cached is not None:
            return cached
        try:
            return self._snapshot(now)
        except sqlite3.Error as error:
            self._failed(error)
            raise

    def _snapshot(self, now: float) -> MetricsSnapshot:
        with self._lock:
            rows = self._db.execute("SELECT kind, provider, name, counts FROM aigw_route_metrics WHERE slot >= ?",
                                    (self._first_slot(now),)).fetchall()
            qrows = self._db.execute("SELECT provider, name, quota FROM aigw_route_pairs WHERE kind='k' AND"
                                     " quota IS NOT NULL AND quota_at > ?", (now - self.window,)).fetchall()
        summed: dict[Pair, dict[str, float]] = {}
        for kind, provider, name, counts in rows:
            pair = (kind, provider, name)
            summed[pair] = _sum([summed.get(pair, {}), json.loads(counts)])
        quotas = {(p, n): json.loads(q) for p, n, q in qrows}
        return self._keep(now, _snapshot(summed.items(), quotas, now - self.window, now))

    async def arecord(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        await asyncio.to_thread(self.record, attempt, outcome, now)

    async def asnapshot(self, now: float) -> MetricsSnapshot:
        cached = self._cached(now)
        return cached if cached is not None else await asyncio.to_thread(self.snapshot, now)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisRouteMetrics(SharesCooling, _Windowed):
    """Live metrics in the limit store's Redis: a hash per pair and slot
    (``{tag}:rm:<kind>:<provider>:<name>:<slot>``, counters by ``HINCRBYFLOAT``, expiring
    after the window), a sorted set of the pairs by last use (``{tag}:rm:pairs``, trimmed to
    ``max_pairs``) and a hash per key for its quota (``{tag}:rm:q:<provider>:<key id>``)."""

    def __init__(self, url: str, *, prefix: str = "{aigw}:", window: float = DEFAULT_WINDOW,
                 max_pairs: int = DEFAULT_MAX_PAIRS, timeout: float = 2.0, cache_s: float = DEFAULT_CACHE_S) -> None:
        super().__init__(window, max_pairs, cache_s)
        self.url = url
        self.prefix = prefix + "rm:"
        self.timeout = timeout
        self._clients = RedisClients(url, timeout)
        self._sync, self._async = self._clients.sync, self._clients.async_
        self._cooling = RedisCooling(self.prefix + "cool")

    @staticmethod
    def _member(pair: Pair) -> str:
        return json.dumps(pair, separators=(",", ":"))

    def _cell(self, pair: Pair, slot: int) -> str:
        return f"{self.prefix}c:{self._member(pair)}:{slot}"

    def _quota_key(self, provider: str, key_id: str) -> str:
        return f"{self.prefix}q:{self._member(('k', provider, key_id))}"

    def _write(self, pipe: Any, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        self._cache = None  # this process sees its own records at once
        add = fields_of(outcome)
        slot = int(now // SLOT_S)
        ttl = int(self.window + 2 * SLOT_S)
        for pair in _pairs(attempt):
            cell = self._cell(pair, slot)
            for k, v in add.items():
                pipe.hincrbyfloat(cell, k, v)
            pipe.expire(cell, ttl)
            pipe.zadd(self.prefix + "pairs", {self._member(pair): now})
        pipe.zremrangebyscore(self.prefix + "pairs", "-inf", now - self.window)
        pipe.zremrangebyrank(self.prefix + "pairs", 0, -2 * self.max_pairs - 1)  # both kinds
        quota = quota_from_headers(outcome.headers)
        if quota and attempt.key is not None:
            qkey = self._quota_key(attempt.provider.id, attempt.key.id)
            pipe.hset(qkey, mapping={**quota, "at": now})
            pipe.expire(qkey, int(self.window))
        if self._board is not None:  # (its last command: the cooldowns' read)
            self._cooling.write(pipe, self._board)

    def _slots(self, now: float) -> range:
        return range(self._first_slot(now), int(now // SLOT_S) + 1)

    def _members(self, found: Iterable[str]) -> list[Pair]:
        out = []
        for member in found:
            pair = json.loads(member)
            out.append((pair[0], pair[1], pair[2]))
        return out

    def _read(self, pipe: Any, pairs: list[Pair], now: float) -> None:
        for pair in pairs:
            for slot in self._slots(now):
                pipe.hgetall(self._cell(pair, slot))
            if pair[0] == "k":
                pipe.hgetall(self._quota_key(pair[1], pair[2]))

    def _build(self, pairs: list[Pair], replies: list[Any], now: float) -> MetricsSnapshot:
        rows = []
        quotas: dict[tuple[str, str], dict[str, int]] = {}
        it = iter(replies)
        for pair in pairs:
            cells = [next(it) for _ in self._slots(now)]
            counts = _sum({k: float(v) for k, v in cell.items()} for cell in cells)
            if pair[0] == "k":
                q = next(it)
                if q and float(q.get("at", 0)) > now - self.window:
                    quotas[(pair[1], pair[2])] = {k: int(float(v)) for k, v in q.items() if k != "at"}
            if counts:
                rows.append((pair, counts))
        return _snapshot(rows, quotas, now - self.window, now)

    def record(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        if self._resting():
            return
        pipe = self._sync().pipeline(transaction=False)
        self._write(pipe, attempt, outcome, now)
        try:
            replies = pipe.execute()
        except _redis_errors() as error:
            self._failed(error)
        else:
            if self._board is not None:
                self._cooling.read(replies[-1], self._board, now)

    def snapshot(self, now: float) -> MetricsSnapshot:
        cached = self._rested(now)
        if cached is not None:
            return cached
        client = self._sync()
        try:
            pairs = self._members(client.zrangebyscore(self.prefix + "pairs", now - self.window, "+inf"))
            pipe = client.pipeline(transaction=False)
            self._read(pipe, pairs, now)
            replies = pipe.execute() if pairs else []
        except _redis_errors() as error:
            self._failed(error)
            raise
        return self._keep(now, self._build(pairs, replies, now))

    async def arecord(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        if self._resting():
            return
        pipe = self._async().pipeline(transaction=False)
        self._write(pipe, attempt, outcome, now)
        try:
            replies = await pipe.execute()
        except _redis_errors() as error:
            self._failed(error)
        else:
            if self._board is not None:
                self._cooling.read(replies[-1], self._board, now)

    async def asnapshot(self, now: float) -> MetricsSnapshot:
        cached = self._rested(now)
        if cached is not None:
            return cached
        client = self._async()
        try:
            pairs = self._members(await client.zrangebyscore(self.prefix + "pairs", now - self.window, "+inf"))
            pipe = client.pipeline(transaction=False)
            self._read(pipe, pairs, now)
            replies = await pipe.execute() if pairs else []
        except _redis_errors() as error:
            self._failed(error)
            raise
        return self._keep(now, self._build(pairs, replies, now))

    def clear(self) -> None:
        """Delete this prefix's keys (tests)."""
        client = self._sync()
        pattern = self.prefix.replace("{", "\\{").replace("}", "\\}") + "*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()


def _redis_errors() -> tuple[type[BaseException], ...]:
    """What a failing or stalled Redis raises (redis-py is imported only with a Redis store)."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError)


def route_metrics_for(store: Any, *, window: float = DEFAULT_WINDOW, max_pairs: int = DEFAULT_MAX_PAIRS,
                      cache_s: float = DEFAULT_CACHE_S) -> RouteMetrics:
    """The live metrics that go with a limit store: in its SQLite file, in its Redis (same
    hash tag), else in memory (a memory store, or one this does not know)."""
    from ..limits.redis_store import RedisStore
    from ..limits.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        return SQLiteRouteMetrics(store.path, window=window, max_pairs=max_pairs, timeout=store.timeout,
                                  cache_s=cache_s)
    if isinstance(store, RedisStore):
        return RedisRouteMetrics(store.url, prefix=store.prefix, window=window, max_pairs=max_pairs,
                                 timeout=store.timeout, cache_s=cache_s)
    return MemoryRouteMetrics(window=window, max_pairs=max_pairs)  # its own records: seen at once
