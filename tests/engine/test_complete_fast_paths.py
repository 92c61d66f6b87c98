"""The completion's fast paths (issue #15: ``complete()`` runs after the answer's last byte, on
the event loop the client's next request waits for) complete exactly as the plain ways they
stand in for: the same decisions (``to_dict()``, the evaluation's decision read again after
the completion too), the same ledger records and the same store calls, sync and async, for the
generated policies and requests of test_charge_fast_paths.py:

- ``pending.LIVE_PENDING``: while few requests wait, a request whose response phase runs no
  rule is kept live and forked at ``complete()`` rather than packed and unpacked;
- ``response.FAST_USAGE``: the usage of the usual OpenAI body read with plain dict lookups;
- ``plain_response.FAST_RESPONSE``: a response dict of the usual shape checked by hand, not by the
  ``HttpResponse`` model (also against the model over generated good and bad responses).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine import pending
from aigw_policy.env import plain_response
from aigw_policy.env.request import Identity
from aigw_policy.providers import response as response_mod

from .logged_store import LoggedStore
from .test_charge_fast_paths import policies, requests

FAST = [(pending, "LIVE_PENDING", 64, 0), (response_mod, "FAST_USAGE", True, False),
        (plain_response, "FAST_RESPONSE", True, False)]
"""Each fast path's switch, its fast value and its plain one."""

