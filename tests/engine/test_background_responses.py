"""OpenAI's background responses (``background: true``) are charged once, what their finished
response reports. The ``POST`` answers before the model runs (``status: queued``, no usage);
the usage comes with a read of the response (``GET /v1/responses/{id}``, polled, or resumed as
a stream; a cancel), as many times as it is read. Before, the ``POST`` was charged its input
estimate and every read nothing: a deep-research call of 200,000 tokens cost the budget ~16.

Each row: the calls a client makes (one team, one token limit), in order, and the tokens the
limit holds after each (by hand: the ``POST``'s reservation is 16 input + 2,000
``max_output_tokens``, held until a read finds the usage, 36 + 87 = 123)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge

POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: [identity.team]}
"""
URL = "https://api.openai.com/v1/responses"
BODY = {"model": "o3", "input": "Write a very long novel about otters in space.", "max_output_tokens": 2000}
QUEUED = {"id": "resp_1", "object": "response", "created_at": 1741476542, "status": "queued", "background": True,
          "model": "o3-2025-04-16", "output": [], "usage": None}
USAGE = {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 87,
         "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 123}
DONE = {**QUEUED, "status": "completed", "usage": USAGE,
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Otters."}]}]}
CANCELLED = {**DONE, "status": "cancelled", "usage": {**USAGE, "output_tokens": 10, "total_tokens": 46}}


def _sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


CREATED = {"type": "response.created", "sequence_number": 0, "response": {**QUEUED, "status": "in_progress"}}
DELTA = {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": "Otters"}
COMPLETED = {"type": "response.completed", "sequence_number": 2, "response": DONE}

POST = ("POST", URL, {**BODY, "background": True}, "application/json", QUEUED)
POST_STREAM = ("POST", URL, {**BODY, "background": True, "stream": True}, "text/event-stream",
               _sse(CREATED, DELTA, COMPLETED))
POST_STREAM_CUT = ("POST", URL, {**BODY, "background": True, "stream": True}, "text/event-stream", _sse(CREATED, DELTA))
GET_RUNNING = ("GET", URL + "/resp_1", None, "application/json", {**QUEUED, "status": "in_progress"})
GET_DONE = ("GET", URL + "/resp_1", None, "application/json", DONE)
RESUMED = ("GET", URL + "/resp_1?stream=true&starting_after=1", None, "text/event-stream", _sse(COMPLETED))
CANCEL = ("POST", URL + "/resp_1/cancel", None, "application/json", CANCELLED)
HELD = 16 + 2000

ROWS: list[tuple[str, list[tuple[Any, ...]], list[float]]] = [
    ("polled until done, read twice", [POST, GET_RUNNING, GET_DONE, GET_DONE], [HELD, HELD, 123, 123]),
    ("never read: the reservation holds", [POST], [HELD]),
    ("streamed to its end, then read", [POST_STREAM, GET_DONE], [123, 123]),
    ("stream cut, resumed, read", [POST_STREAM_CUT, RESUMED, GET_DONE], [HELD, 123, 123]),
    ("cancelled, then read", [POST, CANCEL, GET_DONE], [HELD, 46, 46]),
    ("read, its POST made elsewhere", [GET_DONE, GET_DONE], [123, 123]),
    # not background: the POST is charged, its read nothing (as before)
    ("a stored response read", [("POST", URL, BODY, "application/json", {**DONE, "background": False}),
                                ("GET", URL + "/resp_1", None, "application/json", {**DONE, "background": False})],
     [123, 123]),
]


T0 = 1_795_000_000.0  # 400 s into an hour: the calls of a case share one team-tokens window


@pytest.mark.parametrize(("calls", "held"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_background_response_is_charged_once_what_it_reports(calls: list[tuple[Any, ...]],
                                                               held: list[float]) -> None:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    got = []
    for i, (method, url, body, ctype, answer) in enumerate(calls):
        request = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        now = T0 + i  # not the wall clock: a sliding hour read across an hour's boundary weighs the hour before below 1
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=now)
        key = "sse" if ctype == "text/event-stream" else "body"
        engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": ctype}, key: answer}, now=now + 0.5)
        got.append(store.check([new_charge(spec, "t", 0.0, None)], now + 0.5)[0].used)
    assert got == held


def test_the_post_reports_nothing_used_yet_and_the_read_the_usage() -> None:
    from aigw_policy.providers import classify, extract_usage

    post = classify({"method": "POST", "url": URL, "body": {**BODY, "background": True}})
    usage = extract_usage(post, {"status_code": 200, "headers": {}, "body": QUEUED})
    assert (usage.total_tokens, usage.source) == (0, "estimate") and "read back" in usage.notes[-1]
    read = classify({"method": "GET", "url": URL + "/resp_1"})
    usage = extract_usage(read, {"status_code": 200, "headers": {}, "body": DONE})
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.source) == (36, 87, 64, "provider")
    usage = extract_usage(read, {"status_code": 200, "headers": {}, "body": {**DONE, "background": False}})
    assert usage.total_tokens == 0  # a stored (not background) response's read: its call was charged


REPORTED: list[tuple[str, list[tuple[Any, ...]], list[int]]] = [  # the tokens each call's decision reports
    ("polled until done, read twice", [POST, GET_RUNNING, GET_DONE, GET_DONE], [0, 0, 123, 0]),
    ("streamed to its end, then read", [POST_STREAM, GET_DONE], [123, 0]),
    ("stream cut, resumed, read", [POST_STREAM_CUT, RESUMED, GET_DONE], [0, 123, 0]),
    ("cancelled, then read", [POST, CANCEL, GET_DONE], [0, 46, 0]),
]


@pytest.mark.parametrize("policy", [POLICY, "on_http_request: []\n"], ids=["a token limit", "no limit"])
@pytest.mark.parametrize(("calls", "reported"), [r[1:] for r in REPORTED], ids=[r[0] for r in REPORTED])
def test_a_background_response_is_reported_once(calls: list[tuple[Any, ...]], reported: list[int],
                                                policy: str) -> None:
    """The usage goes in one decision (and so one ledger record, one metric): the first
    answer that carries it; a later read reports no tokens and no cost, whatever the policy
    limits, and so does a read by another engine on the same store (another process)."""
    store = from_url("memory:")
    engines = [ap.Engine(ap.loads(policy, format="yaml"), store=store) for _ in range(2)]
    got, usd = [], []
    for i, (method, url, body, ctype, answer) in enumerate(calls):
        engine = engines[i % 2]
        request = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request})
        key = "sse" if ctype == "text/event-stream" else "body"
        d = engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": ctype}, key: answer})
        got.append(d.usage["total_tokens"])
        usd.append(d.cost_usd)
    assert got == reported
    assert [u > 0 for u in usd] == [n > 0 for n in reported]


def test_the_claim_outlives_a_reservation() -> None:
    """The claim is settled, not left reserved: a read two hours later (past the store's
    reservation time) still finds the usage reported."""
    store = from_url("memory:")
    engine = ap.Engine(ap.loads("on_http_request: []\n", format="yaml"), store=store)
    got = []
    for i, (at, (method, url, body, ctype, answer)) in enumerate([(0.0, POST), (10.0, GET_DONE), (7200.0, GET_DONE)]):
        request = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        now = 1_795_000_000.0 + at
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=now)
        d = engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": ctype}, "body": answer},
                            now=now + 1)
        got.append(d.usage["total_tokens"])
    assert got == [0, 123, 0]
