"""A burst of 400 concurrent requests through one engine on a plain ``redis://`` (or
``sqlite:``) URL, with the store's default options: exactly the capacity is admitted, the rest
get 429, none 503.

The store queues a process's callers (Redis: a blocking connection pool; SQLite: its lock),
for a bounded wait, instead of failing the 65th concurrent one (or any that waited 0.25 s
for its turn); ``fail_open`` then cannot quietly admit past the limit either.

Redis's reply time-out is raised to 10 s here (the pool's options stay the defaults): 400
coroutines on one event loop on a busy shared machine can leave a healthy reply unread for
over the default 1 s, and ``fail_open`` then admits that caller, as it should (it admitted
194 of 150 once under load 8). What this file checks is the queueing, not the time-out.

Every request carries one fixed ``now`` (and Redis takes it: ``clock="client"``): the limit is
a fixed window of an hour, and a burst that ran across an hour's boundary of the wall clock
admitted the capacity twice over, in two windows (seen as 154 of 150 with the clock sped up).
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

import aigw_policy as ap

from conftest import require_redis

BURST, CAPACITY = 400, 150
NOW = "2026-11-18T01:30:00Z"  # mid-hour: the whole burst is in one window


def _policy(mode: str) -> ap.Policy:
    return ap.loads(f"""
store_failure: {mode}
on_http_request:
  - name: burst-cap
    actions:
      - type: rate-limit
        config: {{name: cap, algorithm: fixed_window, capacity: {CAPACITY}, rate: 1h,
                 bucket_key: [identity.team]}}
""", format="yaml")


def _request(rid: str) -> dict:
    return {"id": rid, "now": NOW, "identity": {"key": "k1", "team": "burst"},
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


@pytest.fixture(params=["redis", "sqlite"])
def burst_store(request, tmp_path):
    if request.param == "sqlite":
        store = ap.stores.from_url(f"sqlite:{tmp_path / 'limits.db'}")
        yield store
        store.close()
        return
    url = require_redis()
    # the pool defaults of ``serve --store redis://...``; the hash tag isolates this test
    store = ap.stores.from_url(url, hash_tag=f"burst-{uuid.uuid4().hex[:10]}", timeout=10.0,
                                 clock="client")
    yield store
    store.clear()
    store.close()


def _tally(decisions) -> dict[int, int]:
    out: dict[int, int] = {}
    for d in decisions:
        out[d.status_code] = out.get(d.status_code, 0) + 1
    return out


def _why(decisions) -> set[str]:
    return {d.reason for d in decisions if d.status_code not in (200, 429)}


@pytest.mark.parametrize("mode", ["fail_closed", "fail_open"])
def test_async_burst_admits_exactly_capacity(burst_store, mode):
    engine = ap.Engine(_policy(mode), store=burst_store)

    async def burst():
        try:
            return await asyncio.gather(*(engine.aevaluate(_request(f"a{i}"), expect_response=False)
                                          for i in range(BURST)))
        finally:
            await burst_store.aclose()

    decisions = asyncio.run(burst())
    assert _tally(decisions) == {200: CAPACITY, 429: BURST - CAPACITY}, _why(decisions)


@pytest.mark.parametrize("mode", ["fail_closed", "fail_open"])
def test_threaded_burst_admits_exactly_capacity(burst_store, mode):
    engine = ap.Engine(_policy(mode), store=burst_store)
    start = threading.Barrier(BURST)
    decisions = [None] * BURST

    def one(i: int) -> None:
        start.wait()
        decisions[i] = engine.evaluate(_request(f"t{i}"), expect_response=False)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _tally(decisions) == {200: CAPACITY, 429: BURST - CAPACITY}, _why(decisions)
