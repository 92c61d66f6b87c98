"""Limit stores, the public ``ap.stores`` namespace: one interface, the same semantics.

>>> from aigw_policy import stores
>>> store = stores.MemoryStore()

``MemoryStore()`` (one process, thread-safe), ``SQLiteStore(path)`` (one host, many
processes, survives restarts) and ``RedisStore(url)`` (many hosts). Each has ``check``,
``reserve``, ``reconcile``, ``release``, ``seed`` and the async twins ``acheck``,
``areserve``, ``areconcile``, ``arelease``; see :class:`aigw_policy.limits.LimitStore`.
"""

from __future__ import annotations

from typing import Any

# SQLiteStore and RedisStore load on first use (redis-py is optional): the package's __getattr__
from .limits import __getattr__  # noqa: F401
from .limits.memory import MemoryStore
from .limits.model import LimitStore, StoreUnavailable

__all__ = ["LimitStore", "MemoryStore", "RedisStore", "SQLiteStore", "StoreUnavailable",  # noqa: F822
           "from_url"]


def from_url(url: str, **options: Any) -> LimitStore:
    """A store from ``memory:``, ``sqlite:PATH`` or ``redis://...`` (``serve --store``)."""
    if url in ("memory:", "memory", ""):
        return MemoryStore(**options)
    if url.startswith("sqlite:"):
        from .limits.sqlite import SQLiteStore

        return SQLiteStore(url[len("sqlite:"):].removeprefix("//"), **options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .limits.redis_store import RedisStore

        return RedisStore(url, **options)
    raise ValueError(f"unknown store url {url!r} (memory:, sqlite:PATH or redis://...)")
