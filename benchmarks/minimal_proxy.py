"""The floor of benchmarks/gateway_compare.py: a minimal forwarding proxy with no policy.

    python benchmarks/minimal_proxy.py UPSTREAM_URL PORT

uvicorn with uvloop and httptools when installed, aiohttp as the upstream client: the
standard fast path of a Python proxy. It forwards method, path, query, body and the
end-to-end headers, and streams the answer back. Nothing else: no auth, no limits.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import uvicorn

HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"host", b"content-length", b"upgrade",
       b"proxy-connection", b"te", b"trailer"}


class MinimalProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                         auto_decompress=False)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.session is not None:
                        await self.session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        url = self.upstream + scope["path"]
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP]
        assert self.session is not None
        async with self.session.request(scope["method"], url, data=body, headers=headers) as answer:
            out = [(k, v) for k, v in answer.raw_headers if k.lower() not in HOP]
            await send({"type": "http.response.start", "status": answer.status, "headers": out})
            async for chunk in answer.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


def main() -> None:
    upstream, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(MinimalProxy(upstream), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop="auto", http="auto", lifespan="on")


if __name__ == "__main__":
    main()
