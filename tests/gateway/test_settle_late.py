"""The response phase after the last byte (``PolicyMiddleware.settles_late``): the client gets
exactly what the plain path (the response phase before the last byte) sends, the ledger and
the counters end the same, and the counters are settled before the event loop runs anything
after the last byte's write."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware

from .stub import StubUpstream

POLICY = '''policy "late" {
  on request {
    rule "premium" {
      when ai.model == "gpt-4.1" && identity.team != "research"
      deny 403 "reserved"
    }
    rule "downgrade" {
      when ai.model == "gpt-4o" && identity.team == "econ"
      set-model "gpt-4o-mini"
    }
    rule "clamp" {
      max-tokens { output: 100, mode: "clamp" }
    }
    rule "tpm" {
      token-limit { name: "tpm", capacity: 400, rate: 1h, bucket_key: [identity.team] }
    }
    rule "rpm" {
      rate-limit { name: "rpm", capacity: 6, rate: 1h, bucket_key: [identity.team] }
    }
    rule "tag" {
      add-headers { headers: { "x-team": "${identity.team}" } }
    }
  }
}
'''
WITH_RESPONSE_RULE = POLICY.replace('''  }
}
''', '''  }
  on response {
    rule "served-by" {
      add-headers { headers: { "x-served": "late" } }
    }
  }
}
''', 1)
TEAMS = {"sk-a": "research", "sk-b": "econ"}
_TIMING = {"latency_ms", "overhead_ms", "start_ns", "upstream_ms", "decision", "request_id"}


class Identity:
    def __call__(self, scope: Any, headers: Any) -> Any:
        key = headers.get("authorization", "").removeprefix("Bearer ")
        return {"key": key, "team": TEAMS[key]} if key in TEAMS else None


def middleware(late: bool, policy: str = POLICY, **kw: Any) -> tuple[PolicyMiddleware, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    engine = ap.Engine(ap.loads(policy), store=ap.stores.MemoryStore(), **kw)
    mw = PolicyMiddleware(StubUpstream(), engine, identity=Identity(), observer=events.append,
                          settle_after_answer=late)
    return mw, events


async def call(mw: PolicyMiddleware, body: dict[str, Any], key: str, on_last: Any = None) -> list[dict[str, Any]]:
    data = json.dumps(body).encode()
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "scheme": "http", "server": ("gw", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"gw"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(data)).encode()), (b"authorization", f"Bearer {key}".encode())]}
    sent: list[dict[str, Any]] = []
    given_body = False

    async def receive() -> dict[str, Any]:
        nonlocal given_body
        if not given_body:
            given_body = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if on_last is not None and message["type"] == "http.response.body" and not message.get("more_body"):
            asyncio.get_running_loop().call_soon(on_last)

    await mw(scope, receive, send)
    return sent


def wire(sent: list[dict[str, Any]]) -> list[Any]:
    """What the client received, the request id made a constant."""
    rid = next(v for m in sent if m["type"] == "http.response.start" for k, v in m["headers"]
               if k == b"x-aigw-decision-id")
    out: list[Any] = []
    for m in sent:
        if m["type"] == "http.response.start":
            out.append((m["status"], [(k, v.replace(rid, b"RID")) for k, v in m["headers"]]))
        else:
            out.append((m.get("body", b"").replace(rid, b"RID"), m.get("more_body", False)))
    return out


def plain_event(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _TIMING}


request = st.fixed_dictionaries({
    "model": st.sampled_from(["gpt-4o", "gpt-4.1", "gpt-4o-mini", "fail-x"]),
    "messages": st.just([{"role": "user", "content": "hi"}]),
}, optional={"stream": st.booleans(), "max_tokens": st.integers(1, 300)})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(request, st.sampled_from(sorted(TEAMS))), min_size=1, max_size=8))
def test_the_client_sees_the_same_answers(calls: list[tuple[dict[str, Any], str]]) -> None:
    """Answers, events and counters, request by request, as on the plain path (limits run
    out within a sequence: 429s are compared too). The clock stands still: the two paths'
    ``RateLimit`` reset times must not straddle a second."""
    async def run() -> None:
        late, late_events = middleware(True)
        plain, plain_events = middleware(False)
        assert late.settles_late(late.engine) and not plain.settles_late(plain.engine)
        for body, key in calls:
            a = await call(late, body, key)
            b = await call(plain, body, key)
            assert wire(a) == wire(b)
            assert plain_event(late_events[-1]) == plain_event(plain_events[-1])
            assert late.engine.store.snapshot() == pytest.approx(plain.engine.store.snapshot(), abs=0.01)

    with mock.patch("time.time", return_value=time.time()):
        asyncio.run(run())


def test_counters_settled_before_the_loop_runs_on() -> None:
    """A callback the loop runs after the last byte's write (the next request's, a GET
    /v1/aigw/limits) finds the request settled: its tokens are the actual usage, no longer the
    reservation."""
    async def run() -> None:
        mw, _ = middleware(True)
        seen: list[dict[str, float]] = []
        await call(mw, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, "sk-a",
                   on_last=lambda: seen.append(mw.engine.store.snapshot()))
        await asyncio.sleep(0)
        settled = mw.engine.store.snapshot()
        assert seen == [settled]
        plain, _ = middleware(False)
        await call(plain, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, "sk-a")
        assert settled == pytest.approx(plain.engine.store.snapshot(), abs=0.01)

    asyncio.run(run())


def test_only_when_nothing_can_change_the_answer(tmp_path: Any) -> None:
    """A response rule, a ledger or a store other than the in-memory one: before the last byte."""
    from aigw_policy.ledger import Ledger

    assert middleware(True)[0].settles_late(middleware(True)[0].engine)
    mw, _ = middleware(True, WITH_RESPONSE_RULE)
    assert not mw.settles_late(mw.engine)
    with Ledger(f"sqlite:{tmp_path / 'u.db'}") as ledger:
        mw, _ = middleware(True, ledger=ledger)
        assert not mw.settles_late(mw.engine)
    engine = ap.Engine(ap.loads(POLICY), store=ap.stores.SQLiteStore(str(tmp_path / "l.db")))
    assert not PolicyMiddleware(StubUpstream(), engine).settles_late(engine)
    assert not middleware(False)[0].settles_late(middleware(False)[0].engine)


def test_a_response_rule_still_changes_the_answer() -> None:
    async def run() -> None:
        mw, _ = middleware(True, WITH_RESPONSE_RULE)
        sent = await call(mw, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, "sk-a")
        assert (b"x-served", b"late") in sent[0]["headers"]

    asyncio.run(run())
