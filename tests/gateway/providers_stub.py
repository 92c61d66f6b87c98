"""Scriptable stub providers for the routing tests: plain ASGI apps on loopback that speak
OpenAI chat completions, OpenAI responses, Anthropic messages and Gemini generateContent,
JSON and SSE, with fixed usage numbers.

Each request takes the first scripted :class:`Reply` whose ``model`` / ``key`` match (a
scripted reply is used ``times`` times), else answers 200. A reply says the status, a delay
before the answer starts, rate-limit headers, and for a stream where to cut it (``cut_after``
bytes: the connection is dropped mid-stream, as a crashed upstream does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

OPENAI_USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
ANTHROPIC_USAGE = {"input_tokens": 13, "output_tokens": 4}
RESPONSES_USAGE = {"input_tokens": 17, "output_tokens": 5, "total_tokens": 22,
                   "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
GEMINI_USAGE = {"promptTokenCount": 19, "candidatesTokenCount": 6, "totalTokenCount": 25}
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
    tool: bool = False  # the answer is a call of tool `get_weather` with `{"city": "Paris"}` (TOOL_ARGS)
    error: Any = None  # an error's body (JSON), instead of the API's usual shape saying "<name> says <status>";
    # with status 200: the answer is that error (a JSON body, or a stream's first event: ERROR_EVENTS)


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
        key = (headers.get("x-api-key") or headers.get("x-goog-api-key")
               or headers.get("authorization", "").removeprefix("Bearer "))
        gemini = _GEMINI_PATH.search(scope["path"])
        model = gemini.group(1) if gemini else body.get("model", "")
        self.seen.append({"seq": next(_ORDER), "path": scope["path"], "query": scope.get("query_string", b"").decode(),
                          "headers": headers, "body": body, "key": key, "model": model})
        reply = self._take(model, key)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        extra = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        path = scope["path"]
        shape = ("anthropic" if path.endswith("/messages") else "gemini" if gemini
                 else "responses" if path.endswith("/responses") else "embeddings" if path.endswith("/embeddings")
                 else "cohere" if path.endswith("/v2/chat") else "chat")
        if reply.status != 200:
            message = f"{self.name} says {reply.status}"
            error = ({"type": "error", "error": {"type": "api_error", "message": message}} if shape == "anthropic"
                     else {"error": {"code": reply.status, "message": message, "status": "UNAVAILABLE"}}
                     if shape == "gemini" else {"error": {"message": message, "type": "server_error"}})
            await _json(send, reply.status, error if reply.error is None else reply.error, extra)
            return
        text = f"{self.name}:{model}"
        stream = gemini.group(2) == "streamGenerateContent" if gemini else body.get("stream")
        if reply.error is not None and not stream:  # a 200 that is an error
            await _json(send, 200, reply.error, extra)
            return
        if reply.error is not None:
            events = [_sse(ERROR_EVENTS.get(shape), reply.error)]
        elif reply.tool and shape in _TOOL_ANSWERS:
            answer, tool_events = _TOOL_ANSWERS[shape]
            if not stream:
                await _json(send, 200, answer(model), extra)
                return
            events = tool_events(model, body)
        elif not stream and reply.cut_after is not None:  # its head, then the body cut after cut_after bytes
            data = json.dumps(_ANSWERS[shape](model, text)).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())] + extra})
            await send({"type": "http.response.body", "body": data[:reply.cut_after], "more_body": True})
            await asyncio.sleep(0.05)
            raise ConnectionAbortedError("stub: the answer is cut")
        elif not stream:
            await _json(send, 200, _ANSWERS[shape](model, text), extra, gzip=reply.gzip)
            return
        else:
            events = (_anthropic_events(model, text) if shape == "anthropic" else _openai_events(model, text, body)
                      if shape == "chat" else _EVENTS[shape](model, text))
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


ERROR_EVENTS = {"anthropic": "error", "responses": "error"}
"""The name of an API's error event (``event:``), where its streams name their events."""


