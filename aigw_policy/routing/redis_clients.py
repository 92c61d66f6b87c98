"""The Redis clients of routing's own tables in the limit store's Redis (live metrics, the
owners of background responses): one sync and one ``redis.asyncio`` client per table, made on
first use with the same options (each reply and connect waits ``timeout`` at most; replies are
text), and closed together."""

from __future__ import annotations

from typing import Any

__all__ = ["RedisClients"]


class RedisClients:
    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self._client: Any = None
        self._aclient: Any = None

    def _options(self) -> dict[str, Any]:
        return dict(socket_timeout=self.timeout, socket_connect_timeout=self.timeout, decode_responses=True)

    def sync(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url, **self._options())
        return self._client

    def async_(self) -> Any:
        if self._aclient is None:  # no await in between: one coroutine creates it
            import redis.asyncio as aredis

            self._aclient = aredis.Redis.from_url(self.url, **self._options())
        return self._aclient

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Both clients closed (the sync one too: it holds a socket of its own)."""
        if self._aclient is not None:
            client, self._aclient = self._aclient, None
            await client.aclose()
        self.close()
