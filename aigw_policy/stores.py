"""Limit stores, the public ``ap.stores`` namespace (SPEC §10): one interface, the same semantics.

>>> from aigw_policy import stores
>>> store = stores.MemoryStore()

``MemoryStore()`` (one process, thread-safe), ``SQLiteStore(path)`` (one host, many
processes, survives restarts), ``RedisStore(url)`` (many hosts) and ``RedisClusterStore(url)``
(many hosts, limits sharded over a Redis Cluster); ``from_url(url)`` opens one from ``memory:``,
``sqlite:PATH``, ``redis://...`` or ``redis+cluster://...``. Each has ``check``, ``reserve``,
``reconcile``, ``release``, ``seed`` and the async twins ``acheck``, ``areserve``,
``areconcile``, ``arelease``; see :class:`aigw_policy.limits.LimitStore`.

This module is a public alias: the stores live in :mod:`aigw_policy.limits`, and the code of
this package imports them from there.
"""

from __future__ import annotations

# SQLiteStore, RedisStore and RedisClusterStore load on first use (redis-py is optional): the package's __getattr__
from .limits import __getattr__  # noqa: F401
from .limits.memory import MemoryStore
from .limits.model import LimitStore, StoreUnavailable
from .limits.store_url import from_url

__all__ = ["LimitStore", "MemoryStore", "RedisClusterStore", "RedisStore", "SQLiteStore", "StoreUnavailable",  # noqa: F822
           "from_url"]
