"""Cooldowns are shared through the limit store, as the live metrics are (SPEC §12: "kept in
the limit store so that every gateway process shares them"; docs/routing.md, "Cooldown"): a key
one gateway process saw answer 429 with a wait is tried last by every process over the same
SQLite file or Redis, with the breaker semantics of one process (per provider, key and model;
never skipped; the latest word replaces an earlier one; gone when its wait ends), learned in the
round trip that records an attempt's outcome, so the happy path has no round trip more.

Before (route29), each process learned on its own: the second process's next request asked the
rate limited key first, one wasted 429 round trip per process per key and wait."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy import stores
from aigw_policy.engine.cooldown import Cooldowns
from aigw_policy.routing.metrics import route_metrics_for

from .stores_for_tests import redis_url
from .test_route_cooldown import at, tried
from .test_routing_engine import ok, policy, request

KINDS = ["sqlite", "redis"]
LIMITED = {"status_code": 429, "headers": {"retry-after": "30"}}
MINI = {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


class Store:
    """One shared store as each gateway process opens it (its own connections)."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.path = str(tmp_path / f"s-{uuid.uuid4().hex[:8]}.db")
        self.tag = f"c-{uuid.uuid4().hex[:10]}"
        self.opened: list[Any] = []

    def open(self) -> Any:
        if self.kind == "sqlite":
            return stores.SQLiteStore(self.path)
        return stores.RedisStore(redis_url(), hash_tag=self.tag, clock="client")

    def process(self) -> ap.Engine:
        """A gateway process's engine: the store's limits, its metrics, its own cooldowns (as `serve` makes them)."""
        store = self.open()
        metrics = route_metrics_for(store, cache_s=0)
        self.opened.append(metrics)
        return ap.Engine(policy(), store=store, route_metrics=metrics, cooldowns=Cooldowns())

    def close(self) -> None:
        for m in self.opened:
            if self.kind == "redis":
                m.clear()
            m.close()


@pytest.fixture(params=KINDS)
def shared(request: Any, tmp_path: Path) -> Any:
    s = Store(request.param, tmp_path)
    yield s
    s.close()


def mini(id: str, seconds: float) -> dict[str, Any]:
    """A request of another model: an attempt recorded (its answer's round trip brings the news)."""
    return {"id": id, "now": at(seconds), "request": {"url": "https://api.openai.com/v1/chat/completions",
                                                       "body": MINI}, "response": ok("gpt-4o-mini")}


def test_a_key_one_process_saw_rate_limited_is_tried_last_by_another(shared: Store) -> None:
    a, b = shared.process(), shared.process()
    first = a.evaluate(request(id="a1", attempts=[LIMITED, ok("gpt-4o")]))
    assert tried(first) == [("gpt-4o", "ka"), ("gpt-4o", "kb")]
    assert tried(b.evaluate(mini("b1", 1))) == [("gpt-4o-mini", "ka")]  # not cooling: gpt-4o's limit alone
    second = b.evaluate(request(id="b2", now=at(2), response=ok("gpt-4o")))
    assert tried(second) == [("gpt-4o", "kb")]
    assert second.routing["cooling"] == [{
        "provider": "openai", "model": "gpt-4o", "key_id": "ka", "until": at(30),
        "because": f"answered 429 asking to wait 30s; tried after the other candidates until {at(30)}"}]
    b.evaluate(mini("b3", 31))  # its wait is over: gone from the store, and from b
    assert tried(b.evaluate(request(id="b4", now=at(32), response=ok("gpt-4o")))) == [("gpt-4o", "ka")]


def test_the_latest_word_replaces_an_earlier_one_everywhere(shared: Store) -> None:
    a, b = shared.process(), shared.process()
    a.evaluate(request(id="a1", attempts=[LIMITED, ok("gpt-4o")]))  # ka until 30
    b.evaluate(mini("b1", 1))
    # b's own try of ka (every other candidate failed) is answered: come back in 5 s
    d = b.evaluate(request(id="b2", now=at(2), attempts=[{"status_code": 500}] * 3 + [
        {"status_code": 429, "headers": {"retry-after": "5"}}, ok("gpt-4o")]))
    assert tried(d)[-1] == ("gpt-4o", "ka")
    a.evaluate(mini("a2", 3))
    assert a.cooldowns is not None and a.cooldowns.until("openai", "ka", "gpt-4o", at_s(3)) == at_s(7)
    assert tried(a.evaluate(request(id="a3", now=at(8), response=ok("gpt-4o")))) == [("gpt-4o", "ka")]


def test_the_async_paths_share_them_too(shared: Store) -> None:
    async def run() -> None:
        a, b = shared.process(), shared.process()
        await a.aevaluate(request(id="a1", attempts=[LIMITED, ok("gpt-4o")]))
        await b.aevaluate(mini("b1", 1))
        assert tried(await b.aevaluate(request(id="b2", now=at(2), response=ok("gpt-4o")))) == [("gpt-4o", "kb")]
        for m in shared.opened:
            if hasattr(m, "aclose"):
                await m.aclose()

    asyncio.run(run())


def at_s(seconds: float) -> float:
    from .test_routing_engine import T

    return T + seconds


def test_merging_keeps_the_latest_word_and_drops_what_ended() -> None:
    c = Cooldowns()
    c.note("p", "k", "m", 429, {"retry-after": "30"}, 100.0)
    c.merge([("p", "k", "m", 110.0, 99.0, "older")], 101.0)  # noted before this process's word: ignored
    assert c.until("p", "k", "m", 101.0) == 130.0
    c.merge([("p", "k", "m", 105.0, 102.0, "answered 429 asking to wait 3s")], 102.5)
    assert c.cooling("p", "k", "m", 102.5) == (105.0, "answered 429 asking to wait 3s")
    c.merge([("p", "k2", "m", 90.0, 80.0, "over"), ("p", "k3", "m", "soon", 80.0, 1)], 102.5)  # type: ignore[list-item]
    assert len(c) == 1  # an ended one and an unreadable one are not taken


def test_a_process_with_no_shared_store_keeps_no_backlog() -> None:
    c = Cooldowns()
    e = ap.Engine(policy(), cooldowns=c)  # memory: the process's own table is the whole truth
    e.evaluate(request(id="r1", attempts=[LIMITED, ok("gpt-4o")]))
    assert len(c) == 1 and c.drain() == []


def test_the_happy_path_makes_no_more_redis_round_trips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import redis
    from redis.client import Pipeline

    trips: list[str] = []
    real_pipe, real_cmd = Pipeline.execute, redis.Redis.execute_command

    def pipe_execute(self: Any, *a: Any, **kw: Any) -> Any:
        trips.append("pipeline")
        return real_pipe(self, *a, **kw)

    def command(self: Any, *a: Any, **kw: Any) -> Any:
        if not isinstance(self, Pipeline):
            trips.append(str(a[0]))
        return real_cmd(self, *a, **kw)

    s = Store("redis", tmp_path)
    try:
        with_cool, without = s.process(), s.process()
        without.cooldowns = None
        counts = []
        for n, e in enumerate((without, with_cool)):
            e.evaluate(request(id=f"w{n}", response=ok("gpt-4o")))  # (connections made)
            monkeypatch.setattr(Pipeline, "execute", pipe_execute)
            monkeypatch.setattr(redis.Redis, "execute_command", command)
            trips.clear()
            e.evaluate(request(id=f"r{n}", now=at(1), response=ok("gpt-4o")))
            counts.append(list(trips))
            monkeypatch.undo()
        assert counts[0] == counts[1], counts
    finally:
        s.close()
