"""``shard_key: identity.org`` against a real 3-primary cluster: limits keyed on the team and
on the API key land on their org's shard, every reserve takes one round trip (never two
phases), and admission stays exact under concurrency. Without the setting, the same traffic
is cross-shard (the control)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import aigw_policy as ap

from .conftest import make_cluster_store

LIMITS = """
on_http_request:
  - actions:
      - type: rate-limit
        config: {name: per-team, algorithm: fixed_window, capacity: 4, rate: 1h,
                 bucket_key: [identity.team]}
      - type: rate-limit
        config: {name: per-key, algorithm: fixed_window, capacity: 1000, rate: 1h,
                 bucket_key: [identity.key]}
"""
ORGS = [f"org-{i}" for i in range(6)]
TEAMS = {org: [f"{org}-team-{j}" for j in range(2)] for org in ORGS}
OFFERED = 9  # per team; capacity 4


def _requests() -> list[dict[str, Any]]:
    out = []
    for n in range(OFFERED):
        for org in ORGS:
            for team in TEAMS[org]:
                out.append({"id": uuid.uuid4().hex,
                            "identity": {"org": org, "team": team, "key": f"{team}-key-{n % 2}"},
                            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                                        "headers": {"content-type": "application/json"},
                                        "body": {"model": "gpt-4o",
                                                 "messages": [{"role": "user", "content": "hi"}]}}})
    return out


def _burst(policy_text: str, store: Any) -> Counter[str]:
    engine = ap.Engine(ap.loads(policy_text, format="yaml"), store=store)
    requests = _requests()
    with ThreadPoolExecutor(8) as pool:
        decisions = list(pool.map(engine.evaluate, requests))
    return Counter(r["identity"]["team"] for r, d in zip(requests, decisions) if d.allowed)


def _placement(cluster: Any, base: str) -> tuple[dict[str, set[int]], dict[str, set[tuple[str, str]]]]:
    """Each hash tag of the store's keys (``base:org``): the slots its keys are in, and the
    limit buckets (limit name, bucket key) it holds."""
    import redis

    slots: dict[str, set[int]] = defaultdict(set)
    buckets: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for port in cluster.primaries():
        conn = redis.Redis(port=port, decode_responses=True)
        for key in conn.keys("{" + base + ":*"):
            tag, rest = key[1:].split("}:", 1)
            slots[tag].add(int(conn.execute_command("CLUSTER KEYSLOT", key)))
            parts = rest.split(":")
            if parts[0] == "c":  # a counter: c:<window>:<limit>:<bucket key>|<window start>
                buckets[tag].add((parts[2], parts[3].rsplit("|", 1)[0]))
    return slots, buckets


def test_every_limit_of_one_org_on_one_shard_in_one_round_trip_and_exact(cluster):
    store = make_cluster_store(cluster.seed, hash_tag="shard-key-test")  # fixed: fixed slots
    try:
        won = _burst("shard_key: identity.org\n" + LIMITS, store)
        assert won == {team: 4 for org in ORGS for team in TEAMS[org]}  # exact, per team
        assert store.cross_shard == 0  # no two-phase reserve
        assert store.round_trips == OFFERED * sum(map(len, TEAMS.values()))  # one per request
        base = store._proto.base
        slots, buckets = _placement(cluster, base)
        assert set(slots) == {f"{base}:{org}" for org in ORGS}
        for org in ORGS:
            tag = f"{base}:{org}"
            assert len(slots[tag]) == 1  # every key of the org in one slot
            assert buckets[tag] == ({("per-team", t) for t in TEAMS[org]}
                                    | {("per-key", f"{t}-key-{n}") for t in TEAMS[org] for n in (0, 1)})
        primaries = {port for port in cluster.primaries()
                     if _holds_any(port, [f"{base}:{org}" for org in ORGS])}
        assert len(primaries) >= 2  # the orgs spread over the primaries
    finally:
        store.clear()
        store.close()


def _holds_any(port: int, tags: list[str]) -> bool:
    import redis

    conn = redis.Redis(port=port, decode_responses=True)
    return any(conn.keys("{" + tag + "}*") for tag in tags)


def test_without_a_shard_key_the_same_traffic_is_cross_shard_and_still_exact(cluster):
    store = make_cluster_store(cluster.seed)
    try:
        won = _burst(LIMITS, store)
        # aborted holds may deny a request that would have fit, never admit one that does not
        assert all(n <= 4 for n in won.values()) and sum(won.values()) > 0
        assert store.cross_shard == OFFERED * sum(map(len, TEAMS.values()))
        assert store.round_trips >= 2 * store.cross_shard  # prepare, then commit or abort
    finally:
        store.clear()
        store.close()
