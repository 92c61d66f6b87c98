"""A routed stream that ends cleanly before the event that ends it (aigw_policy/gateway/stream_end.py).

An upstream that finishes its body (the last chunk, or the close of a body read to the close)
before ``data: [DONE]`` / ``message_stop`` / ``response.completed`` / a ``finishReason`` /
``message-end`` / a JSON array's ``]`` gave a short answer, and the gateway served it as a
whole one: the OpenAI SDK's iteration simply ended, Anthropic's stream returned the message so
far, no error anywhere. Now, when the whole stream came before a byte went to the client it is
malformed and fails over (the next candidate serves alone); once bytes went out, it ends with
the provider's own error event (the SDK raises) and is charged once, as streamed.

Each row: one API's stream, cut in two pieces: ``first`` (enough to serve it) and ``rest``
(more content, no end), and a whole stream of the second candidate."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import anthropic
import httpx
import openai
import pytest

from .conftest import WAIT, policy_gateway, record_of
from .raw_upstream import Peer, RawUpstream, chunked, serve

KEY = "sk-gw-stream-end"
SSE, ARRAY = b"text/event-stream", b"application/json"


def _sse(*events: dict[str, Any], named: bool = False) -> bytes:
    return b"".join((b"event: %s\n" % e["type"].encode() if named else b"") + b"data: " + json.dumps(e).encode()
                    + b"\n\n" for e in events)


def _chat(text: str, finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


_RESP = {"id": "resp_1", "object": "response", "status": "in_progress", "model": "gpt-4o", "output": []}
_USAGE_R = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}


def _delta(text: str) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0,
            "delta": text}


_START = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "claude-x",
                                                "content": [], "stop_reason": None,
                                                "usage": {"input_tokens": 3, "output_tokens": 1}}}


def _ant(text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


_BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}


def _gem(text: str, finish: str | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    return {"candidates": [{**cand, "finishReason": finish}] if finish else [cand],
            **({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}
               if finish else {})}


def _coh(text: str) -> dict[str, Any]:
    return {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": text}}}}


# name -> (path, request body, provider format, model, content type, first, rest, the other candidate's whole stream)
ROWS: dict[str, tuple[str, dict[str, Any], str, str, bytes, bytes, bytes, bytes]] = {
    "openai chat": ("/v1/chat/completions", {"model": "gpt-4o", "stream": True,
                                             "messages": [{"role": "user", "content": "hi"}]},
                    "openai", "gpt-4o", SSE, _sse(_chat("first ")), _sse(_chat("and more")),
                    _sse(_chat("second"), _chat("", "stop")) + b"data: [DONE]\n\n"),
    "openai responses": ("/v1/responses", {"model": "gpt-4o", "stream": True, "input": "hi"}, "openai", "gpt-4o",
                         SSE, _sse({"type": "response.created", "response": _RESP}, _delta("first "), named=True),
                         _sse(_delta("and more"), named=True),
                         _sse({"type": "response.created", "response": _RESP}, _delta("second"),
                              {"type": "response.completed",
                               "response": {**_RESP, "status": "completed", "usage": _USAGE_R}}, named=True)),
    "anthropic": ("/v1/messages", {"model": "claude-x", "max_tokens": 50, "stream": True,
                                   "messages": [{"role": "user", "content": "hi"}]},
                  "anthropic", "claude-x", SSE, _sse(_START, _BLOCK, _ant("first "), named=True),
                  _sse(_ant("and more"), named=True),
                  _sse(_START, _BLOCK, _ant("second"), {"type": "content_block_stop", "index": 0},
                       {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
                       {"type": "message_stop"}, named=True)),
    "gemini sse": ("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", {"contents": [{"parts": [{"text": "hi"}]}]},
                   "gemini", "gemini-x", SSE, _sse(_gem("first ")), _sse(_gem("and more")),
                   _sse(_gem("second"), _gem("", "STOP"))),
    "gemini array": ("/v1beta/models/gemini-x:streamGenerateContent", {"contents": [{"parts": [{"text": "hi"}]}]},
                     "gemini", "gemini-x", ARRAY, b"[" + json.dumps(_gem("first ")).encode(),
                     b",\r\n" + json.dumps(_gem("and more")).encode(),
                     b"[" + json.dumps(_gem("second")).encode() + b",\r\n" + json.dumps(_gem("", "STOP")).encode()
                     + b"]"),
    "cohere v2": ("/v2/chat", {"model": "command-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                  "cohere", "command-x", SSE, _sse({"type": "message-start", "id": "c"}, _coh("first "), named=True),
                  _sse(_coh("and more"), named=True),
                  _sse({"type": "message-start", "id": "c"}, _coh("second"),
                       {"type": "message-end", "delta": {"finish_reason": "COMPLETE",
                                                         "usage": {"billed_units": {"input_tokens": 3,
                                                                                    "output_tokens": 1}}}},
                       named=True)),
}


def _policy(urls: list[str], fmt: str, model: str) -> str:
    providers = "".join(f"""
            - {{id: p{i}, base_url: "{url}", supported_api_surfaces: [{{format: {fmt}}}],
               api_keys: [{{value: sk-end-{i}, id: k{i}}}], models: [{{id: {model}}}]}}""" for i, url in enumerate(urls))
    return f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:{providers}
"""


