"""Live routing metrics (SPEC §12) on memory, the SQLite file of the limit store, and Redis:
counts, latency avg/p95, error rates by class, quota from rate-limit headers, the window,
bounded pairs, and two processes' views of one store."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy import stores
from aigw_policy.routing.metrics import (BIN_RATIO, SLOT_S, MemoryRouteMetrics, RedisRouteMetrics,
                                         SQLiteRouteMetrics, quota_from_headers, route_metrics_for)
from aigw_policy.routing.model import Attempt, AttemptOutcome, KeyRef, ProviderInfo

REDIS_URL = os.environ.get("AIGW_TEST_REDIS", "redis://127.0.0.1:6379/15")
KINDS = ["memory", "sqlite", "redis"]
OPENAI = ProviderInfo("openai", base_url="http://x")
T0 = 1_700_000_000.0


def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    except Exception as error:  # noqa: BLE001 - any reason is shown
        reason = f"Redis at {REDIS_URL} is not usable: {type(error).__name__}: {error}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + " (CI=true: Redis tests must run)")
        pytest.skip(reason)
    return REDIS_URL


def make(kind: str, tmp_path: Any, **kw: Any) -> Any:
    if kind == "memory":
        return MemoryRouteMetrics(**kw)
    if kind == "sqlite":
        return SQLiteRouteMetrics(str(tmp_path / f"m-{uuid.uuid4().hex[:8]}.db"), **kw)
    return RedisRouteMetrics(redis_url(), prefix="{t-" + uuid.uuid4().hex[:10] + "}:", **kw)


@pytest.fixture(params=KINDS)
def metrics(request: Any, tmp_path: Any) -> Any:
    m = make(request.param, tmp_path)
    yield m
    if request.param == "redis":
        m.clear()
    if hasattr(m, "close"):
        m.close()


def attempt(model: str = "gpt-4o", key: str | None = "k1") -> Attempt:
    return Attempt(1, OPENAI, model, KeyRef(key, "${secrets.get('v', 'n')}", 0) if key else None, "openai")


def test_counts_latency_and_error_classes(metrics: Any) -> None:
    outcomes = [AttemptOutcome(200, latency_ms=100.0, time_to_first_token_ms=20.0),
                AttemptOutcome(200, latency_ms=300.0),
                AttemptOutcome(429, latency_ms=5.0, headers={"x-ratelimit-remaining-requests": "0",
                                                             "x-ratelimit-limit-requests": "60"}),
                AttemptOutcome(404, latency_ms=5.0),
                AttemptOutcome(503, latency_ms=5.0),
                AttemptOutcome(None, error="timeout", latency_ms=1000.0),
                AttemptOutcome(None, error="connect"),
                AttemptOutcome(302, latency_ms=5.0)]
    for i, o in enumerate(outcomes):
        metrics.record(attempt(), o, T0 + i)
    snap = metrics.snapshot(T0 + 10)
    m = snap["models"][("openai", "gpt-4o")]
    assert m["request_count"] == 8 and m["model"] == "gpt-4o" and m["provider"] == "openai"
    assert m["error_rate"] == {"total": 5 / 8, "timeout": 1 / 8, "rate_limit": 1 / 8, "client": 1 / 8, "server": 1 / 8}
    assert m["latency"]["upstream_ms_avg"] == pytest.approx((100 + 300 + 5 * 4 + 1000) / 7, abs=1e-3)
    assert m["latency"]["time_to_first_token_ms_avg"] == 20.0
    assert 1000 <= m["latency"]["upstream_ms_p95"] <= 1000 * BIN_RATIO
    k = snap["keys"][("openai", "k1")]
    assert k["request_count"] == 8 and k["error_rate"]["rate_limit"] == 1 / 8
    assert k["quota"] == {"remaining_requests": 0, "remaining_tokens": None, "limit_requests": 60,
                          "limit_tokens": None}


# how a served answer broke afterwards (gateway/routing.py `_broke_after_serving`) -> the error class it adds
LATE = {"cut": ("malformed", "server"), "quiet": ("timeout", "timeout")}


@pytest.mark.parametrize("how", sorted(LATE))
def test_a_served_answer_that_broke_later_is_an_error_not_another_request(metrics: Any, how: str) -> None:
    error, kind = LATE[how]
    metrics.record(attempt(), AttemptOutcome(200, latency_ms=50.0, time_to_first_token_ms=50.0), T0)
    metrics.record(attempt(), AttemptOutcome(200, latency_ms=70.0, time_to_first_token_ms=70.0), T0 + 1)
    metrics.record(attempt(), AttemptOutcome(error=error, late=True), T0 + 2)  # the first one's stream broke
    snap = metrics.snapshot(T0 + 3)
    for pair in (snap["models"][("openai", "gpt-4o")], snap["keys"][("openai", "k1")]):
        assert pair["request_count"] == 2 and pair["error_rate"]["total"] == pair["error_rate"][kind] == 0.5
    assert snap["models"][("openai", "gpt-4o")]["latency"]["upstream_ms_avg"] == 60.0  # its latency counted once
    # its request's slot gone from the window (the late error's kept): the rate is at most 1
    metrics.record(attempt(), AttemptOutcome(error=error, late=True), T0 + 295)
    assert metrics.snapshot(T0 + 305)["models"][("openai", "gpt-4o")]["error_rate"]["total"] <= 1.0


def test_window_slides_and_quota_ages_out(metrics: Any) -> None:
    metrics.record(attempt(), AttemptOutcome(500, latency_ms=1.0,
                                             headers={"anthropic-ratelimit-tokens-remaining": "900"}), T0)
    metrics.record(attempt(), AttemptOutcome(200, latency_ms=1.0), T0 + 200)
    mid = metrics.snapshot(T0 + 250)["models"][("openai", "gpt-4o")]
    assert mid["request_count"] == 2 and mid["error_rate"]["server"] == 0.5
    later = metrics.snapshot(T0 + 320)
    assert later["models"][("openai", "gpt-4o")]["request_count"] == 1
    assert later["models"][("openai", "gpt-4o")]["error_rate"]["total"] == 0.0
    assert later["keys"][("openai", "k1")]["quota"]["remaining_tokens"] is None
    empty = metrics.snapshot(T0 + 600)
    assert {k: v for k, v in empty.items() if k != "version"} == {"models": {}, "keys": {}}
    assert type(empty["version"]) is int


def test_an_unchanged_memory_store_gives_the_same_version(metrics: Any) -> None:
    """The planner memoizes metric-reading strategies per version: a snapshot keeps its
    version until a record, a slot change or a quota ageing out changes what it says."""
    metrics.record(attempt(), AttemptOutcome(200, latency_ms=1.0, headers={"x-ratelimit-remaining-requests": "5"}), T0)
    first = metrics.snapshot(T0 + 1)
    assert metrics.snapshot(T0 + 1)["version"] == first["version"]
    metrics.record(attempt(), AttemptOutcome(200, latency_ms=1.0), T0 + 2)
    second = metrics.snapshot(T0 + 2)
    if getattr(metrics, "cache_s", 0) == 0:  # a shared store is read again only after cache_s
        assert second["version"] != first["version"]
        assert second["models"][("openai", "gpt-4o")]["request_count"] == 2


def test_no_key_no_key_metrics(metrics: Any) -> None:
    metrics.record(attempt(key=None), AttemptOutcome(200, latency_ms=1.0), T0)
    snap = metrics.snapshot(T0)
    assert snap["keys"] == {} and snap["models"][("openai", "gpt-4o")]["request_count"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_pairs_are_bounded(kind: str, tmp_path: Any) -> None:
    m = make(kind, tmp_path, max_pairs=5)
    try:
        for i in range(40):
            m.record(attempt(f"model-{i}", key=f"key-{i}"), AttemptOutcome(200, latency_ms=1.0), T0 + i * 0.01)
        snap = m.snapshot(T0 + 1)
        assert len(snap["models"]) <= 10 and len(snap["keys"]) <= 10
        assert ("openai", "model-39") in snap["models"]  # the most recent stay
        assert ("openai", "model-0") not in snap["models"]
    finally:
        if kind == "redis":
            m.clear()
        if hasattr(m, "close"):
            m.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_two_processes_share_one_store(kind: str, tmp_path: Any) -> None:
    if kind == "sqlite":
        path = str(tmp_path / "shared.db")
        a, b = SQLiteRouteMetrics(path), SQLiteRouteMetrics(path)
    else:
        prefix = "{t-" + uuid.uuid4().hex[:10] + "}:"
        a, b = RedisRouteMetrics(redis_url(), prefix=prefix), RedisRouteMetrics(redis_url(), prefix=prefix)
    try:
        a.record(attempt(), AttemptOutcome(200, latency_ms=10.0), T0)
        b.record(attempt(), AttemptOutcome(429, latency_ms=10.0), T0 + 1)
        for m in (a, b):
            got = m.snapshot(T0 + 2)["models"][("openai", "gpt-4o")]
            assert got["request_count"] == 2 and got["error_rate"]["rate_limit"] == 0.5
    finally:
        if kind == "redis":
            a.clear()
        a.close()
        b.close()


def test_async_paths_agree(metrics: Any) -> None:
    async def run() -> Any:
        await metrics.arecord(attempt(), AttemptOutcome(200, latency_ms=7.0), T0)
        metrics.record(attempt(), AttemptOutcome(500, latency_ms=7.0), T0)
        got = await metrics.asnapshot(T0 + 1)
        if hasattr(metrics, "aclose"):
            await metrics.aclose()
        return got

    got = asyncio.run(run())
    assert got == metrics.snapshot(T0 + 1)
    assert got["models"][("openai", "gpt-4o")]["request_count"] == 2


def test_route_metrics_for_follows_the_store(tmp_path: Any) -> None:
    assert isinstance(route_metrics_for(stores.MemoryStore()), MemoryRouteMetrics)
    s = stores.SQLiteStore(tmp_path / "l.db")
    m = route_metrics_for(s)
    assert isinstance(m, SQLiteRouteMetrics) and m.path == s.path
    m.close()
    s.close()
    r = stores.RedisStore(redis_url(), hash_tag="t-x")
    rm = route_metrics_for(r)
    assert isinstance(rm, RedisRouteMetrics) and rm.prefix == "{t-x}:rm:"
    assert isinstance(route_metrics_for(object()), MemoryRouteMetrics)


@pytest.mark.parametrize(("headers", "quota"), [
    ({"x-ratelimit-remaining-tokens": "149984", "x-ratelimit-limit-tokens": "150000"},
     {"remaining_tokens": 149984, "limit_tokens": 150000}),
    ({"Anthropic-RateLimit-Requests-Remaining": "49", "anthropic-ratelimit-requests-limit": "50"},
     {"remaining_requests": 49, "limit_requests": 50}),
    ({"x-ratelimit-remaining-requests": "-1", "x-ratelimit-limit-requests": "6m0s"}, {}),
    ({"content-type": "application/json"}, {}),
])
def test_quota_headers(headers: dict[str, str], quota: dict[str, int]) -> None:
    assert quota_from_headers(headers) == quota


STATUSES = st.one_of(st.none(), st.sampled_from([200, 201, 301, 400, 401, 404, 429, 500, 502, 503]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(STATUSES, st.sampled_from([None, "timeout", "connect"]),
                          st.floats(0, 100_000, allow_nan=False)), min_size=1, max_size=30))
def test_memory_counts_match_a_recount(events: list[tuple[Any, Any, float]]) -> None:
    m = MemoryRouteMetrics()
    for i, (status, error, ms) in enumerate(events):
        m.record(attempt(), AttemptOutcome(None if error else status, error=error, latency_ms=ms), T0 + i * 0.1)
    got = m.snapshot(T0 + SLOT_S)["models"][("openai", "gpt-4o")]
    n = len(events)
    assert got["request_count"] == n
    codes = [None if e else s for s, e, _ in events]
    want_total = sum(1 for (s, e, _), c in zip(events, codes) if e or c is None or not 200 <= c < 400)
    assert got["error_rate"]["total"] == pytest.approx(want_total / n)
    assert got["error_rate"]["timeout"] == pytest.approx(sum(1 for _, e, _ in events if e == "timeout") / n)
    assert got["error_rate"]["rate_limit"] == pytest.approx(codes.count(429) / n)
    true_p95 = sorted(ms for *_, ms in events)[-(-95 * n // 100) - 1]  # nearest rank
    assert true_p95 - 1e-6 <= got["latency"]["upstream_ms_p95"] <= max(true_p95 * BIN_RATIO, 1.0) + 1e-3


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_shared_store_is_read_at_most_once_per_cache_period(kind: str, tmp_path: Any) -> None:
    if kind == "sqlite":
        path = str(tmp_path / "cached.db")
        a, b = SQLiteRouteMetrics(path, cache_s=3600), SQLiteRouteMetrics(path, cache_s=0)
    else:
        prefix = "{t-" + uuid.uuid4().hex[:10] + "}:"
        a = RedisRouteMetrics(redis_url(), prefix=prefix, cache_s=3600)
        b = RedisRouteMetrics(redis_url(), prefix=prefix, cache_s=0)
    try:
        pair = ("openai", "gpt-4o")
        assert a.snapshot(T0)["models"] == {}
        b.record(attempt(), AttemptOutcome(200, latency_ms=1.0), T0)
        assert a.snapshot(T0)["models"] == {}  # another process's record: not before the period ends
        assert a.snapshot(T0 + SLOT_S)["models"][pair]["request_count"] == 1  # a new slot reads again
        a.record(attempt(), AttemptOutcome(200, latency_ms=1.0), T0 + SLOT_S)
        assert a.snapshot(T0 + SLOT_S)["models"][pair]["request_count"] == 2  # its own: at once
    finally:
        if kind == "redis":
            a.clear()
        a.close()
        b.close()


steps = st.lists(st.tuples(st.sampled_from(["gpt-4o", "o3", "gpt-4.1"]), st.sampled_from([None, "k1", "k2"]),
                           st.sampled_from([200, 429, 503, None]),
                           st.one_of(st.floats(0, 40), st.floats(-400, 0), st.floats(300, 400)), st.booleans()),
                 min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_memory_snapshots_keep_unchanged_pairs_and_equal_a_fresh_reading(ops: list[Any]) -> None:
    """A memory store reuses an unchanged model pair's summary (no record since, the same
    slots and seconds): the same object as in the snapshot before, and every snapshot equals
    what a store fed the same records without that history gives."""
    kept = MemoryRouteMetrics()
    last_given = None  # the snapshot before: what "changed" is relative to
    now, done, before, since = T0, [], None, set()
    for model, key, status, dt, snap_now in ops:
        now += dt
        o = AttemptOutcome(status, error=None if status else "timeout", latency_ms=abs(dt) * 10)
        kept.record(attempt(model, key), o, now)
        done.append((model, key, o, now))
        since.add(model)
        if not snap_now:
            continue
        got = kept.snapshot(now)
        fresh = MemoryRouteMetrics()
        for m, k, o2, t in done:
            fresh.record(attempt(m, k), o2, t)
        want = fresh.snapshot(now)
        assert ({k: v for k, v in got.items() if k not in ("version", "changed")}
                == {k: v for k, v in want.items() if k != "version"})
        if "changed" in got:  # the store's claim: the snapshot of that version's pairs, but those it names
            version, remade = got["changed"]
            assert last_given is not None and last_given["version"] == version
            for pair in got["models"].keys() | last_given["models"].keys():
                if pair not in remade:
                    assert got["models"].get(pair) is last_given["models"].get(pair), pair
        last_given = got
        seconds = ((now - 300) // SLOT_S, int(now - 300), int(now))
        if before is not None and before[1] == seconds:
            for pair, summary in got["models"].items():
                if pair[1] not in since and pair in before[0]["models"]:
                    assert summary is before[0]["models"][pair], pair  # not recorded since: the same object
        before, since = (got, seconds), set()


def test_memory_snapshot_reuses_an_unchanged_pair_and_remakes_a_recorded_one() -> None:
    m = MemoryRouteMetrics()
    m.record(attempt("gpt-4o"), AttemptOutcome(200, latency_ms=50.0), T0)
    m.record(attempt("o3"), AttemptOutcome(200, latency_ms=70.0), T0)
    first = m.snapshot(T0 + 0.1)
    m.record(attempt("o3"), AttemptOutcome(500, latency_ms=90.0), T0 + 0.2)
    second = m.snapshot(T0 + 0.3)
    assert second["version"] != first["version"]
    assert second["models"][("openai", "gpt-4o")] is first["models"][("openai", "gpt-4o")]
    assert second["models"][("openai", "o3")] is not first["models"][("openai", "o3")]
    assert second["models"][("openai", "o3")]["request_count"] == 2
    m.record(attempt("o3"), AttemptOutcome(200, latency_ms=90.0), T0 + 1.4)
    third = m.snapshot(T0 + 1.5)  # another second: its start and end times are others
    assert third["models"][("openai", "gpt-4o")] is not second["models"][("openai", "gpt-4o")]
    assert third["models"][("openai", "gpt-4o")]["end_time"] == int(T0 + 1.5)


def test_memory_store_keeps_nothing_for_evicted_pairs_without_snapshots() -> None:
    """A gateway whose strategies read no metrics never takes a snapshot: what the store keeps
    per pair for the next one stays within ``max_pairs``, whatever models clients name."""
    m = MemoryRouteMetrics(max_pairs=8)
    for i in range(500):
        m.record(attempt(f"passthrough-{i}", key=None), AttemptOutcome(200, latency_ms=5.0), T0 + i)
    assert len(m) == 8 and len(m._dirty) <= 8 and len(m._closed) <= 8
