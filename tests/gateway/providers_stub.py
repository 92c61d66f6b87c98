"""Scriptable stub providers for the routing tests: plain ASGI apps on loopback that speak
OpenAI chat completions and Anthropic messages, JSON and SSE, with fixed usage numbers.

Each request takes the first scripted :class:`Reply` whose ``model`` / ``key`` match (a
scripted reply is used ``times`` times), else answers 200. A reply says the status, a delay
before the answer starts, rate-limit headers, and for a stream where to cut it (``cut_after``
bytes: the connection is dropped mid-stream, as a crashed upstream does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

OPENAI_USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
ANTHROPIC_USAGE = {"input_tokens": 13, "output_tokens": 4}
WORDS = [" routed", " by", " the", " gateway"]
_ORDER = itertools.count()  # across every stub: the order requests arrived in


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    model: str | None = None
    key: str | None = None
    times: int = 1
    gzip: bool = False  # a JSON answer compressed (`content-encoding: gzip`)


class StubProvider:
    """One upstream: ``name`` shows in the answers' text (``routed by <name>``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[dict[str, Any]] = []
        self.script: list[Reply] = []

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def reset(self) -> None:
        self.seen.clear()
        self.script.clear()

    def _take(self, model: str, key: str) -> Reply:
        for reply in self.script:
            if (reply.model is None or reply.model == model) and (reply.key is None or reply.key == key):
                reply.times -= 1
                if reply.times <= 0:
                    self.script.remove(reply)
                return reply
        return Reply()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                await send({"type": "lifespan.startup.complete" if m["type"] == "lifespan.startup"
                            else "lifespan.shutdown.complete"})
                if m["type"] != "lifespan.startup":
                    return
        raw = bytearray()
        while True:
            m = await receive()
            raw += m.get("body", b"")
            if not m.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = json.loads(raw) if raw else {}
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        model = body.get("model", "")
        self.seen.append({"seq": next(_ORDER), "path": scope["path"], "query": scope.get("query_string", b"").decode(),
                          "headers": headers, "body": body, "key": key, "model": model})
        reply = self._take(model, key)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        extra = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        anthropic = scope["path"].endswith("/messages")
        if reply.status != 200:
            error = ({"type": "error", "error": {"type": "api_error", "message": f"{self.name} says {reply.status}"}}
                     if anthropic else {"error": {"message": f"{self.name} says {reply.status}", "type": "server_error"}})
            await _json(send, reply.status, error, extra)
            return
        text = f"{self.name}:{model}"
        if not body.get("stream"):
            answer = (_anthropic_message(model, text) if anthropic else _openai_completion(model, text))
            await _json(send, 200, answer, extra, gzip=reply.gzip)
            return
        events = _anthropic_events(model, text) if anthropic else _openai_events(model, text, body)
        data = b"".join(events)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")] + extra})
        if reply.cut_after is not None:
            await send({"type": "http.response.body", "body": data[:reply.cut_after], "more_body": True})
            await asyncio.sleep(0.05)
            raise ConnectionAbortedError("stub: the stream is cut")  # uvicorn drops the connection
        for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _openai_completion(model: str, text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": OPENAI_USAGE}


def _anthropic_message(model: str, text: str) -> dict[str, Any]:
    return {"id": "msg_stub", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": ANTHROPIC_USAGE}


def _sse(name: str | None, data: Any) -> bytes:
    return ((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n").encode()


def _openai_events(model: str, text: str, body: dict[str, Any]) -> list[bytes]:
    base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1, "model": model}
    out = [_sse(None, {**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]})
           for w in [text] + WORDS]
    out.append(_sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append(_sse(None, {**base, "choices": [], "usage": OPENAI_USAGE}))
    out.append(b"data: [DONE]\n\n")
    return out


def _anthropic_events(model: str, text: str) -> list[bytes]:
    start = {"type": "message_start", "message": {
        "id": "msg_stub", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": ANTHROPIC_USAGE["input_tokens"],
                                                              "output_tokens": 1}}}
    out = [_sse("message_start", start),
           _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}})]
    out += [_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": w}}) for w in [text] + WORDS]
    out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                                         "stop_sequence": None},
                                      "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


async def _json(send: Any, status: int, obj: Any, extra: list[tuple[bytes, bytes]], gzip: bool = False) -> None:
    data = json.dumps(obj).encode()
    if gzip:
        import gzip as gz

        data = gz.compress(data)
        extra = [*extra, (b"content-encoding", b"gzip")]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())] + extra})
    await send({"type": "http.response.body", "body": data, "more_body": False})