def _head(ctype: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ntransfer-encoding: chunked\r\n\r\n"


def _whole(ctype: bytes, body: bytes) -> bytes:
    """The whole answer in one write (with its length): all of it is there before a byte goes out."""
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ncontent-length: %d\r\n\r\n" % len(body)) + body


def _in_two(ctype: bytes, first: bytes, rest: bytes, go: threading.Event) -> Any:
    """``first``, then ``rest`` once the client has read bytes of the answer (``go``), then the
    body's clean end (its last chunk): a short stream whose start is out."""
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(_head(ctype) + b"%x\r\n%s\r\n" % (len(first), first))
        await asyncio.to_thread(go.wait, WAIT)
        await peer.send(chunked([rest]))
        await peer.wait_eof()
    return script


def _headers() -> dict[str, str]:
    return {"authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_a_stream_whole_before_a_byte_went_out_that_ended_short_fails_over(row: str) -> None:
    path, body, fmt, model, ctype, first, rest, good = ROWS[row]
    with RawUpstream(serve(_whole(ctype, first + rest))) as short, RawUpstream(serve(_whole(ctype, good))) as other, \
            policy_gateway(_policy([short.url, other.url], fmt, model), KEY) as gw:
        got = httpx.post(gw.url + path, json=body, headers=_headers(), timeout=WAIT)
        assert got.status_code == 200, got.text
        assert b"second" in got.content and b"first" not in got.content
        rec = record_of(gw.ledger, got.headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_a_served_stream_that_ends_short_ends_with_the_provider_s_error_event(row: str) -> None:
    path, body, fmt, model, ctype, first, rest, good = ROWS[row]
    go = threading.Event()
    with RawUpstream(_in_two(ctype, first, rest, go)) as short, RawUpstream(serve(_whole(ctype, good))) as other, \
            policy_gateway(_policy([short.url, other.url], fmt, model), KEY) as gw:
        content = bytearray()
        with httpx.stream("POST", gw.url + path, json=body, headers=_headers(), timeout=WAIT) as got:
            assert got.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):  # closed without the body's end, as a cut
                for chunk in got.iter_raw():
                    content += chunk
                    go.set()
        assert b"first" in content and b"and more" in content and b"second" not in content
        assert content.rstrip().endswith(b"]") if ctype == ARRAY else content.endswith(b"\n\n")
        assert b"the upstream ended the stream before its end; the answer is incomplete" in content
        rec = record_of(gw.ledger, got.headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p0", 1)
        assert rec["gen_ai.usage.output_tokens"] > 0  # charged what streamed (estimated: no usage came)


# whole streams that are whole: served as they came, never failed over
WHOLE = {
    "finish_reason without [DONE]": ("openai chat", _sse(_chat("first "), _chat("", "stop"))),
    "stop_reason without message_stop": ("anthropic", _sse(_START, _BLOCK, _ant("first "), {
        "type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}, named=True)),
    "a background response's opening alone": ("openai responses", _sse(
        {"type": "response.created", "response": {**_RESP, "background": True}}, _delta("first "), named=True)),
    "[DONE] with no blank line after it": ("openai chat", _sse(_chat("first ")) + b"data: [DONE]"),
}


@pytest.mark.parametrize("case", sorted(WHOLE))
def test_a_stream_that_says_it_is_whole_is_served(case: str) -> None:
    row, stream = WHOLE[case]
    path, body, fmt, model, ctype, _, _, good = ROWS[row]
    with RawUpstream(serve(_whole(ctype, stream))) as one, RawUpstream(serve(_whole(ctype, good))) as other, \
            policy_gateway(_policy([one.url, other.url], fmt, model), KEY) as gw:
        got = httpx.post(gw.url + path, json=body, headers=_headers(), timeout=WAIT)
        assert got.status_code == 200 and got.content == stream
        assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"] == 1


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_an_sdk_raises_at_a_served_stream_that_ends_short_and_reads_the_next_candidate_s_whole(sdk: str) -> None:
    path, body, fmt, model, ctype, first, rest, good = ROWS["openai chat" if sdk == "openai" else "anthropic"]
    go = threading.Event()
    with RawUpstream(_in_two(ctype, first, rest, go)) as short, \
            RawUpstream(serve(_whole(ctype, first + rest))) as whole_short, \
            RawUpstream(serve(_whole(ctype, good))) as other:
        # served, then short: the SDK raises its own API error after the text that came
        with policy_gateway(_policy([short.url, other.url], fmt, model), KEY) as gw:
            text = ""
            if sdk == "openai":
                client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=WAIT)
                with pytest.raises(openai.APIError, match="before its end"):
                    for chunk in client.chat.completions.create(model=model, stream=True, messages=body["messages"]):
                        text += "".join(c.delta.content or "" for c in chunk.choices)
                        go.set()
            else:
                ant = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0, timeout=WAIT)
                with pytest.raises(anthropic.APIStatusError, match="before its end"):
                    with ant.messages.stream(model=model, max_tokens=50, messages=body["messages"]) as stream:
                        for piece in stream.text_stream:
                            text += piece
                            go.set()
            assert text == "first and more"
        # whole before a byte went out: the next candidate's whole answer, and nothing else
        with policy_gateway(_policy([whole_short.url, other.url], fmt, model), KEY) as gw:
            if sdk == "openai":
                client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=WAIT)
                chunks = client.chat.completions.create(model=model, stream=True, messages=body["messages"])
                assert "".join(c.delta.content or "" for ch in chunks for c in ch.choices) == "second"
            else:
                ant = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0, timeout=WAIT)
                with ant.messages.stream(model=model, max_tokens=50, messages=body["messages"]) as stream:
                    assert stream.get_final_text() == "second"


@pytest.mark.parametrize("row", ["openai chat", "anthropic"])
def test_the_proxy_answers_a_whole_short_stream_502_and_ends_a_served_one_with_the_error_event(row: str) -> None:
    path, body, fmt, model, ctype, first, rest, _ = ROWS[row]
    with RawUpstream(serve(_whole(ctype, first + rest))) as up, \
            policy_gateway("on_http_request: []\n", KEY, upstream=up.url) as gw:
        got = httpx.post(gw.url + path, json=body, headers=_headers(), timeout=WAIT)
        assert got.status_code == 502 and "upstream_malformed" in got.text
        assert "ended before its end" in got.text
    go = threading.Event()
    with RawUpstream(_in_two(ctype, first, rest, go)) as up, \
            policy_gateway("on_http_request: []\n", KEY, upstream=up.url) as gw:
        content = bytearray()
        with httpx.stream("POST", gw.url + path, json=body, headers=_headers(), timeout=WAIT) as got:
            assert got.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in got.iter_raw():
                    content += chunk
                    go.set()
        assert b"and more" in content and b"ended the stream before its end" in content


@pytest.mark.parametrize("row", sorted(ROWS))
def test_a_served_stream_that_ends_short_mid_event_drops_the_piece_and_ends_with_a_whole_error_event(row: str) -> None:
    """The upstream's body ends cleanly inside an event (``rest`` cut in its middle): the piece
    never goes out, as at a cut, and the error event is an event of its own. Before, the piece
    went out and the error event was glued to it (``dadata: {"error": ...``: a line of no
    field, which the SDKs skip), so the client read the text cut short and no error."""
    path, body, fmt, model, ctype, first, rest, good = ROWS[row]
    piece = rest[: len(rest) // 2]
    go = threading.Event()
    with RawUpstream(_in_two(ctype, first, piece, go)) as short, RawUpstream(serve(_whole(ctype, good))) as other, \
            policy_gateway(_policy([short.url, other.url], fmt, model), KEY) as gw:
        content = bytearray()
        with httpx.stream("POST", gw.url + path, json=body, headers=_headers(), timeout=WAIT) as got:
            assert got.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in got.iter_raw():
                    content += chunk
                    go.set()
        assert content.startswith(first) and b"ended the stream before its end" in content
        if ctype == ARRAY:
            assert json.loads(bytes(content))[-1]["error"]["code"] == 502  # one JSON array, the error last
        else:  # what follows the events that came is the error event alone, an event of its own
            tail = bytes(content[len(first):])
            assert tail.endswith(b"\n\n") and tail.count(b"\n\n") == 1, tail
            lines = tail.strip().split(b"\n")
            assert all(line.startswith(b"event: ") for line in lines[:-1]) and lines[-1].startswith(b"data: "), tail
            json.loads(lines[-1].removeprefix(b"data: "))  # the SDK parses it: its own error, not a JSON one