ANSWERS = [
    {"status_code": 200, "headers": {"content-type": "application/json"},
     "body": {"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 9, "completion_tokens": 4}}},
    {"status_code": 500, "body": {"usage": {"prompt_tokens": 9, "completion_tokens": 4}}},
    {"status_code": 200, "body": {"model": "gpt-4o", "choices": [{"message": {"content": "no usage here"}}]}},
]


class Ledger:
    """Keeps each record's JSON form; ``fail``: the first write raises (a retried completion)."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = fail

    def record(self, rec: Any) -> None:
        if self.fail:
            self.fail = False
            raise RuntimeError("ledger down")
        self.records.append(rec.to_dict())

    async def arecord(self, rec: Any) -> None:
        self.record(rec)


EFFECTS = ("request_headers", "response_headers", "model", "max_output_tokens", "logs", "vars", "rate_limit_headers",
           "nothing")


def _read(d: ap.Decision) -> dict[str, Any]:
    """The decision's JSON form; each effect read alone first (``Decision.effect``) is the
    same as read from the whole ``effects``."""
    alone = {name: d.effect(name) for name in EFFECTS}
    for v in alone.values():  # each a copy: a change to it is not seen by the decision
        if isinstance(v, dict):
            v["probe"] = 1
        elif isinstance(v, list):
            v.append("probe")
    whole = {name: d.effects.get(name) for name in EFFECTS}
    assert "probe" not in repr(whole)
    for v in alone.values():
        if isinstance(v, dict):
            del v["probe"]
        elif isinstance(v, list):
            v.pop()
    assert alone == whole
    return d.to_dict()


def _switch(fast: bool) -> list[Any]:
    old = [getattr(m, name) for m, name, _, _ in FAST]
    for m, name, on, off in FAST:
        setattr(m, name, on if fast else off)
    return old


def _run(text: str, reqs: list[dict[str, Any]], trace: bool, fast: bool, use_async: bool,
         fail: bool) -> tuple[list[Any], list[str], list[dict[str, Any]]]:
    old = _switch(fast)
    try:
        store = LoggedStore()
        ledger = Ledger()
        engine = ap.Engine(ap.loads(text), store=store, trace=trace, ledger=ledger)
        out: list[Any] = []
        waiting = []
        for i, r in enumerate(reqs):
            kw = {"request_id": f"r{i}"}
            d = asyncio.run(engine.aevaluate(r, **kw)) if use_async else engine.evaluate(r, **kw)
            if d.complete:
                out.append(_read(d))
            else:  # read only once its completion ran: the completion must not change it
                waiting.append((i, d))
        ledger.fail = fail  # the first completion's record fails: it is retried
        for i, d in waiting:  # all waiting at once first, then completed
            answer = ANSWERS[i % len(ANSWERS)]
            try:
                done = (asyncio.run(engine.acomplete(f"r{i}", answer)) if use_async
                        else engine.complete(f"r{i}", answer))
            except RuntimeError:
                out.append("failed")
                done = engine.complete(f"r{i}", answer)
            out.append(_read(done))
            out.append(_read(d))  # the evaluation's decision, read after the completion
        return out, store.calls, ledger.records
    finally:
        for (m, name, _, _), was in zip(FAST, old):
            setattr(m, name, was)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(requests(), min_size=1, max_size=5), st.booleans(), st.booleans(), st.booleans())
def test_the_fast_paths_complete_as_the_plain_ways(text: str, reqs: list[dict[str, Any]], trace: bool,
                                                   use_async: bool, fail: bool) -> None:
    assert _run(text, reqs, trace, True, use_async, fail) == _run(text, reqs, trace, False, use_async, fail)


TEXT = """
policy "p" {
  on request {
    rule "tpm" { token-limit { name: "tpm", capacity: 100_000, rate: 60s, bucket_key: [identity.team] } }
    rule "rpm" { rate-limit { name: "rpm", capacity: 100_000, rate: 60s, bucket_key: [identity.team] } }
  }
}
"""
POLICY = ap.loads(TEXT)
PROMPT = "Say hello in five words, please. " * 4


def _req(i: int) -> dict[str, Any]:
    return {"id": f"r{i}", "now": "2026-11-26T12:00:00Z", "identity": {"key": "k", "team": "t"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": "gpt-4o", "max_tokens": 50, "messages": [{"role": "user", "content": PROMPT}]}}}


def test_few_waiting_are_kept_live_and_the_live_ones_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending, "LIVE_PENDING", 3)
    e = ap.Engine(POLICY)
    for i in range(10):
        e.evaluate(_req(i))
    kept = [p.live is not None for p in e._pending.values()]
    assert kept == [True] * 3 + [False] * 7  # past 3 waiting, packed
    for i in range(10):
        e.complete(f"r{i}", ANSWERS[0])
    e.evaluate(_req(10))  # none waiting again: live
    assert e._pending["r10"].live is not None and e._pending["r10"].blob is None


def test_a_response_rule_or_a_trace_is_packed() -> None:
    rule = 'on response { rule "h" { add-headers { headers: { "x": "y" } } } }'
    e = ap.Engine(ap.loads(TEXT.rstrip()[:-1] + rule + "\n}\n"))
    e.evaluate(_req(1))
    assert e._pending["r1"].live is None and e._pending["r1"].blob is not None
    t = ap.Engine(POLICY, trace=True)
    t.evaluate(_req(2))
    assert t._pending["r2"].live is None and t._pending["r2"].blob is not None


def test_a_finished_decision_keeps_the_prompt_length_not_the_prompt() -> None:
    e = ap.Engine(POLICY)
    e.evaluate(_req(1))
    assert e._pending["r1"].live is not None
    final = e.complete("r1", ANSWERS[0])
    assert final._flow.act["ai"]["prompt"] == ""  # type: ignore[union-attr]
    assert final.ai["prompt_chars"] == len(PROMPT) and "prompt" not in final.ai


def test_a_fork_copies_every_slot_of_the_flow() -> None:
    e = ap.Engine(POLICY)
    e.evaluate(_req(1))
    live = e._pending["r1"].live
    assert live is not None
    new = pending.fork(live)
    for name in live.__slots__:
        assert getattr(new, name) == getattr(live, name), name
    for name in ("act", "limit_entries", "errors", "notes", "charges"):
        assert getattr(new, name) is not getattr(live, name), name
    assert all(a is not b for a, b in zip(new.limit_entries.values(), live.limit_entries.values()))


# -- plain_response.FAST_RESPONSE: the response checked by hand ------------------------------------------

JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
                       lambda inner: st.one_of(st.lists(inner, max_size=3),
                                               st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                       max_leaves=8)
ODD = st.sampled_from([(1, 2), b"bytes", {1, 2}, Identity(key="k"), {"nested": (1, "x")}, 1.5, float("nan")])


@st.composite
def raw_responses(draw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["status_code"] = draw(st.one_of(st.sampled_from([200, 204, 429, 500, 99, 600, True, None, "200", 200.0]),
                                          st.integers(-5, 700)))
    if draw(st.booleans()):
        value = st.one_of(st.text(max_size=4), st.lists(st.text(max_size=3), max_size=2),
                          st.sampled_from([1, None, ["a", 2], ("a",)]))
        r["headers"] = draw(st.one_of(st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from([1, b"k"])),
                                                      value, max_size=3),
                                      st.sampled_from([None, [], "h"])))
    if draw(st.booleans()):
        r["body"] = draw(st.one_of(JSONISH, ODD))
    if draw(st.integers(0, 4)) == 0:
        r["sse"] = draw(st.sampled_from(["data: {}\n\n", "", None, 3, b"x"]))
    if draw(st.integers(0, 9)) == 0:
        r["extra"] = 1
    return r


def _checked(r: dict[str, Any], fast: bool) -> Any:
    was = plain_response.FAST_RESPONSE
    plain_response.FAST_RESPONSE = fast
    try:
        out = plain_response.response_dict(r)
        return ("ok", out, [type(v) for v in out["headers"].values()])
    except ap.RequestError as error:
        return ("error", str(error))
    finally:
        plain_response.FAST_RESPONSE = was


@settings(max_examples=500, deadline=None)
@given(raw_responses())
def test_the_response_checked_by_hand_is_the_models(r: dict[str, Any]) -> None:
    fast, plain = _checked(r, True), _checked(r, False)
    assert repr(fast) == repr(plain)  # repr: nan, and 1 vs True vs 1.0, compare as written


def test_the_usual_response_is_checked_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: Any, **kw: Any) -> Any:
        raise AssertionError("the model was used")

    monkeypatch.setattr(plain_response.HttpResponse, "model_validate", refuse)
    out = plain_response.response_dict(ANSWERS[0])
    assert out["body"] == ANSWERS[0]["body"] and out["body"] is not ANSWERS[0]["body"]
    assert out["headers"] == ANSWERS[0]["headers"] and out["headers"] is not ANSWERS[0]["headers"]
