"""A key answered 429 with when to come back is tried last by later requests until then
(engine/cooldown.py; docs/routing.md, "Cooldown"): never skipped, per (provider, key, model),
bounded, shown in the decision; and, over random failure sequences and clocks, usage is still
charged exactly once, to what served."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

import aigw_policy as ap
from aigw_policy.engine.cooldown import MAX_WAIT_S, Cooldowns, rate_limit_wait
from aigw_policy.routing.model import AttemptOutcome, Next, Serve

from aigw_policy.limits.model import Charge

from .test_routing_engine import T, ok, policy, request, used
from .test_routing_properties import ListLedger

PAIRS = [("gpt-4o", "ka"), ("gpt-4o", "kb"), ("gpt-4o-mini", "ka"), ("gpt-4o-mini", "kb")]


def at(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(T + seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def tried(d: ap.Decision) -> list[tuple[str, str]]:
    return [(a["model"], a["key_id"]) for a in d.routing["attempts"]]


_RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
# status, headers -> the seconds the key cools down (None: it does not)[, the error body]
WAITS: dict[str, tuple[Any, ...]] = {
    "retry-after seconds": (429, {"retry-after": "30"}, 30.0),
    "retry-after-ms wins": (429, {"retry-after-ms": "2500", "retry-after": "3"}, 2.5),
    "http date": (429, {"Retry-After": "Thu, 26 Nov 2026 12:00:45 GMT"}, 45.0),
    "capped": (429, {"retry-after": "86400"}, MAX_WAIT_S),
    "openai reset, remaining 0": (429, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s"},
                                  90.0),
    "openai reset ms": (429, {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "750ms"}, 0.75),
    "the longest exhausted reset": (429, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s",
                                          "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "20s"},
                                    20.0),
    "a reset of a limit not exhausted": (429, {"x-ratelimit-remaining-requests": "5",
                                               "x-ratelimit-reset-requests": "20s"}, None),
    "anthropic reset time": (429, {"anthropic-ratelimit-tokens-remaining": "0",
                                   "anthropic-ratelimit-tokens-reset": "2026-11-26T12:00:12Z"}, 12.0),
    "unreadable": (429, {"retry-after": "soon"}, None),
    "negative": (429, {"retry-after": "-5"}, None),
    "zero": (429, {"retry-after": "0"}, None),
    "nothing said": (429, {}, None),
    "a 503 is no key's limit": (503, {"retry-after": "30"}, None),
    "a 500": (500, {"retry-after": "30"}, None),
    # (then the error body: Google's APIs say when in it, a `google.rpc.RetryInfo`, and send no header)
    "gemini retryDelay": (429, {}, 37.5, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []}, _RETRY_INFO | {"retryDelay": "37.5s"}]}}),
    "google openai-compatible, a list": (429, {}, 20.0, [{"error": {"code": 429, "details": [
        _RETRY_INFO | {"retryDelay": "20s"}]}}]),
    "a header wins over the body": (429, {"retry-after": "3"}, 3.0, {"error": {"details": [
        _RETRY_INFO | {"retryDelay": "20s"}]}}),
    "an unreadable header, the body": (429, {"retry-after": "soon"}, 20.0, {"error": {"details": [
        _RETRY_INFO | {"retryDelay": "20s"}]}}),
    "retryDelay capped": (429, {}, MAX_WAIT_S, {"error": {"details": [_RETRY_INFO | {"retryDelay": "86400s"}]}}),
    "retryDelay unreadable": (429, {}, None, {"error": {"details": [_RETRY_INFO | {"retryDelay": "37 seconds"}]}}),
    "another detail type": (429, {}, None, {"error": {"details": [{"@type": "x.RetryInfo", "retryDelay": "9s"}]}}),
    "a 503's retryDelay is no key's limit": (503, {}, None, {"error": {"details": [_RETRY_INFO | {"retryDelay": "9s"}]}}),
}


@pytest.mark.parametrize("case", sorted(WAITS))
def test_the_wait_a_rate_limit_answer_says(case: str) -> None:
    status, headers, want, *body = WAITS[case]
    assert rate_limit_wait(status, headers, T, *body) == want


def test_a_later_request_tries_the_cooling_key_last_and_the_trace_says_so() -> None:
    e = ap.Engine(policy(), cooldowns=Cooldowns(), trace=True)
    first = e.evaluate(request(id="r1", attempts=[{"status_code": 429, "headers": {"retry-after": "30"}},
                                                  ok("gpt-4o")]))
    assert tried(first) == [("gpt-4o", "ka"), ("gpt-4o", "kb")]
    assert "cooling" not in first.routing
    second = e.evaluate(request(id="r2", now=at(10), response=ok("gpt-4o")))
    assert tried(second) == [("gpt-4o", "kb")]  # ka is not asked again while it cools down
    assert second.routing["cooling"] == [{
        "provider": "openai", "model": "gpt-4o", "key_id": "ka", "until": at(30),
        "because": f"answered 429 asking to wait 30s; tried after the other candidates until {at(30)}"}]
    # the plan's order otherwise: kb, then gpt-4o-mini's keys, then the cooling ka last
    assert [(c["model"], c["key_id"]) for c in second.routing["candidates"]] == [
        ("gpt-4o", "kb"), ("gpt-4o-mini", "ka"), ("gpt-4o-mini", "kb"), ("gpt-4o", "ka")]
    text = second.text()
    assert f"openai:gpt-4o key ka  last: cooling down, answered 429 asking to wait 30s" in text, text
    after = e.evaluate(request(id="r3", now=at(31), response=ok("gpt-4o")))
    route = next(r for r in second.trace if r["rule"] == "route")
    assert "; cooling down, tried last: openai:gpt-4o key ka until " + at(30) in route["actions"][0]["outcome"]
    assert tried(after) == [("gpt-4o", "ka")] and "cooling" not in after.routing  # its time is over


def test_a_cooling_key_is_still_tried_when_every_other_candidate_fails() -> None:
    e = ap.Engine(policy(), cooldowns=Cooldowns())
    e.evaluate(request(id="r1", attempts=[{"status_code": 429, "headers": {"retry-after": "60"}}, ok("gpt-4o")]))
    d = e.evaluate(request(id="r2", now=at(1), attempts=[{"status_code": 500}] * 3 + [ok("gpt-4o")]))
    assert tried(d) == [("gpt-4o", "kb"), ("gpt-4o-mini", "ka"), ("gpt-4o-mini", "kb"), ("gpt-4o", "ka")]
    assert d.routing["served"]["key_id"] == "ka" and d.status_code == 200
    assert used(e, "model-tpm", "gpt-4o") == 24  # the two served answers, 12 tokens each


def test_the_cooldown_is_per_model_of_a_key() -> None:
    # OpenAI's and Anthropic's limits are per model: gpt-4o's 429 says nothing of gpt-4o-mini
    e = ap.Engine(policy(), cooldowns=Cooldowns())
    e.evaluate(request(id="r1", attempts=[{"status_code": 429, "headers": {"retry-after": "60"}}, ok("gpt-4o")]))
    body = {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    d = e.evaluate({"id": "r2", "now": at(1), "request": {"url": "https://api.openai.com/v1/chat/completions",
                                                          "body": body}, "response": ok("gpt-4o-mini")})
    assert tried(d) == [("gpt-4o-mini", "ka")]


@pytest.mark.parametrize("answer", [
    {"status_code": 500, "headers": {"retry-after": "60"}},
    {"status_code": 429},
    {"status_code": 429, "headers": {"retry-after": "later"}},
    {"error": "timeout"},
])
def test_answers_that_say_no_wait_cool_nothing(answer: dict[str, Any]) -> None:
    e = ap.Engine(policy(), cooldowns=Cooldowns())
    e.evaluate(request(id="r1", attempts=[answer, ok("gpt-4o")]))
    assert tried(e.evaluate(request(id="r2", now=at(1), response=ok("gpt-4o")))) == [("gpt-4o", "ka")]


def test_without_cooldowns_an_engine_plans_as_before() -> None:
    # explain, test and replay build engines without: one request's simulated 429 moves no other
    e = ap.Engine(policy())
    e.evaluate(request(id="r1", attempts=[{"status_code": 429, "headers": {"retry-after": "60"}}, ok("gpt-4o")]))
    assert tried(e.evaluate(request(id="r2", now=at(1), response=ok("gpt-4o")))) == [("gpt-4o", "ka")]


def test_memory_is_bounded_and_the_least_recently_noted_go() -> None:
    c = Cooldowns(max_entries=3)
    for n in range(5):
        c.note("p", f"k{n}", "m", 429, {"retry-after": "60"}, T)
    assert len(c) == 3
    assert c.until("p", "k0", "m", T) is None and c.until("p", "k4", "m", T) == T + 60
    assert c.note("p", None, "m", 429, {"retry-after": "60"}, T) is None  # a client's own key: not the route's
    c.note("p", "k4", "m", 429, {"retry-after": "5"}, T + 1)  # the provider's latest word
    assert c.until("p", "k4", "m", T + 2) == T + 6
    assert c.until("p", "k4", "m", T + 6) is None and len(c) == 2  # an expired one is dropped when read


WAIT = st.sampled_from([None, 1, 5, 30, 120])
FAIL = st.one_of(
    WAIT.map(lambda w: AttemptOutcome(status_code=429, headers={"retry-after": str(w)} if w else {})),
    st.sampled_from([AttemptOutcome(status_code=500), AttemptOutcome(status_code=503, headers={"retry-after": "9"}),
                     AttemptOutcome(error="timeout"), AttemptOutcome(error="connect")]))
OK = st.tuples(st.integers(1, 300), st.integers(0, 300)).map(lambda t: AttemptOutcome(
    status_code=200, body={"usage": {"prompt_tokens": t[0], "completion_tokens": t[1]}}))


def used_at(e: ap.Engine, model: str, now: float) -> float:
    spec = e.compiled.limits["model-tpm"][1].limit.spec  # type: ignore[union-attr]
    return e.store.check([Charge(spec, model, 0.0)], now)[0].used


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.lists(st.one_of(FAIL, OK), max_size=5)), min_size=1, max_size=6))
def test_cooling_keys_go_last_and_usage_is_charged_once(requests: list[tuple[int, list[AttemptOutcome]]]) -> None:
    """A model of the cooldowns beside the engine's: each request's attempts are the plan's
    candidates with the cooling ones moved last (so none is ever skipped for cooling: a request
    whose every attempt fails tries all four); each request moves the counters by exactly the
    tokens its served answer reported (nothing for one that failed), and the ledger agrees."""
    ledger = ListLedger()
    e = ap.Engine(policy(), cooldowns=Cooldowns(), ledger=ledger)
    until: dict[tuple[str, str], float] = {}
    clock, total = 0.0, 0
    for n, (gap, answers) in enumerate(requests):
        clock += gap
        now = T + clock
        rid = f"r{n}"
        before = {m: used_at(e, m, now) for m in ("gpt-4o", "gpt-4o-mini")}
        e.evaluate(request(id=rid, now=at(clock)))
        step = e.attempt(rid, None, now=now)
        order = [p for p in PAIRS if until.get(p, 0) <= now] + [p for p in PAIRS if until.get(p, 0) > now]
        made: list[tuple[str, str]] = []
        outcome = AttemptOutcome(status_code=200, body={})
        while isinstance(step, Next):
            made.append((step.attempt.model, step.attempt.key.id))
            outcome = answers.pop(0) if answers else AttemptOutcome(status_code=200, body={})
            if outcome.status_code == 429 and outcome.headers.get("retry-after"):
                until[made[-1]] = now + float(outcome.headers["retry-after"])
            step = e.attempt(rid, outcome, now=now)
        assert made == order[:len(made)]
        charged = {m: 0 for m in before}
        if isinstance(step, Serve):
            final = e.complete(rid, {"status_code": 200, "body": outcome.body}, now=now)
            charged[made[-1][0]] = final.usage["total_tokens"]
            usage = outcome.body.get("usage") if isinstance(outcome.body, dict) else None
            if usage:  # the served answer's own report
                assert final.usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
            total += final.usage["total_tokens"]
        else:
            assert len(made) == len(PAIRS)  # every candidate, the cooling ones too, was tried
        assert {m: used_at(e, m, now) - before[m] for m in before} == pytest.approx(charged, abs=1e-6)
    assert sum(r.total_tokens for r in ledger.records if r.status_code == 200) == total
    assert len(ledger.records) == len(requests)
