"""One raw upstream that answers every provider API the SDK session tests drive (OpenAI chat
completions (parallel tool calls too), Responses, embeddings, image generation and audio
transcription, Anthropic messages (extended thinking then a tool call, with prompt caching's
usage, when a stream asks for thinking) and token counts, Gemini's
generateContent, streamGenerateContent, countTokens, embedContent and batchEmbedContents, and its
context caches), JSON or streamed as the request asks, with fixed usage (7 input, 3 output tokens;
embeddings 4). A request whose credential contains ``bad`` is answered 503 in its API's error
shape: the routes' first keys fail, so every call fails over once.

A Gemini context cache is of the key (Google: the project) that made it, and of its model: its
name says both (``cachedContents/{key}.{model}``), and a call naming it with another key is
answered 403 ``PERMISSION_DENIED`` (Google's "CachedContent not found (or permission denied)"),
with another model 400 ``INVALID_ARGUMENT``, as Google answers them. Its creation is charged
as Google bills it (``usageMetadata.totalTokenCount``: 5)."""

from __future__ import annotations

import json
import re
from typing import Any

from .raw_upstream import parse_request

__all__ = ["answer"]

GEMINI = {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP", "index": 0}],
          "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10},
          "modelVersion": "gemini-2.0-flash"}
GEMINI_FIRST = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hel"}]}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 7}}
MESSAGE = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
           "content": [{"type": "output_text", "text": "hello", "annotations": []}]}
RESPONSE = {"id": "resp_sdk_1", "object": "response", "created_at": 1, "status": "completed", "model": "gpt-4o",
            "output": [MESSAGE], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}
CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
EMBEDDINGS = {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 4, "total_tokens": 4},
              "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]}
CLAUDE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_sequence": None,
          "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
          "usage": {"input_tokens": 7, "output_tokens": 3}}


# the paths the providers serve, and no other (Google's OpenAI-compatible API is under `/v1beta/openai`)
_GEMINI_PATH = re.compile(r"/v1beta/models/[^/:]+:(?P<action>streamGenerateContent|generateContent|countTokens"
                          r"|embedContent|batchEmbedContents)")
_OPENAI_PATH = re.compile(r"(?:/v1|/v1beta/openai)/(?P<api>responses|chat/completions|embeddings)")


def _json(obj: Any, status: int = 200) -> bytes:
    data = json.dumps(obj).encode()
    return b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (status, len(data), data)


def _sse(*events: tuple[str | None, Any]) -> bytes:
    data = b"".join((b"event: %s\n" % name.encode() if name else b"") + b"data: " + json.dumps(obj).encode() + b"\n\n"
                    for name, obj in events)
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data)


def _responses_stream() -> bytes:
    started = {**RESPONSE, "status": "in_progress", "output": [], "usage": None}
    item = {**MESSAGE, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events = [("response.created", {"response": started}),
              ("response.output_item.added", {"output_index": 0, "item": item}),
              ("response.content_part.added", {**where, "part": part}),
              ("response.output_text.delta", {**where, "delta": "hel", "logprobs": []}),
              ("response.output_text.delta", {**where, "delta": "lo", "logprobs": []}),
              ("response.output_text.done", {**where, "text": "hello", "logprobs": []}),
              ("response.content_part.done", {**where, "part": {**part, "text": "hello"}}),
              ("response.output_item.done", {"output_index": 0, "item": MESSAGE}),
              ("response.completed", {"response": RESPONSE})]
    return _sse(*((name, {"type": name, "sequence_number": n, **obj}) for n, (name, obj) in enumerate(events)))


def _claude_stream() -> bytes:
    start = {**CLAUDE, "content": [], "stop_reason": None, "usage": {"input_tokens": 7, "output_tokens": 1}}
    events = [("message_start", {"message": start}),
              ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "hel"}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
              ("content_block_stop", {"index": 0}),
              ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                 "usage": {"output_tokens": 3}}),
              ("message_stop", {})]
    return _sse(*((name, {"type": name, **obj}) for name, obj in events))


def _chat_stream() -> bytes:
    chunks = [{**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hel"}}]},
              {**CHUNK, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
              {**CHUNK, "choices": [], "usage": CHAT["usage"]}]
    data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data)


def _claude_thinking_tool_stream() -> bytes:
    """Extended thinking, then a tool call, with prompt caching's usage fields (read 100, written 50)."""
    usage = {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50}
    start = {**CLAUDE, "content": [], "stop_reason": None, "usage": usage}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    events = [("message_start", {"message": start}),
              ("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                     "signature": ""}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
              ("content_block_stop", {"index": 0}),
              ("content_block_start", {"index": 1, "content_block": tool}),
              ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city":'}}),
              ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}}),
              ("content_block_stop", {"index": 1}),
              ("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                 "usage": {"output_tokens": 3}}),
              ("message_stop", {})]
    return _sse(*((name, {"type": name, **obj}) for name, obj in events))


