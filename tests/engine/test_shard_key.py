"""The engine evaluates the document's ``shard_key`` once per request and sets it on every
charge the request makes; a shard key that fails leaves the charges without one (the store's
own rule) and says so in the decision's notes. Other stores ignore it."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits import MemoryStore
from aigw_policy.limits.model import Charge, LimitSpec

POLICY = """
shard_key: identity.org
on_http_request:
  - actions:
      - type: rate-limit
        config: {name: per-team, capacity: 2, rate: 1m, bucket_key: [identity.team]}
      - type: token-limit
        config: {name: per-key, capacity: 100000, rate: 1m, bucket_key: [identity.key]}
  - expressions: ["limits['per-team'].remaining >= 0"]
    actions:
      - type: rate-limit
        config: {name: eager-after, capacity: 100, rate: 1m, bucket_key: [identity.team]}
"""


class Recording(MemoryStore):
    """A memory store that keeps the charges of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[Charge]] = []

    def check(self, charges: Any, now: float) -> Any:
        self.calls.append(list(charges))
        return super().check(charges, now)

    def reserve(self, request_id: str, charges: Any, now: float) -> Any:
        self.calls.append(list(charges))
        return super().reserve(request_id, charges, now)


def _request(rid: str, identity: dict[str, str]) -> dict[str, Any]:
    return {"id": rid, "identity": identity,
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


@pytest.fixture
def engine_and_store():
    store = Recording()
    return ap.Engine(ap.loads(POLICY, format="yaml"), store=store), store


def test_every_charge_of_a_request_carries_its_tenant(engine_and_store):
    engine, store = engine_and_store
    decision = engine.evaluate(_request("r1", {"key": "k1", "team": "t1", "org": "acme"}))
    assert decision.to_dict().get("notes") is None
    charges = [c for call in store.calls for c in call]
    assert {c.spec.name for c in charges} == {"per-team", "per-key", "eager-after"}
    assert {c.shard for c in charges} == {"acme"}


@pytest.mark.parametrize("identity, noted", [
    ({"key": "k2", "team": "t2"}, True),               # no org: an error, the store's own rule
    ({"key": "k2", "team": "t2", "org": ""}, False),   # the empty string names no tenant
])
def test_a_shard_key_without_a_value_falls_back_to_the_bucket_keys(engine_and_store, identity, noted):
    engine, store = engine_and_store
    decision = engine.evaluate(_request("r2", identity))
    assert decision.allowed
    assert store.calls and {c.shard for call in store.calls for c in call} == {None}
    notes = [n for n in decision.to_dict().get("notes") or [] if n.startswith("shard_key failed")]
    assert len(notes) == (1 if noted else 0)  # once per request, though three limits ran


def test_the_shard_takes_no_part_in_what_a_store_counts(engine_and_store):
    """Same bucket, different shards: one count (the memory store ignores the shard), and
    charges compare equal whatever their shard."""
    engine, _ = engine_and_store
    spec = LimitSpec("l", "requests", "fixed_window", 1, 60)
    assert Charge(spec, "t", 1, "acme") == Charge(spec, "t", 1, None)
    allowed = [engine.evaluate(_request(f"q{i}", {"key": f"k{i}", "team": "t9", "org": org})).allowed
               for i, org in enumerate(["acme", "globex", "acme"])]
    assert allowed == [True, True, False]  # per-team capacity 2, whatever the org


def test_a_parked_request_keeps_its_charges_shard():
    from aigw_policy.engine.charging import shard_of
    from aigw_policy.engine.pending import park

    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=Recording())
    flow, _, _ = engine.start(_request("p1", {"key": "k1", "team": "t1", "org": "acme"}))
    assert shard_of(flow) == "acme"
    rule = flow.cp.request_rules[0]
    flow.charges = [(rule, rule.actions[0], Charge(rule.actions[0].limit.spec, "t1", 1, shard_of(flow)))]
    parked = park(flow, explicit=True)
    assert parked.blob is not None  # packed, not kept live
    back = parked.revive(flow.rid, flow.cp, flow.prices)
    assert [c.shard for _, _, c in back.charges] == ["acme"]
