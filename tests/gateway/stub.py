"""A local stub upstream speaking OpenAI chat completions, Anthropic messages and Gemini
generateContent, JSON and streaming, with fixed usage numbers so that ledgers can be checked
exactly. Plain ASGI; used by the gateway tests and benchmarks/gateway_bench.py.

Model names choose behaviours: ``slow-*`` answers after ``slow_seconds``; ``fail-*`` answers
500; ``long-*`` streams ``long_chunks`` chunks, ``long_gap`` seconds apart.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

OPENAI_USAGE = {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}
ANTHROPIC_USAGE = {"input_tokens": 25, "output_tokens": 7}
GEMINI_USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 4, "totalTokenCount": 16}
WORDS = ["hello", " from", " the", " stub", "!"]
_GEMINI = re.compile(r"/v1beta/models/(?P<model>[^/:]+):(?P<action>\w+)$")


class StubUpstream:
    def __init__(self, *, slow_seconds: float = 3.0, long_chunks: int = 200, long_gap: float = 0.02) -> None:
        self.seen: list[dict[str, Any]] = []
        self.slow_seconds = slow_seconds
        self.long_chunks = long_chunks
        self.long_gap = long_gap
        self.cancelled = 0  # streams whose client went away mid-way

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                if m["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = bytearray()
        while True:
            m = await receive()
            raw += m.get("body", b"")
            if not m.get("more_body"):
                break
        body = json.loads(raw) if raw else {}
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        self.seen.append({"path": path, "query": scope.get("query_string", b"").decode(), "headers": headers,
                          "body": body})
        model = body.get("model", "")
        gm = _GEMINI.search(path)
        if gm:
            model = gm.group("model")
        gone = asyncio.ensure_future(receive()) if model.startswith("long-") else None
        if model.startswith("slow-"):
            await asyncio.sleep(self.slow_seconds)
        if model.startswith("fail-"):
            await _json(send, 500, {"error": {"message": "stub failure", "type": "server_error"}})
            return
        try:
            await self._route(gone, send, path, body, model, gm)
        finally:
            if gone is not None:
                gone.cancel()

    async def _route(self, gone: Any, send: Any, path: str, body: dict[str, Any], model: str, gm: Any) -> None:
        if path == "/v1/chat/completions":
            await self._openai(gone, send, body, model)
        elif path == "/v1/messages":
            await self._anthropic(gone, send, body, model)
        elif gm:
            await self._gemini(gone, send, model, gm.group("action"))
        else:
            await _json(send, 404, {"error": {"message": f"no route {path}"}})

    def _count(self, model: str) -> int:
        return self.long_chunks if model.startswith("long-") else len(WORDS)

    def _word(self, i: int) -> str:
        return WORDS[i % len(WORDS)]

    async def _openai(self, gone: Any, send: Any, body: dict[str, Any], model: str) -> None:
        if not body.get("stream"):
            await _json(send, 200, {
                "id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)},
                             "finish_reason": "stop"}],
                "usage": OPENAI_USAGE})
            return
        await _sse_start(send)
        base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1, "model": model}
        for i in range(self._count(model)):
            chunk = {**base, "choices": [{"index": 0, "delta": {"content": self._word(i)}, "finish_reason": None}]}
            if not await self._event(gone, send, None, chunk, model):
                return
        await self._event(gone, send, None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, model)
        if (body.get("stream_options") or {}).get("include_usage"):
            await self._event(gone, send, None, {**base, "choices": [], "usage": OPENAI_USAGE}, model)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _anthropic(self, gone: Any, send: Any, body: dict[str, Any], model: str) -> None:
        text = "".join(WORDS)
        if not body.get("stream"):
            await _json(send, 200, {
                "id": "msg_stub", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": ANTHROPIC_USAGE})
            return
        await _sse_start(send)
        start = {"type": "message_start", "message": {
            "id": "msg_stub", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": ANTHROPIC_USAGE["input_tokens"], "output_tokens": 1}}}
        events = [("message_start", start),
                  ("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})]
        for name, data in events:
            await self._event(gone, send, name, data, model)
        for i in range(self._count(model)):
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": self._word(i)}}
            if not await self._event(gone, send, "content_block_delta", delta, model):
                return
        await self._event(gone, send, "content_block_stop", {"type": "content_block_stop", "index": 0}, model)
        await self._event(gone, send, "message_delta", {"type": "message_delta",
                                                  "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                                  "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}, model)
        await send({"type": "http.response.body", "more_body": False,
                    "body": b'event: message_stop\ndata: {"type": "message_stop"}\n\n'})

    async def _gemini(self, gone: Any, send: Any, model: str, action: str) -> None:
        def chunk(text: str, usage: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                                   "index": 0}], "modelVersion": model}
            if usage:  # the last chunk, as Gemini sends it: usage and the finish reason
                out["usageMetadata"] = GEMINI_USAGE
                out["candidates"][0]["finishReason"] = "STOP"
            return out

        if action == "generateContent":
            await _json(send, 200, chunk("".join(WORDS), True))
            return
        await _sse_start(send)
        n = self._count(model)
        for i in range(n):
            if not await self._event(gone, send, None, chunk(self._word(i), i == n - 1), model):
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _event(self, gone: Any, send: Any, name: str | None, data: dict[str, Any], model: str) -> bool:
        text = (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
        if gone is not None and gone.done():  # the gateway hung up: stop generating
            self.cancelled += 1
            return False
        await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
        if model.startswith("long-"):
            await asyncio.sleep(self.long_gap)
        return True


async def _sse_start(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})


async def _json(send: Any, status: int, obj: Any) -> None:
    data = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data, "more_body": False})
