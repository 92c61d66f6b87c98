"""Gemini's Interactions API runs in the background when asked (``background: true``): the
``POST`` answers ``status: in_progress`` with no usage, and a read (``GET
/v1beta/interactions/{id}``, polled) finds it done with its ``usage``. Its answers never say
they ran in the background (the request's field is input only), so every finished interaction
is charged once, under ``bg:{id}``, by the first answer that carries it: the background
``POST``'s first finished read, or a plain ``POST`` itself (its later reads charge nothing).
Before (payloads19), the background ``POST`` was charged its input estimate (its answer has no
usage) and every read nothing: the model's output was never charged.

Shapes: google-genai ``_gaos/types/interactions/interaction.py`` (``status``: ``in_progress``,
``completed``, ``cancelled``...; ``usage``) and ``createmodelinteraction.py`` (``background``:
"Input only"). Each row: the calls a client makes (one team, one token limit), in order, and
the tokens the limit holds after each: the ``POST``'s reservation is its input estimate plus
``max_output_tokens`` (``HELD``), the usage 1030 + 120 = 1150 (cancelled: 1030 + 20)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import classify

POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: [identity.team]}
"""
URL = "https://generativelanguage.googleapis.com/v1beta/interactions"
BODY = {"model": "gemini-2.5-flash", "input": "Write a very long novel about otters in space.",
        "generation_config": {"max_output_tokens": 2000}}
USAGE = {"total_input_tokens": 1000, "total_cached_tokens": 800, "total_output_tokens": 20, "total_thought_tokens": 100,
         "total_tool_use_tokens": 30, "total_tokens": 1150}
RUNNING = {"id": "v1_ChdqaW5n", "status": "in_progress", "model": "gemini-2.5-flash", "created": "2026-12-06T19:00:00Z"}
DONE = {**RUNNING, "status": "completed", "usage": USAGE,
        "steps": [{"type": "model_output", "content": [{"type": "text", "text": "Otters."}]}]}
CANCELLED = {**RUNNING, "status": "cancelled", "usage": {**USAGE, "total_output_tokens": 20, "total_thought_tokens": 0,
                                                         "total_tokens": 1050}}


def _sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e['event_type']}\ndata: {json.dumps(e)}\n\n" for e in events)


STREAMED = _sse({"event_type": "interaction.created", "interaction": RUNNING},
                {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "Otters."}},
                {"event_type": "interaction.completed", "interaction": DONE})
STREAM_CUT = STREAMED[: STREAMED.rindex("event: interaction.completed")]  # the connection lost before the end
STREAM_CUT_EARLY = STREAMED[: STREAMED.index("event: step.delta")]  # nothing but `interaction.created`
POST = ("POST", URL, {**BODY, "background": True}, "application/json", RUNNING)
PLAIN_POST = ("POST", URL, BODY, "application/json", DONE)
STREAM_POST = ("POST", URL, {**BODY, "stream": True}, "text/event-stream", STREAMED)
CUT_POST = ("POST", URL, {**BODY, "stream": True}, "text/event-stream", STREAM_CUT)
CUT_EARLY_POST = ("POST", URL, {**BODY, "stream": True}, "text/event-stream", STREAM_CUT_EARLY)
RESUMED_CUT = ("GET", URL + "/v1_ChdqaW5n?stream=true", None, "text/event-stream", STREAM_CUT)
GET_RUNNING = ("GET", URL + "/v1_ChdqaW5n", None, "application/json", RUNNING)
GET_DONE = ("GET", URL + "/v1_ChdqaW5n", None, "application/json", DONE)
CANCEL = ("POST", URL + "/v1_ChdqaW5n/cancel", None, "application/json", CANCELLED)
HELD = classify({"method": "POST", "url": URL, "body": BODY}).input_tokens + 2000


def _estimate(stream: str) -> int:
    """The usage a cut stream of the streamed ``POST`` is estimated at (its input estimate and
    the text it carried)."""
    from aigw_policy.providers import extract_usage

    ai = classify({"method": "POST", "url": URL, "body": {**BODY, "stream": True}})
    usage = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": stream})
    assert usage.source == "estimate"
    return usage.total_tokens


CUT, CUT_EARLY = _estimate(STREAM_CUT), _estimate(STREAM_CUT_EARLY)