def _openai_completion(model: str, text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": OPENAI_USAGE}


def _anthropic_message(model: str, text: str) -> dict[str, Any]:
    return {"id": "msg_stub", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": ANTHROPIC_USAGE}


def _responses_answer(model: str, text: str) -> dict[str, Any]:
    return {"id": "resp_stub", "object": "response", "status": "completed", "model": model,
            "output": [{"type": "message", "id": "msg_stub", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": RESPONSES_USAGE}


def _gemini_answer(model: str, text: str) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": GEMINI_USAGE, "modelVersion": model}


def _embeddings(model: str, text: str) -> dict[str, Any]:
    return {"object": "list", "model": model, "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}],
            "usage": {"prompt_tokens": OPENAI_USAGE["prompt_tokens"], "total_tokens": OPENAI_USAGE["prompt_tokens"]}}


def _cohere_answer(model: str, text: str) -> dict[str, Any]:
    return {"id": "cohere-stub", "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
            "usage": {"billed_units": {"input_tokens": 11, "output_tokens": 3},
                      "tokens": {"input_tokens": 11, "output_tokens": 3}}}


# an answer of each API in its own shape (the gateway judges a routed answer by it: api_shape.py)
_ANSWERS = {"chat": _openai_completion, "anthropic": _anthropic_message, "responses": _responses_answer,
            "gemini": _gemini_answer, "embeddings": _embeddings, "cohere": _cohere_answer}
_GEMINI_PATH = re.compile(r"/models/([^/:]+):(generateContent|streamGenerateContent)$")


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


def _responses_events(model: str, text: str) -> list[bytes]:
    created = {"id": "resp_stub", "object": "response", "status": "in_progress", "model": model, "output": []}
    out = [_sse("response.created", {"type": "response.created", "sequence_number": 0, "response": created})]
    out += [_sse("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_stub",
                                                "output_index": 0, "content_index": 0, "delta": w,
                                                "sequence_number": i + 1})
            for i, w in enumerate([text] + WORDS)]
    done = _responses_answer(model, text + "".join(WORDS))
    out.append(_sse("response.completed", {"type": "response.completed", "sequence_number": len(WORDS) + 2,
                                           "response": done}))
    return out


def _gemini_events(model: str, text: str) -> list[bytes]:
    chunks = [{"candidates": [{"content": {"parts": [{"text": w}], "role": "model"}, "index": 0}],
               "modelVersion": model} for w in [text] + WORDS]
    chunks[-1]["candidates"][0]["finishReason"] = "STOP"
    chunks[-1]["usageMetadata"] = GEMINI_USAGE
    return [_sse(None, c) for c in chunks]


_EVENTS = {"responses": _responses_events, "gemini": _gemini_events}


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


TOOL_ARGS = {"city": "Paris"}
_ARGS = json.dumps(TOOL_ARGS, separators=(",", ":"))


def _openai_tool_answer(model: str) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": _ARGS}}
    return {"id": "chatcmpl-tool", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                         "finish_reason": "tool_calls"}], "usage": OPENAI_USAGE}


def _openai_tool_events(model: str, body: dict[str, Any]) -> list[bytes]:
    base = {"id": "chatcmpl-tool", "object": "chat.completion.chunk", "created": 1, "model": model}
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    out = [_sse(None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None,
                                                                  "tool_calls": [first]}, "finish_reason": None}]})]
    out += [_sse(None, {**base, "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": part}}]}, "finish_reason": None}]}) for part in (_ARGS[:8], _ARGS[8:])]
    out.append(_sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append(_sse(None, {**base, "choices": [], "usage": OPENAI_USAGE}))
    out.append(b"data: [DONE]\n\n")
    return out


def _anthropic_tool_answer(model: str) -> dict[str, Any]:
    return {"id": "msg_tool", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": TOOL_ARGS}],
            "stop_reason": "tool_use", "stop_sequence": None, "usage": ANTHROPIC_USAGE}


def _anthropic_tool_events(model: str, body: dict[str, Any]) -> list[bytes]:
    start = {"type": "message_start", "message": {
        "id": "msg_tool", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": ANTHROPIC_USAGE["input_tokens"],
                                                              "output_tokens": 1}}}
    out = [_sse("message_start", start),
           _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
               "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}})]
    out += [_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "input_json_delta", "partial_json": part}})
            for part in (_ARGS[:8], _ARGS[8:])]
    out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                                         "stop_sequence": None},
                                      "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


def _gemini_tool_answer(model: str) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": TOOL_ARGS}}],
                                        "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": GEMINI_USAGE, "modelVersion": model}


def _gemini_tool_events(model: str, body: dict[str, Any]) -> list[bytes]:
    return [_sse(None, _gemini_tool_answer(model))]


_FUNCTION_CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": _ARGS,
                  "status": "completed"}


def _responses_tool_answer(model: str) -> dict[str, Any]:
    return {**_responses_answer(model, ""), "id": "resp_tool", "output": [_FUNCTION_CALL]}


def _responses_tool_events(model: str, body: dict[str, Any]) -> list[bytes]:
    created = {"id": "resp_tool", "object": "response", "status": "in_progress", "model": model, "output": []}
    where = {"item_id": "fc_1", "output_index": 0}
    events = [("response.created", {"response": created}),
              ("response.output_item.added", {"output_index": 0, "item": {**_FUNCTION_CALL, "arguments": "",
                                                                          "status": "in_progress"}})]
    events += [("response.function_call_arguments.delta", {**where, "delta": part}) for part in (_ARGS[:8], _ARGS[8:])]
    events += [("response.function_call_arguments.done", {**where, "arguments": _ARGS}),
               ("response.output_item.done", {"output_index": 0, "item": _FUNCTION_CALL}),
               ("response.completed", {"response": _responses_tool_answer(model)})]
    return [_sse(name, {"type": name, "sequence_number": n, **obj}) for n, (name, obj) in enumerate(events)]


_TOOL_ANSWERS = {"chat": (_openai_tool_answer, _openai_tool_events),
                 "responses": (_responses_tool_answer, _responses_tool_events),
                 "anthropic": (_anthropic_tool_answer, _anthropic_tool_events),
                 "gemini": (_gemini_tool_answer, _gemini_tool_events)}
