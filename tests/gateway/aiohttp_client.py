"""The oracle for the lean upstream client (``aigw_policy.gateway.http_client``): the same small
interface (``HttpClient.request``, ``Response.chunk``, ``UpstreamError``) over an
``aiohttp.ClientSession`` configured as the gateway's (``proxy.upstream_session``: answers left
encoded, no proxy settings from the environment, no ``Accept`` added, no cookie jar), so that
tests/gateway/test_http_client.py runs the same scenarios against both and compares.

Errors are mapped as the gateway maps them: ``aiohttp.ClientError`` becomes
:class:`UpstreamError`, a time-out (aiohttp's are ``TimeoutError`` subclasses, and
``ClientError`` too) becomes a plain ``TimeoutError``.
"""

from __future__ import annotations

import ssl as ssl_module
import aiohttp
from yarl import URL


__all__ = ["AiohttpClient", "AiohttpResponse", "UpstreamError"]


class UpstreamError(Exception):
    """The upstream could not be reached, broke the connection, or did not answer in HTTP/1.x."""


class AiohttpResponse:
    """An aiohttp answer behind the lean client's ``Response`` interface."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.raw_headers: list[tuple[bytes, bytes]] = list(response.raw_headers)

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name)

    async def chunk(self) -> bytes:
        try:
            return await self._response.content.readany()
        except TimeoutError as error:
            raise TimeoutError(str(error)) from error
        except aiohttp.ClientError as error:
            raise UpstreamError(f"{type(error).__name__}: {error}") from error

    @property
    def at_eof(self) -> bool:
        return self._response.content.at_eof()

    def release(self) -> None:
        self._response.release()

    def close(self) -> None:
        self._response.close()


class AiohttpClient:
    """``AiohttpClient(session)``, or ``AiohttpClient(max_connections=..., ssl=..., idle_timeout=...)``
    to make the session as the lean ``HttpClient`` takes its settings (within a running loop)."""

    def __init__(self, session: aiohttp.ClientSession | None = None, *, max_connections: int = 512,
                 ssl: ssl_module.SSLContext | None = None, idle_timeout: float = 15.0) -> None:
        if session is None:
            connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0,
                                             ssl=ssl if ssl is not None else True, keepalive_timeout=idle_timeout)
            session = aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=False,
                                            cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("Accept",))
        self.session = session

    async def request(self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes, *,
                      connect_timeout: float | None = None, read_timeout: float | None = None) -> AiohttpResponse:
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect_timeout, sock_read=read_timeout)
        try:
            response = await self.session.request(method, URL(url, encoded=True), headers=wire_headers(headers),
                                                  data=body, allow_redirects=False, timeout=timeout)
        except TimeoutError as error:
            raise TimeoutError(str(error)) from error
        except aiohttp.InvalidURL:  # a ValueError too: the caller's mistake, not the upstream's
            raise
        except aiohttp.ClientError as error:
            raise UpstreamError(f"{type(error).__name__}: {error}") from error
        return AiohttpResponse(response)

    async def close(self) -> None:
        await self.session.close()


def _text(raw: bytes) -> str:
    """A header name or value as the aiohttp proxy passed it (aiohttp encodes text as UTF-8):
    UTF-8 bytes round-trip exactly, other bytes (obs-text) are read as latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def wire_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(_text(k), _text(v)) for k, v in headers]