ROWS: list[tuple[str, list[tuple[Any, ...]], list[float]]] = [
    ("background: polled until done, read twice", [POST, GET_RUNNING, GET_DONE, GET_DONE], [HELD, HELD, 1150, 1150]),
    ("background: never read, the reservation holds", [POST], [HELD]),
    ("background: cancelled, then read", [POST, CANCEL, GET_DONE], [HELD, 1050, 1050]),
    ("read, its POST made elsewhere", [GET_DONE, GET_DONE], [1150, 1150]),
    ("not background: the POST charged, its reads nothing", [PLAIN_POST, GET_DONE, GET_DONE], [1150, 1150, 1150]),
    ("streamed to its end, then read", [STREAM_POST, GET_DONE], [1150, 1150]),
    # payloads20: a stream cut before `interaction.completed` is charged its estimate once, under
    # the interaction's id: a later read (polled, or resumed and cut again) charges nothing more
    # (before: the estimate under the POST's own id, and the read's 1150 again)
    ("streamed, cut, then read", [CUT_POST, GET_DONE, GET_DONE], [CUT, CUT, CUT]),
    ("streamed, cut at once, then read", [CUT_EARLY_POST, GET_DONE], [CUT_EARLY, CUT_EARLY]),
    ("streamed, cut, resumed and cut, then read", [CUT_POST, RESUMED_CUT, GET_DONE], [CUT, CUT, CUT]),
]


T0 = 1_795_000_000.0  # 400 s into an hour: the calls' team-tokens window (a sliding hour) is one
"""Each call's time (``T0 + i``), not the wall clock's: a sliding window read across an hour's
boundary weighs what the hour before charged below 1, and the counts were not whole."""


def _run(engine: ap.Engine, i: int, call: tuple[Any, ...]) -> Any:
    method, url, body, ctype, answer = call
    request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
    if body is not None:
        request["body"] = body
    engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=T0 + i)
    key = "sse" if ctype == "text/event-stream" else "body"
    return engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": ctype}, key: answer},
                           now=T0 + i + 0.5)


@pytest.mark.parametrize(("calls", "held"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_an_interaction_is_charged_once_what_it_reports(calls: list[tuple[Any, ...]], held: list[float]) -> None:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    got = []
    for i, call in enumerate(calls):
        _run(engine, i, call)
        got.append(store.check([new_charge(spec, "t", 0.0, None)], T0 + i + 0.5)[0].used)
    assert got == held


REPORTED: list[tuple[str, list[tuple[Any, ...]], list[int]]] = [  # the tokens each call's decision reports
    ("background: polled until done, read twice", [POST, GET_RUNNING, GET_DONE, GET_DONE], [0, 0, 1150, 0]),
    ("background: cancelled, then read", [POST, CANCEL, GET_DONE], [0, 1050, 0]),
    ("not background: the POST, then a read", [PLAIN_POST, GET_DONE], [1150, 0]),
    ("streamed, then read", [STREAM_POST, GET_DONE], [1150, 0]),
    ("streamed, cut, then read", [CUT_POST, GET_DONE, GET_DONE], [CUT, 0, 0]),
    ("streamed, cut, resumed and cut, then read", [CUT_POST, RESUMED_CUT, GET_DONE], [CUT, 0, 0]),
]


@pytest.mark.parametrize("policy", [POLICY, "on_http_request: []\n"], ids=["a token limit", "no limit"])
@pytest.mark.parametrize(("calls", "reported"), [r[1:] for r in REPORTED], ids=[r[0] for r in REPORTED])
def test_an_interaction_is_reported_once(calls: list[tuple[Any, ...]], reported: list[int], policy: str) -> None:
    """One decision (one ledger record) carries the usage, whichever of two engines on one
    store meets it; the others report no tokens and no cost."""
    store = from_url("memory:")
    engines = [ap.Engine(ap.loads(policy, format="yaml"), store=store) for _ in range(2)]
    got, usd = [], []
    for i, call in enumerate(calls):
        d = _run(engines[i % 2], i, call)
        got.append(d.usage["total_tokens"])
        usd.append(d.cost_usd)
    assert got == reported
    assert [u > 0 for u in usd] == [n > 0 for n in reported]


def test_a_generate_content_answer_is_no_interaction() -> None:
    """A ``generateContent`` answer (no ``status``) is charged as before, under its own id."""
    from aigw_policy.providers.background import interaction_state

    answer = {"candidates": [{"content": {"parts": [{"text": "hi"}]}}], "responseId": "x",
              "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}
    assert interaction_state({"body": answer}) is None
    assert interaction_state({"body": json.dumps(answer).encode()}) is None
    assert interaction_state({"body": json.dumps(DONE).encode()}) == ("finished", "v1_ChdqaW5n")
    assert interaction_state({"sse": STREAMED.encode()}) == ("finished", "v1_ChdqaW5n")
    assert interaction_state({"sse": STREAM_CUT}) == ("cut", "v1_ChdqaW5n")  # payloads20: None before
    assert interaction_state({"sse": STREAM_CUT[STREAM_CUT.index("event: step.delta"):]}) is None  # no id named
