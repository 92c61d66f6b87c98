"""A limit store from its URL: ``memory:``, ``sqlite:PATH`` or ``redis://...`` (``serve --store``,
``Engine(store="...")``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .memory import MemoryStore
from .model import LimitStore

__all__ = ["from_url"]


def from_url(url: str, **options: Any) -> LimitStore:
    """A store from ``memory:``, ``sqlite:PATH`` or ``redis://...`` (``serve --store``).

    A Redis URL may end with ``?outbox=PATH``: the file that keeps reconciles and releases
    Redis did not acknowledge until a retry lands, across restarts (see docs/limits.md).
    """
    if url in ("memory:", "memory", ""):
        return MemoryStore(**options)
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return SQLiteStore(url[len("sqlite:"):].removeprefix("//"), **options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_store import RedisStore

        url, outbox = _take_query(url, "outbox")
        if outbox:
            options.setdefault("outbox", outbox)
        return RedisStore(url, **options)
    from ..redact import redact

    raise ValueError(f"unknown store url {redact(url)!r} (memory:, sqlite:PATH or redis://...)")


def _take_query(url: str, name: str) -> tuple[str, str | None]:
    """``url`` without the query parameter ``name``, and that parameter's value."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    value = next((v for k, v in pairs if k == name), None)
    rest = urlencode([(k, v) for k, v in pairs if k != name])
    return urlunsplit(parts._replace(query=rest)), value
