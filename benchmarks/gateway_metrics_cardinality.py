"""Series in `/metrics` after requests for N made-up models (label cardinality).

    .venv/bin/python benchmarks/gateway_metrics_cardinality.py [N]        # default 2000

An in-process gateway (default allow) in front of an upstream that answers every chat
completion with usage; each request names a new model. Prints the number of series and the
size of `/metrics`. Compare another checkout with PYTHONPATH=/path/to/it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from gateway.conftest import ServerThread  # noqa: E402 - uvicorn on a loopback port, in a thread

USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}


async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    data = json.dumps({"id": "c", "model": "gpt-4o", "choices": [], "usage": USAGE}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    import aigw_policy
    from aigw_policy.gateway import Gateway

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    d = Path(tempfile.mkdtemp())
    (d / "p.aigw").write_text('policy "c" {\n  default allow\n}\n')
    with ServerThread(upstream) as up, ServerThread(Gateway(policy=d / "p.aigw", upstream=up.url, watch=0)) as gw:
        with httpx.Client(base_url=gw.url, timeout=10) as client:
            for i in range(n):
                client.post("/v1/chat/completions", json={"model": f"m-{i}", "messages": [{"role": "user", "content": "x"}]})
            time.sleep(0.5)  # observers run after the last byte
            text = client.get("/metrics").text
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    print(f"aigw_policy from {Path(aigw_policy.__file__).parent}: {n} distinct request models -> "
          f"{len(series)} series, {len(text.encode()) / 1024:.0f} KiB of /metrics")


if __name__ == "__main__":
    main()
