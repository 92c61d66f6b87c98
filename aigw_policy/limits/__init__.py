"""Rate limits and usage caps: algorithms, the store contract and the stores.

``MemoryStore`` is imported here; ``SQLiteStore`` and ``RedisStore`` load on first use
(``aigw_policy.stores`` is the public namespace for all three).
"""

from typing import Any

from .memory import MemoryStore
from .model import AsyncLimitStore, Charge, LimitSpec, LimitStore, Outcome, StoreUnavailable

__all__ = ["AsyncLimitStore", "Charge", "LimitSpec", "LimitStore", "MemoryStore", "Outcome", "RedisStore",
           "SQLiteStore", "StoreUnavailable"]


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    if name == "RedisStore":
        from .redis_store import RedisStore

        return RedisStore
    raise AttributeError(name)
