"""The upstream side of ``aigw-policy serve``: an ASGI app that forwards each request to one
upstream base URL with httpx and streams the answer back as it arrives.

It knows nothing of policies: :class:`~aigw_policy.asgi.PolicyMiddleware` in front of it
decides, rewrites the request and reads the answer. This app only adds the upstream
credentials, maps network failures to provider-shaped 502/504 answers and stops reading the
upstream as soon as the client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .errors import error_response, wire_api
from .hops import hop_by_hop

__all__ = ["HOP_BY_HOP", "UpstreamProxy"]

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})


class UpstreamProxy:
    """``UpstreamProxy("https://api.openai.com", auth={"authorization": "Bearer ..."})``.

    ``timeout``: seconds to connect and between two reads from the upstream (a stream that
    goes quiet that long is cut). ``client``: an ``httpx.AsyncClient`` to use (else one is
    made on first use and closed by :meth:`aclose` or the ASGI lifespan shutdown).
    """

    def __init__(self, upstream: str, *, auth: Mapping[str, str] | None = None, timeout: float = 60.0,
                 connect_timeout: float = 5.0, client: Any = None, max_connections: int = 512) -> None:
        self.upstream = upstream.rstrip("/")
        self.auth = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (auth or {}).items()]
        self._auth_names = {k for k, _ in self.auth}
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                limits=httpx.Limits(max_connections=self.max_connections,
                                    max_keepalive_connections=self.max_connections),
                follow_redirects=False, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        import httpx

        ctx = scope.get("aigw")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [(k, v) for k, v in scope["headers"]
                   if k.decode("latin-1").lower() not in HOP_BY_HOP and k not in self._auth_names]
        headers += self.auth
        qs = scope.get("query_string", b"")
        url = self.upstream + (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if qs:
            url += "?" + qs.decode("latin-1")
        client = self.client()
        request = client.build_request(scope["method"], url, headers=headers, content=bytes(body))
        plain = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            sender = asyncio.ensure_future(client.send(request, stream=True))
            await asyncio.wait({sender, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not sender.done():  # the client left while the upstream was thinking
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
                if ctx is not None:
                    ctx.disconnected = True
                return
            try:
                response = sender.result()
            except httpx.TimeoutException:
                await self._fail(send, ctx, scope, plain, 504, "timeout", "the upstream did not answer in time")
                return
            except httpx.HTTPError as error:
                await self._fail(send, ctx, scope, plain, 502, "unreachable",
                                 f"the upstream could not be reached ({type(error).__name__})")
                return
            try:
                hop = HOP_BY_HOP | hop_by_hop(response.headers.raw)  # with the names Connection lists
                out = [(k, v) for k, v in response.headers.raw if k.lower().decode("latin-1") not in hop]
                await send({"type": "http.response.start", "status": response.status_code, "headers": out})
                await self._pump(response, gone, send, ctx)
            finally:
                await response.aclose()
        finally:
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)

    async def _pump(self, response: Any, gone: Any, send: Any, ctx: Any) -> None:
        """Copy the upstream body to the client chunk by chunk, until the end, a read error or
        the client's disconnect (``gone``), whichever comes first."""
        import httpx

        async def copy() -> None:
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        copier = asyncio.ensure_future(copy())
        try:
            done, _ = await asyncio.wait({copier, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not copier.done():
                copier.cancel()
            await asyncio.gather(copier, return_exceptions=True)
        if copier in done:
            error = copier.exception()
            if error is not None:
                if ctx is not None:
                    ctx.upstream_error = "timeout" if isinstance(error, httpx.TimeoutException) else "broken"
                if not isinstance(error, httpx.HTTPError):
                    raise error
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif ctx is not None:
            ctx.disconnected = True

    async def _fail(self, send: Any, ctx: Any, scope: dict[str, Any], headers: Mapping[str, str], status: int,
                    kind: str, message: str) -> None:
        if ctx is not None:
            ctx.upstream_error = kind
        rid = ctx.request_id if ctx is not None else None
        body, hdrs = error_response(wire_api(scope["path"], headers), status, message, decision_id=rid)
        await send({"type": "http.response.start", "status": status, "headers": hdrs + [(b"x-aigw-upstream-error", kind.encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _disconnect(receive: Any) -> None:
    """Returns when the client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass
