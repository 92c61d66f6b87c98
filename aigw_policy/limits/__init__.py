"""Rate limits and usage caps: algorithms, the store contract and the stores.

``MemoryStore`` is imported here; ``SQLiteStore``, ``RedisStore`` and ``RedisClusterStore``
load on first use; ``from_url`` opens any of them from its URL. ``aigw_policy.stores``
(``ap.stores``) is the public alias of these names.
"""

from typing import Any

from .memory import MemoryStore
from .model import AsyncLimitStore, Charge, LimitSpec, LimitStore, Outcome, StoreUnavailable
from .store_url import from_url

__all__ = ["AsyncLimitStore", "Charge", "LimitSpec", "LimitStore", "MemoryStore", "Outcome",
           "RedisClusterStore", "RedisStore", "SQLiteStore", "StoreUnavailable", "from_url"]


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    if name == "RedisStore":
        from .redis_store import RedisStore

        return RedisStore
    if name == "RedisClusterStore":
        from .redis_cluster import RedisClusterStore

        return RedisClusterStore
    raise AttributeError(name)
