"""Limit stores for the engine's embedding tests: memory, SQLite and Redis.

Redis is the server at ``AIGW_TEST_REDIS`` (default ``redis://127.0.0.1:6379/15``); when it
does not answer, Redis cases skip with the reason shown, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aigw_policy import stores

REDIS_URL = os.environ.get("AIGW_TEST_REDIS", "redis://127.0.0.1:6379/15")
STORES = ["memory", "sqlite", "redis"]


def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    except Exception as error:  # noqa: BLE001 - any reason is shown
        reason = f"Redis at {REDIS_URL} is not usable: {type(error).__name__}: {error}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + " (CI=true: Redis tests must run)")
        pytest.skip(reason)
    return REDIS_URL


def make(kind: str, tmp_path: Path) -> Any:
    if kind == "memory":
        return stores.MemoryStore()
    if kind == "sqlite":
        return stores.SQLiteStore(tmp_path / f"limits-{uuid.uuid4().hex[:8]}.db", timeout=5)
    return stores.RedisStore(redis_url(), clock="client", hash_tag=f"t-{uuid.uuid4().hex[:12]}", timeout=5)


def each_store(kind: str, tmp_path: Path) -> Iterator[Any]:
    store = make(kind, tmp_path)
    yield store
    if kind == "redis":
        store.clear()
    store.close()
