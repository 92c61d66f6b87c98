"""Store fixtures: every shared test runs on memory, SQLite and Redis.

Redis is the server at ``AIGW_TEST_REDIS`` (default ``redis://127.0.0.1:6379/15``). When it
does not answer, Redis tests skip with the reason shown; under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from aigw_policy.stores import MemoryStore, RedisStore, SQLiteStore

REDIS_URL = os.environ.get("AIGW_TEST_REDIS", "redis://127.0.0.1:6379/15")
_redis_error: list[str | None] = []


def redis_reason() -> str | None:
    """Why Redis cannot be used, or None when it answers (asked once per run)."""
    if not _redis_error:
        try:
            import redis

            redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
            _redis_error.append(None)
        except Exception as e:  # ImportError included: redis-py not installed
            _redis_error.append(f"Redis at {REDIS_URL} is not usable: {type(e).__name__}: {e}")
    return _redis_error[0]


def require_redis() -> str:
    reason = redis_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + " (CI=true: Redis tests must run)")
        pytest.skip(reason)
    return REDIS_URL


def fresh_redis(**options) -> RedisStore:
    url = require_redis()
    store = RedisStore(url, clock=options.pop("clock", "client"),
                       hash_tag=options.pop("hash_tag", f"t-{uuid.uuid4().hex[:12]}"),
                       timeout=options.pop("timeout", 2.0), **options)
    return store


def make_store(kind: str, tmp_path, **options):
    if kind == "memory":
        return MemoryStore(**options)
    if kind == "sqlite":
        return SQLiteStore(tmp_path / f"limits-{uuid.uuid4().hex[:8]}.db",
                           timeout=options.pop("timeout", 5.0), **options)
    return fresh_redis(**options)


STORES = ["memory", "sqlite", "redis"]


@pytest.fixture(params=STORES)
def store_kind(request):
    return request.param


@pytest.fixture
def store(store_kind, tmp_path):
    s = make_store(store_kind, tmp_path)
    yield s
    if store_kind == "redis":
        s.clear()
    s.close()


@pytest.fixture
def store_factory(tmp_path):
    made = []

    def make(kind, **options):
        s = make_store(kind, tmp_path, **options)
        made.append((kind, s))
        return s

    yield make
    for kind, s in made:
        if kind == "redis":
            s.clear()
        s.close()


def after_rest(breaker: Any, call: Any, tries: int = 12) -> Any:
    """``call()`` once the store's breaker (limits/breaker.py) admits it: a probe that timed out
    rests it (serve28), and one still under way when the store came back (an outbox retry's, in
    its own thread) may time out after and rest it again. A call it refuses never reached the
    store, so retrying it counts nothing twice; bounded by ``tries``."""
    import time

    from aigw_policy.limits import StoreUnavailable

    last: BaseException | None = None
    for _ in range(tries):
        time.sleep(breaker.resting + 0.05)
        try:
            return call()
        except (StoreUnavailable, AssertionError) as error:  # refused at once, or still queued
            last = error
    raise AssertionError(f"the breaker never admitted the call: {last}")
