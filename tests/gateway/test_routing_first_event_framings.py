"""A routed stream's first event is judged in every framing the gateway reads
(aigw_policy/gateway/first_event.py), not only SSE's.

Only an SSE stream's first event was read for an error: a 200 whose body opened with an
NDJSON line ``{"error": "..."}`` (Ollama's, Cohere v1's way of failing a stream), with a JSON
array whose first element is ``{"error": {...}}`` (Gemini's ``streamGenerateContent`` without
``alt=sse``), or with an AWS event-stream ``exception`` message was judged on its first byte,
served as a success and never failed over. Now each framing is read to the end of its first
event (keep-alive blank lines read on), and that event's error is the attempt's failure."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest

from aigw_policy.gateway.first_event import opening, stream_error
from aigw_policy.providers.eventstream import encode_message

from .conftest import WAIT, policy_gateway, record_of, routed_policy
from .raw_upstream import RawUpstream, chunked, serve
from .test_routing_first_event import HEAD, _events

KEY = "sk-gw-framings"


def _answer(ctype: bytes, pieces: list[bytes]) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(pieces)


def _exception(kind: str) -> bytes:
    return encode_message({":message-type": "exception", ":exception-type": kind, ":content-type": "application/json"},
                          b'{"message":"try again"}')


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return encode_message({":message-type": "event", ":event-type": kind, ":content-type": "application/json"},
                          json.dumps(payload).encode())


# (framing, the stream's opening as it is cut in chunks, the status it says it failed with: None, no failure)
OPENINGS = [
    ("ndjson", [b'{"error":"model is overloaded"}\n'], 500),
    ("ndjson", [b"\n", b"\r\n", b'{"err', b'or":{"type":"rate_limit_error"}}', b"\n"], 429),
    ("ndjson", [b'{"is_finished":true,"event_type":"stream-end","finish_reason":"ERROR","error":"x"}\n'], 500),
    ("ndjson", [b'{"model":"m","message":{"role":"assistant","content":"hi"},"done":false}\n'], None),
    ("ndjson", [b'{"is_finished":false,"event_type":"stream-start","generation_id":"g"}\n',  # Cohere v1's opening
                b'{"is_finished":true,"event_type":"stream-end","finish_reason":"ERROR","error":"x"}\n'], 500),
    ("sse", [b'event: message-start\ndata: {"type":"message-start","id":"c"}\n\n',  # Cohere v2's opening
             b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error"}}\n\n'], 429),
    ("array", [b"[", b'{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}'], 503),
    ("array", [b'[{"error": {"message": "quota", "sta', b'tus": "RESOURCE_EXHAUSTED"}}\r\n]'], 429),
    ("array", [b'[{"candidates": [{"content": {"parts": [{"text": "hi"}]}}]}'], None),
    ("eventstream", [_exception("throttlingException")], 429),
    ("eventstream", [_event("messageStart", {"role": "assistant"})[:7], _event("messageStart", {"role": "assistant"})[7:],
                     _exception("serviceUnavailableException")], 503),
    ("eventstream", [_event("contentBlockDelta", {"delta": {"text": "hi"}})], None),
]


@pytest.mark.parametrize(("framing", "pieces", "status"), OPENINGS)
def test_the_first_event_of_every_framing_is_read_whole_and_judged(framing: str, pieces: list[bytes],
                                                                    status: int | None) -> None:
    tail = b"TAIL-NOT-READ"

    async def chunks() -> Any:
        for p in [*pieces, tail]:
            yield p

    got = asyncio.run(opening(chunks(), framing))
    assert got == b"".join(pieces)  # up to the chunk that ends the first event, not a chunk more
    failed = stream_error(got, framing)
    assert (failed[0] if failed else None) == status


GEMINI = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - {id: g0, base_url: "URL0", supported_api_surfaces: [{format: gemini}],
               api_keys: [{value: sk-g0, id: k0}], models: [{id: gemini-x}]}
            - {id: g1, base_url: "URL1", supported_api_surfaces: [{format: gemini}],
               api_keys: [{value: sk-g1, id: k1}], models: [{id: gemini-x}]}
"""
GOOD_ARRAY = [b'[{"candidates": [{"content": {"parts": [{"text": "second"}], "role": "model"}}]}',
              b',\r\n{"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}]']


