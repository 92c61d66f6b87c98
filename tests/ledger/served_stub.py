"""The upstream of the kill -9 test: appends each request's ``x-aigw-decision-id`` to a file
the moment it arrives (``os.write`` on an ``O_APPEND`` file: kept whatever happens to the
gateway), then answers; a ``slow-*`` model holds its answer for a minute (a long stream).

    python served_stub.py PORT SERVED_LOG
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

USAGE = {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}


class Stub:
    def __init__(self, log: str) -> None:
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = bytearray()
        while True:
            m = await receive()
            raw += m.get("body", b"")
            if not m.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        rid = headers.get("x-aigw-decision-id")
        if rid:  # (not the readiness probe)
            os.write(self.fd, (rid + "\n").encode())
        model = (json.loads(raw) if raw else {}).get("model", "")
        if model.startswith("slow-"):
            await asyncio.sleep(60)
        body = json.dumps({"id": "x", "object": "chat.completion", "model": model, "usage": USAGE,
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "hi"}}]}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(Stub(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False)
