"""Property (payloads20): a background answer's usage is charged exactly once per response id,
wherever its stream is cut and however it arrives in pieces. An OpenAI background response's
stream (``response.created`` ... ``response.completed``) and a Gemini interaction's
(``interaction.created`` ... ``interaction.completed``) are cut anywhere after their first event
(the id named), then read back 1-3 times (its finished JSON, or resumed as a whole stream): one
decision, and one only, reports non-zero usage, and the token limit holds exactly what it
reported. Before, an interaction's stream cut before its end was charged its estimate under
the ``POST``'s own id and its first read charged the usage again (two decisions, twice the
tokens). A cut before the first event is whole names no id: it cannot be tied to a later read
(docs/providers.md, "Background responses")."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import StreamUsage, classify

POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 100000000, rate: 1h, bucket_key: [identity.team]}
"""


def _sse(key: str, events: list[dict[str, Any]]) -> str:
    return "".join(f"event: {e[key]}\ndata: {json.dumps(e)}\n\n" for e in events)


_TEXT = "Otters hold hands while they sleep. " * 3
_R_DONE = {"id": "resp_9", "object": "response", "status": "completed", "background": True, "model": "o3",
           "usage": {"input_tokens": 36, "output_tokens": 870, "total_tokens": 906,
                     "output_tokens_details": {"reasoning_tokens": 64}},
           "output": [{"type": "message", "content": [{"type": "output_text", "text": _TEXT}]}]}
_R_EVENTS = [{"type": "response.created", "sequence_number": 0,
              "response": {**_R_DONE, "status": "in_progress", "usage": None, "output": []}}] + [
    {"type": "response.output_text.delta", "sequence_number": i, "item_id": "m", "output_index": 0,
     "content_index": 0, "delta": _TEXT} for i in range(1, 6)] + [
    {"type": "response.completed", "sequence_number": 6, "response": _R_DONE}]
_I_DONE = {"id": "v1_once", "status": "completed", "model": "gemini-2.5-flash",
           "usage": {"total_input_tokens": 1000, "total_output_tokens": 700, "total_thought_tokens": 100,
                     "total_tokens": 1800}}
_I_EVENTS = [{"event_type": "interaction.created", "interaction": {"id": "v1_once", "status": "in_progress"}}] + [
    {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": _TEXT}} for _ in range(5)] + [
    {"event_type": "interaction.completed", "interaction": _I_DONE}]

APIS = {  # name: (POST url, POST body, its stream, the first event's end, the read's url, the finished JSON)
    "responses": ("https://api.openai.com/v1/responses",
                  {"model": "o3", "input": "Otters?", "background": True, "stream": True, "max_output_tokens": 4000},
                  _sse("type", _R_EVENTS), "https://api.openai.com/v1/responses/resp_9", _R_DONE),
    "interactions": ("https://generativelanguage.googleapis.com/v1beta/interactions",
                     {"model": "gemini-2.5-flash", "input": "Otters?", "stream": True,
                      "generation_config": {"max_output_tokens": 4000}},
                     _sse("event_type", _I_EVENTS),
                     "https://generativelanguage.googleapis.com/v1beta/interactions/v1_once", _I_DONE),
}


def _call(engine: ap.Engine, rid: str, method: str, url: str, body: Any, answer: dict[str, Any]) -> Any:
    request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
    if body is not None:
        request["body"] = body
    engine.evaluate({"id": rid, "identity": {"team": "t"}, "request": request})
    return engine.complete(rid, answer)


def _stream(text: str) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


@settings(max_examples=60, deadline=None)
@given(api=st.sampled_from(sorted(APIS)), cut=st.floats(0, 1), reads=st.lists(st.booleans(), min_size=1, max_size=3),
       pieces=st.lists(st.integers(1, 400), max_size=12))
def test_usage_is_charged_once_per_response_id(api: str, cut: float, reads: list[bool], pieces: list[int]) -> None:
    url, body, stream, read_url, done = APIS[api]
    first = stream.index("\n\n") + 2  # the first event whole: the id named
    text = stream[: first + round(cut * (len(stream) - first))]
    # however the stream arrives in pieces, its usage is the same as whole
    ai = classify({"method": "POST", "url": url, "body": body})
    acc, at = StreamUsage(ai.api, input_estimate=ai.input_tokens, model=ai.model), 0
    for n in pieces:
        acc.feed(text[at: at + n])
        at += n
    acc.feed(text[at:])
    whole = StreamUsage(ai.api, input_estimate=ai.input_tokens, model=ai.model)
    whole.feed(text)
    assert acc.finish() == whole.finish()

    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    reported = [_call(engine, "p", "POST", url, body, _stream(text)).usage["total_tokens"]]
    for i, resumed in enumerate(reads):
        answer = _stream(stream) if resumed else {"status_code": 200, "headers": {"content-type": "application/json"},
                                                   "body": done}
        reported.append(_call(engine, f"r{i}", "GET", read_url + ("?stream=true" if resumed else ""), None,
                              answer).usage["total_tokens"])
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    used = store.check([new_charge(spec, "t", 0.0, None)], time.time())[0].used
    assert sum(1 for n in reported if n) == 1, reported
    assert used == sum(reported), (reported, used)
