"""Classification + usage extraction overhead per request, next to a bare ``json.loads``.

    python benchmarks/providers_bench.py

For JSON and SSE responses, small and ~1 MB: the median time of
(a) ``json.loads`` of the response payload (for SSE: of every event's data), the baseline;
(b) ``classify`` of the request plus ``extract_usage`` of the response (the full adapter path;
for SSE, the stream fed in 4 KiB reads as ``serve`` reads one too long to keep). Prints medians
and the ratio (b)/(a). SSE streams: OpenAI chat chunks, and an Anthropic message (the same
~1 MB of text deltas); for each 1 MB stream, (b) also with ``sse.FAST_EVENTS`` off (every event
through ``json.loads``, as before event shapes). Then ``classify`` of three real requests agents send,
next to ``json.loads`` of their bodies: an Anthropic agent history (~83 KB: 180 messages, 60
``tool_use`` blocks), an OpenAI request with 40 tool definitions, a 44 KB prompt of code.
Bounded to a few seconds; no assertions.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from aigw_policy.providers import classify, extract_usage

REQUEST = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "headers": {},
           "body": {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
                    "messages": [{"role": "system", "content": "You are terse."},
                                 {"role": "user", "content": "Summarize the attached report."}]}}
USAGE = {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
         "prompt_tokens_details": {"cached_tokens": 1920}, "completion_tokens_details": {"reasoning_tokens": 0}}


def json_body(text_bytes: int) -> bytes:
    text = ("lorem ipsum dolor sit amet " * (text_bytes // 27 + 1))[:text_bytes]
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                       "usage": USAGE}).encode()


def sse_body(text_bytes: int, piece: int = 24) -> bytes:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06"}
    out = []
    word = "lorem ipsum dolor sit am"[:piece]
    for _ in range(max(1, text_bytes // (piece + 130))):  # ~1 MB of SSE in total
        out.append(b"data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}).encode() + b"\n\n")
    out.append(b"data: " + json.dumps({**base, "choices": [], "usage": USAGE}).encode() + b"\n\ndata: [DONE]\n\n")
    return b"".join(out)


ANTHROPIC = {"method": "POST", "url": "https://api.anthropic.com/v1/messages", "headers": {},
             "body": {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True,
                      "messages": [{"role": "user", "content": "Summarize the attached report."}]}}


def anthropic_sse_body(text_bytes: int, piece: int = 24) -> bytes:
    def event(name: str, obj: dict[str, object]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + json.dumps(obj).encode() + b"\n\n"

    out = [event("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "usage": {"input_tokens": 2006, "cache_read_input_tokens": 0, "output_tokens": 1}}}),
        event("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})]
    word = "lorem ipsum dolor sit am"[:piece]
    for _ in range(max(1, text_bytes // (piece + 140))):
        out.append(event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                 "delta": {"type": "text_delta", "text": word}}))
    out += [event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                    "usage": {"output_tokens": 300}}),
            event("message_stop", {"type": "message_stop"})]
    return b"".join(out)


def bench(fn: Callable[[], object], budget: float) -> float:
    fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline or len(samples) < 5:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
        if len(samples) >= 2000:
            break
    return statistics.median(samples)


def main() -> None:
    from aigw_policy.providers import sse

    openai_1mb, anthropic_1mb = sse_body(1_000_000), anthropic_sse_body(1_000_000)
    cases = [("json", "small", json_body(200), REQUEST, True), ("json", "1 MB", json_body(1_000_000), REQUEST, True),
             ("sse", "small", sse_body(600), REQUEST, True), ("sse", "1 MB", openai_1mb, REQUEST, True),
             ("sse", "1 MB", openai_1mb, REQUEST, False), ("sse-an", "1 MB", anthropic_1mb, ANTHROPIC, True),
             ("sse-an", "1 MB", anthropic_1mb, ANTHROPIC, False)]
    rows = []
    for kind, size, payload, request, fast in cases:
        sse.FAST_EVENTS = fast
        budget = 0.6 if size == "small" else 2.0
        if kind == "json":
            def base(p: bytes = payload) -> object:
                return json.loads(p)

            def ours(p: bytes = payload) -> object:
                ai = classify(request)
                return extract_usage(ai, {"status_code": 200, "headers": {}, "body": p.decode()})
        else:
            events = [line[6:] for line in payload.split(b"\n") if line.startswith(b"data: ") and line != b"data: [DONE]"]

            def base(ev: list[bytes] = events) -> object:
                return [json.loads(e) for e in ev]

            def ours(p: bytes = payload) -> object:
                ai = classify(request)
                from aigw_policy.providers import stream_usage
                acc = stream_usage(ai)
                for i in range(0, len(p), 4096):  # as a gateway forwards: 4 KiB reads
                    acc.feed(p[i : i + 4096])
                return acc.finish()

        check = ours()
        assert getattr(check, "input_tokens", None) == 2006, check
        b, o = bench(base, budget), bench(ours, budget)
        rows.append((kind, size, len(payload), b, o, fast))
    sse.FAST_EVENTS = True

    print(f"{'payload':<6} {'size':>6} {'bytes':>9} {'json.loads':>12} {'classify+usage':>15} {'ratio':>7}")
    for kind, size, n, b, o, fast in rows:
        note = "" if fast else "  (FAST_EVENTS off: json.loads of every event)"
        print(f"{kind:<6} {size:>6} {n:>9,} {b * 1e6:>10.1f}us {o * 1e6:>13.1f}us {o / b:>6.2f}x{note}")
    ai_only = bench(lambda: classify(REQUEST), 0.5)
    print(f"\nclassify alone (chat request, 2 messages): {ai_only * 1e6:.1f}us")
    print(f"\n{'request (classify)':<34} {'body bytes':>10} {'json.loads':>12} {'classify':>11}")
    for name, request in real_requests():
        raw = json.dumps(request["body"]).encode()
        b = bench(lambda raw=raw: json.loads(raw), 0.5)  # type: ignore[misc]
        o = bench(lambda request=request: classify(request), 0.5)  # type: ignore[misc]
        print(f"{name:<34} {len(raw):>10,} {b * 1e6:>10.1f}us {o * 1e6:>9.1f}us")


def real_requests() -> list[tuple[str, dict[str, object]]]:
    """Requests as agents send them (docs/providers.md, "Token estimates before the request")."""
    history: list[dict[str, object]] = []
    for i in range(60):
        history.append({"role": "user", "content": [{"type": "text", "text": "please look at the file and fix the bug "
                                                                             "in the parser " * 8}]})
        history.append({"role": "assistant", "content": [
            {"type": "text", "text": "I will read the file first."},
            {"type": "tool_use", "id": f"t{i}", "name": "read_file", "input": {"path": f"src/mod{i}.py", "lines": [1, 200]}}]})
        history.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                                                     "content": "def f(x):\n    return x + 1\n" * 20}]})
    anthropic = {"method": "POST", "url": "https://api.anthropic.com/v1/messages", "headers": {},
                 "body": {"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": "You are a coding agent." * 20,
                          "messages": history}}
    tool = {"type": "function", "function": {
        "name": "search", "description": "Search the knowledge base for documents matching a query and return the top "
                                         "results with their titles and URLs.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "the query"}, "limit": {"type": "integer", "minimum": 1},
            "filters": {"type": "object", "properties": {"lang": {"type": "string", "enum": ["en", "fr", "de"]}}}},
            "required": ["query"]}}}
    tools = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "headers": {},
             "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}],
                      "tools": [{**tool, "function": {**tool["function"], "name": f"search_{i}"}} for i in range(40)]}}
    code = ("def f(x):\n    return x + 1\n" * 20 + "please look at the file " * 8) * 60
    prompt = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "headers": {},
              "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": code}]}}
    return [("anthropic agent history (83 KB)", anthropic), ("openai, 40 tools", tools),
            ("openai, 44 KB prompt of code", prompt)]


if __name__ == "__main__":
    main()
