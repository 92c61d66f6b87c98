"""The no-overshoot bar through the public API: ``ap.Engine`` over ``ap.stores.*``, 8
processes x 200 requests on a capacity of 500 admit exactly 500."""

from __future__ import annotations

import multiprocessing as mp
import uuid

import pytest

import aigw_policy as ap

from conftest import require_redis

POLICY = """
on_http_request:
  - name: team-cap
    actions:
      - type: rate-limit
        config: {name: cap, algorithm: fixed_window, capacity: 500, rate: 1h,
                 bucket_key: [identity.team]}
"""
PROCS, EACH = 8, 200


def _request(rid: str) -> dict:
    return {"id": rid, "now": "2026-11-26T12:00:00Z",
            "identity": {"key": "k1", "team": "research"},
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": "gpt-4o",
                                 "messages": [{"role": "user", "content": "hi"}]}}}


def _store(target):
    kind, where = target
    if kind == "sqlite":
        return ap.stores.SQLiteStore(where, timeout=30)
    url, tag = where
    return ap.stores.RedisStore(url, hash_tag=tag, timeout=10)


def _worker(args):
    target, proc = args
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=_store(target))
    allowed = 0
    for i in range(EACH):
        d = engine.evaluate(_request(f"p{proc}-{i}"))
        assert d.status_code in (200, 429), d.to_dict()
        allowed += d.verdict == "allow"
    return allowed


def _run(target) -> int:
    with mp.get_context("fork").Pool(PROCS) as pool:
        return sum(pool.map(_worker, [(target, p) for p in range(PROCS)]))


def test_engine_over_sqlite_admits_exactly_capacity(tmp_path):
    path = str(tmp_path / "limits.db")
    ap.stores.SQLiteStore(path).close()
    assert _run(("sqlite", path)) == 500


def test_engine_over_redis_admits_exactly_capacity():
    url = require_redis()
    tag = f"eng-{uuid.uuid4().hex[:8]}"
    try:
        assert _run(("redis", (url, tag))) == 500
    finally:
        ap.stores.RedisStore(url, hash_tag=tag).clear()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_replayed_request_id_is_not_charged_twice_through_the_engine(kind, tmp_path):
    store = ap.stores.MemoryStore() if kind == "memory" else ap.stores.SQLiteStore(
        tmp_path / "l.db")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    for _ in range(3):
        engine.evaluate(_request("same-id"))
    d = engine.evaluate(_request("other"))
    assert [lim["used"] for lim in d.to_dict()["limits"]] == [2.0]
