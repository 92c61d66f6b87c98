"""A limit store from its URL: ``memory:``, ``sqlite:PATH``, ``redis://...`` or
``redis+cluster://...`` (``serve --store``, ``Engine(store="...")``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .memory import MemoryStore
from .model import LimitStore

__all__ = ["from_url"]


def from_url(url: str, **options: Any) -> LimitStore:
    """A store from ``memory:``, ``sqlite:PATH``, ``redis://...`` or ``redis+cluster://...``
    (``serve --store``).

    ``memory:?max_cells=N`` sets the memory store's bound on limit cells (``MemoryStore``).
    A Redis URL may end with ``?outbox=PATH``: the file that keeps reconciles and releases
    Redis did not acknowledge until a retry lands, across restarts (see docs/limits.md).
    A cluster URL names one node and may end with ``?shard=first|key|one`` (the shard rule,
    ``sharding.py``) and ``prepare_ttl=SECONDS``.
    """
    if url in ("memory:", "memory", ""):
        return MemoryStore(**options)
    if url.startswith("memory:?"):  # memory:?max_cells=N (serve29)
        url, cells = _take_query(url, "max_cells")
        if url != "memory:" or cells is None or not cells.isdigit():
            raise ValueError(f"bad memory store url {url!r}: memory:?max_cells=N is its one option")
        return MemoryStore(**{"max_cells": int(cells), **options})
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return SQLiteStore(url[len("sqlite:"):].removeprefix("//"), **options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_store import RedisStore

        url, outbox = _take_query(url, "outbox")
        if outbox:
            options.setdefault("outbox", outbox)
        return RedisStore(url, **options)
    if url.startswith(("redis+cluster://", "rediss+cluster://")):
        from .redis_cluster import RedisClusterStore

        url, shard = _take_query(url, "shard")
        url, prepare_ttl = _take_query(url, "prepare_ttl")
        if urlsplit(url).query:
            from ..redact import redact

            raise ValueError(f"unknown option in store url {redact(url)!r} (shard, prepare_ttl)")
        if shard is not None:
            options.setdefault("shard", shard)
        if prepare_ttl is not None:
            options.setdefault("prepare_ttl", _seconds(prepare_ttl))
        return RedisClusterStore(url, **options)
    from ..redact import redact

    raise ValueError(f"unknown store url {redact(url)!r} "
                     "(memory:, sqlite:PATH, redis://... or redis+cluster://...)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"prepare_ttl must be a positive number of seconds, not {text!r}")
    return value


def _take_query(url: str, name: str) -> tuple[str, str | None]:
    """``url`` without the query parameter ``name``, and that parameter's value."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    value = next((v for k, v in pairs if k == name), None)
    rest = urlencode([(k, v) for k, v in pairs if k != name])
    return urlunsplit(parts._replace(query=rest)), value