def _parallel_tool_calls_stream(include_usage: bool) -> bytes:
    """Two tool calls in one streamed chat completion (``parallel_tool_calls``), 4 prompt tokens cached."""
    def call(i: int, name: str | None = None, args: str = "") -> dict[str, Any]:
        if name is None:
            return {"index": i, "function": {"arguments": args}}
        return {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": ""}}

    deltas = [{"role": "assistant", "tool_calls": [call(0, "get_weather")]},
              {"tool_calls": [call(0, args='{"city":"Paris"}')]}, {"tool_calls": [call(1, "get_time")]},
              {"tool_calls": [call(1, args='{"tz":"CET"}')]}]
    chunks = [{**CHUNK, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    if include_usage:
        chunks.append({**CHUNK, "choices": [], "usage": {**CHAT["usage"], "prompt_tokens_details": {"cached_tokens": 4}}})
    data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data)


IMAGES = {"created": 1, "data": [{"b64_json": "aGk="}],
          "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10,
                    "input_tokens_details": {"text_tokens": 7, "image_tokens": 0}}}
TRANSCRIPTION = {"text": "hello", "usage": {"type": "tokens", "input_tokens": 7, "output_tokens": 3, "total_tokens": 10}}


def _failed(path: str) -> bytes:
    if ":" in path.rsplit("/", 1)[-1] or "/cachedContents" in path:  # Gemini's
        return _json({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}, 503)
    if "/messages" in path:
        return _json({"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}, 503)
    return _json({"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}}, 503)


def _cache_name(credential: str, model: str) -> str:
    return f"cachedContents/{credential.removeprefix('sk-')}.{model.removeprefix('models/')}"


def _cache(method: str, credential: str, path: str, body: bytes) -> bytes:
    """Google's ``cachedContents``: made (POST), read (GET), its ttl changed (PATCH), deleted."""
    if method == "POST" and path == "/v1beta/cachedContents":
        model = json.loads(body)["model"]
        name = _cache_name(credential, model)
        return _json({"name": name, "model": model, "createTime": "2026-12-07T00:00:00Z",
                      "expireTime": "2026-12-07T01:00:00Z", "usageMetadata": {"totalTokenCount": 5}})
    name = path.removeprefix("/v1beta/")
    if method == "DELETE":
        return _json({})
    model = "models/" + name.split(".", 1)[-1]
    return _json({"name": name, "model": model, "createTime": "2026-12-07T00:00:00Z",
                  "expireTime": "2026-12-07T02:00:00Z", "usageMetadata": {"totalTokenCount": 5}})


def _cache_refused(credential: bytes, path: str, body: bytes) -> bytes | None:
    """Google's answer to a call naming a cache of another key or model, else None."""
    named = json.loads(body).get("cachedContent") if body[:1] == b"{" else None
    if named is None and path.startswith("/v1beta/cachedContents/"):
        named = path.removeprefix("/v1beta/")
    if not isinstance(named, str):
        return None
    owner, _, model = named.removeprefix("cachedContents/").partition(".")
    if owner != credential.decode().removeprefix("sk-"):
        return _json({"error": {"code": 403, "message": "CachedContent not found (or permission denied)",
                                "status": "PERMISSION_DENIED"}}, 403)
    found = _GEMINI_PATH.fullmatch(path)
    if found is not None and f"/models/{model}:" not in path:
        return _json({"error": {"code": 400, "message": "Model used by GenerateContent request and CachedContent "
                                "has to be the same", "status": "INVALID_ARGUMENT"}}, 400)
    return None


def answer(request: bytes) -> bytes:
    """The upstream's answer to one whole ``request``."""
    line, fields, body = parse_request(request)
    heads = {k.lower(): v for k, v in fields}
    credential = b"".join(heads.get(h, b"") for h in (b"authorization", b"x-api-key", b"x-goog-api-key"))
    path = line.split(b" ")[1].decode().split("?", 1)[0]
    if b"bad" in credential:
        return _failed(path)
    stream = bool(json.loads(body or b"{}").get("stream")) if body[:1] == b"{" else False
    gemini = {":streamGenerateContent": lambda: _sse((None, GEMINI_FIRST), (None, GEMINI)),
              ":generateContent": lambda: _json({**GEMINI, "candidates": [
                  {**GEMINI["candidates"][0], "content": {"role": "model", "parts": [{"text": "hello"}]}}]}),
              ":countTokens": lambda: _json({"totalTokens": 7}),
              ":embedContent": lambda: _json({"embedding": {"values": [0.1, 0.2]}}),
              ":batchEmbedContents": lambda: _json({"embeddings": [{"values": [0.1, 0.2]}]})}
    held = _cache_refused(credential, path, body)
    if held is not None:
        return held
    if found := _GEMINI_PATH.fullmatch(path):
        return gemini[":" + found["action"]]()
    if path == "/v1beta/cachedContents" or path.startswith("/v1beta/cachedContents/"):
        return _cache(line.split(b" ")[0].decode(), credential.decode(), path, body)
    asked = json.loads(body) if body[:1] == b"{" else {}
    if path == "/v1/images/generations":
        return _json(IMAGES)
    if path == "/v1/audio/transcriptions":  # a multipart form: each attempt must get it whole, its model too
        whole = b"gpt-4o-transcribe" in body and b"ID3-audio" in body
        return _json(TRANSCRIPTION) if whole else _json({"error": {"message": "the form came broken"}}, 400)
    if path == "/v1/messages" and stream and asked.get("thinking"):
        return _claude_thinking_tool_stream()
    if path == "/v1/chat/completions" and stream and asked.get("parallel_tool_calls"):
        return _parallel_tool_calls_stream(bool((asked.get("stream_options") or {}).get("include_usage")))
    if (found := _OPENAI_PATH.fullmatch(path)) and found["api"] == "responses":
        return _responses_stream() if stream else _json(RESPONSE)
    if found and found["api"] == "chat/completions":
        return _chat_stream() if stream else _json(CHAT)
    if found:
        return _json(EMBEDDINGS)
    if path == "/v1/messages/count_tokens":
        return _json({"input_tokens": 7})
    if path == "/v1/messages":
        return _claude_stream() if stream else _json(CLAUDE)
    return _json({"error": {"message": f"no such path {path}"}}, 404)  # as the providers answer one