@pytest.mark.parametrize("error", [b'{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}',
                                   b'{"error": {"message": "quota", "status": "RESOURCE_EXHAUSTED"}}'])
def test_a_json_array_stream_whose_first_element_is_an_error_fails_over(error: bytes) -> None:
    failing = _answer(b"application/json; charset=UTF-8", [b"[", error, b"]"])
    with RawUpstream(serve(failing)) as first, RawUpstream(serve(_answer(b"application/json", GOOD_ARRAY))) as other:
        policy = GEMINI.replace("URL0", first.url).replace("URL1", other.url)
        with policy_gateway(policy, KEY) as gw:
            r = httpx.post(gw.url + "/v1beta/models/gemini-x:streamGenerateContent", headers={"x-goog-api-key": KEY},
                           json={"contents": [{"parts": [{"text": "hi"}]}]}, timeout=WAIT)
            assert r.status_code == 200 and r.json()[0]["candidates"][0]["content"]["parts"][0]["text"] == "second"
            rec = record_of(gw.ledger, r.headers["x-aigw-decision-id"])
            assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("g1", 2)
            assert (rec["gen_ai.usage.input_tokens"], rec["gen_ai.usage.output_tokens"]) == (3, 1), rec


def test_an_ndjson_stream_whose_first_line_is_an_error_fails_over() -> None:
    failing = _answer(b"application/x-ndjson", [b"\n", b'{"error":"model is overloaded"}\n'])
    with RawUpstream(serve(failing)) as first, RawUpstream(serve(HEAD + chunked(_events("second")))) as other, \
            policy_gateway(routed_policy([first.url, other.url], key="sk-framings"), KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=WAIT)
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", stream=True,
                                                               messages=[{"role": "user", "content": "hi"}])
        assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == "second"
        rec = record_of(gw.ledger, raw.headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)


def test_a_json_array_stream_cut_anywhere_fails_over_until_its_first_element_is_whole() -> None:
    """Cut after ``n`` bytes, for ``n`` over the whole first answer: while its first element is
    not whole the next candidate serves alone; after, the client has that element whole (then
    the cut), never a piece of it."""
    first_answer = _answer(b"application/json", [GOOD_ARRAY[0].replace(b"second", b"first"), GOOD_ARRAY[1]])
    head = first_answer.index(b"\r\n\r\n") + 4
    cuts = list(range(head, len(first_answer), 7))
    pending = list(cuts)

    async def cutter(peer: Any) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(first_answer[:pending.pop(0)])
        peer.abort()

    with RawUpstream(cutter) as first, RawUpstream(serve(_answer(b"application/json", GOOD_ARRAY))) as other:
        policy = GEMINI.replace("URL0", first.url).replace("URL1", other.url)
        with policy_gateway(policy, KEY) as gw:
            served = set()
            for _ in cuts:
                got = bytearray()
                try:
                    with httpx.stream("POST", gw.url + "/v1beta/models/gemini-x:streamGenerateContent",
                                      headers={"x-goog-api-key": KEY}, timeout=WAIT,
                                      json={"contents": [{"parts": [{"text": "hi"}]}]}) as r:
                        for piece in r.iter_bytes():
                            got += piece
                except httpx.RemoteProtocolError:
                    pass
                rec = record_of(gw.ledger, r.headers["x-aigw-decision-id"])
                if rec["gen_ai.provider.name"] == "g1":
                    assert rec["aigw.attempts"] == 2 and json.loads(got)[0]["candidates"][0]["content"]["parts"][0][
                        "text"] == "second", got
                else:  # served from the first: its first element reached the client whole
                    assert rec["gen_ai.provider.name"] == "g0" and b'"first"}]' in got, got
                served.add(rec["gen_ai.provider.name"])
            assert served == {"g0", "g1"}
