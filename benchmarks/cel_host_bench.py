"""CEL host values: the cost of taking request values in (docs/cel.md, "Integers from the host").

    .venv/bin/python benchmarks/cel_host_bench.py

Per-evaluation medians (µs) of policy conditions on a request's activation: host `int`
variables (`conn.*`, read with a range test), `dyn` values taken out of a map (`vars.*`), the
`ai.*` counts and a header. Run it on two checkouts in one session to compare.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigw_policy.env import compile_condition  # noqa: E402
from aigw_policy.env.activation import activation, classify_request  # noqa: E402
from aigw_policy.env.request import Request  # noqa: E402

CONDITIONS = [
    "conn.client_port > 1000 && conn.bytes_in < 5000",
    "vars.a == 'b' && vars.n > 2",
    "ai.max_output_tokens > 10 && ai.model.startsWith('gpt')",
    "req.headers['user-agent'][0].startsWith('curl')",
]


def main() -> None:
    req = Request.parse({
        "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                    "headers": {"user-agent": "curl/8"}, "body": {"model": "gpt-4o", "messages": [], "max_tokens": 100}},
        "conn": {"client_port": 4242, "bytes_in": 1000},
    })  # fmt: skip
    act = activation(req, classify_request(req), "rid", 0.0)
    act["vars"] = {"a": "b", "n": 3, "l": [1, 2]}
    for text in CONDITIONS:
        f = compile_condition(text).function
        assert f(act) is True, text
        runs = [min(timeit.repeat(lambda: f(act), number=5000, repeat=3)) / 5000 * 1e6 for _ in range(7)]
        print(f"{text:58} {statistics.median(runs):7.3f} us")


if __name__ == "__main__":
    main()
