"""A Redis Cluster of this test run's own (tests/redis_cluster.py): six nodes, 3 primaries.

When ``redis-server`` or ``redis-cli`` is missing the cluster tests skip with the reason
shown; under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from redis_cluster import Cluster, cluster_missing, start_cluster


def require_cluster_tools() -> None:
    reason = cluster_missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + " (CI=true: Redis Cluster tests must run)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """One cluster for the session (tests that break it start their own)."""
    require_cluster_tools()
    c = start_cluster()
    yield c
    c.stop()


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own: it may kill nodes."""
    require_cluster_tools()
    c = start_cluster()
    yield c
    c.stop()


def make_cluster_store(seed: str, **options: Any):
    from aigw_policy.limits.redis_cluster import RedisClusterStore

    options.setdefault("hash_tag", f"t-{uuid.uuid4().hex[:10]}")
    options.setdefault("timeout", 2.0)
    return RedisClusterStore(seed, **options)


@pytest.fixture
def cluster_store(cluster: Cluster) -> Iterator[Any]:
    store = make_cluster_store(cluster.seed)
    yield store
    store.clear()
    store.close()
