"""``Request.parse`` (a request's validation, env/request.py) on the engine benchmark's short
request and on chat bodies as clients send them.

    python benchmarks/request_bench.py

Prints, for each body, the best of nine timings (us per parse) with the long-list depth check
(``FAST_DEPTH``) on and off, in the same process. No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from engine_bench import requests_for  # noqa: E402

from aigw_policy.env import request as request_module  # noqa: E402
from aigw_policy.env.request import Request  # noqa: E402


def body(messages: int, parts: bool = False, tools: int = 0) -> Any:
    msgs = [{"role": "user" if i % 2 == 0 else "assistant",
             "content": [{"type": "text", "text": f"message {i} " * 5}] if parts else f"message {i} " * 5}
            for i in range(messages)]
    b: dict[str, Any] = {"model": "gpt-4o", "messages": msgs, "max_tokens": 300, "stream": True}
    if tools:
        b["tools"] = [{"type": "function", "function": {"name": f"t{j}", "parameters": {
            "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "integer"}}}}}}
            for j in range(tools)]
    return json.loads(json.dumps(b))  # as a gateway gets it


def with_body(b: Any) -> dict[str, Any]:
    r = dict(requests_for("acme-gateway", 4)[1])
    r["request"] = dict(r["request"], body=b)
    return r


def main() -> None:
    cases = [("engine_bench's request", requests_for("acme-gateway", 4)[1]),
             ("1 message + 5 tools", with_body(body(1, tools=5))), ("50 messages", with_body(body(50))),
             ("50 messages, content parts", with_body(body(50, True))),
             ("300 messages, parts, 20 tools", with_body(body(300, True, 20)))]
    print(f"{'body':<32} {'bytes':>8} {'level at a time':>16} {'item by item':>13}")
    for name, r in cases:
        n = max(20, int(20000 / (1 + len(json.dumps(r)) / 200)))
        times = []
        for fast in (True, False):
            request_module.FAST_DEPTH = fast
            Request.parse(r)
            times.append(min(timeit.repeat(lambda r=r: Request.parse(r), number=n, repeat=9)) / n * 1e6)
        request_module.FAST_DEPTH = True
        print(f"{name:<32} {len(json.dumps(r)):>8,} {times[0]:>14.2f}us {times[1]:>11.2f}us")


if __name__ == "__main__":
    main()
