"""After any replay of random traffic with random upstream failures, the ledger equals the
counters: ``reconcile`` finds every (limit, bucket) in agreement, on a memory and a SQLite store."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.ledger import Ledger
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.limits.memory import MemoryStore
from aigw_policy.limits.model import Charge
from aigw_policy.limits.sqlite import SQLiteStore
from aigw_policy.report.reconcile import against_counters

POLICY_YAML = """
upstream_error: {mode}
on_http_request:
  - name: no-blocked-model
    expressions: ["ai.model == 'blocked-model'"]
    actions: [{{type: deny}}]
  - name: key-rpm
    actions:
      - type: rate-limit
        config: {{name: key-rpm, algorithm: sliding_window, capacity: 4, rate: 20s, bucket_key: [identity.key]}}
  - name: key-tpm
    actions:
      - type: token-limit
        config: {{name: key-tpm, capacity: 3000, rate: 60s, algorithm: fixed_window, bucket_key: [identity.key]}}
  - name: team-daily
    actions:
      - type: usage-cap
        config: {{name: team-daily, limit: 6000, unit: tokens, period: day, bucket_key: [identity.team]}}
  - name: team-usd
    actions:
      - type: usage-cap
        config: {{name: team-usd, limit: 0.5, unit: usd, period: hour, bucket_key: [identity.team],
                  on_unknown_price: allow}}
"""
START = 1_795_000_000.0  # 2026-11-18T...Z

step = st.fixed_dictionaries({
    "gap": st.floats(0.0, 9.0),
    "key": st.sampled_from(["k1", "k2", "k3"]),
    "model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "blocked-model", "no-such-model"]),
    "max_tokens": st.one_of(st.none(), st.integers(1, 900)),
    # what happens upstream: a usage, an error, or no answer at all (the request stays in flight)
    "upstream": st.sampled_from(["ok", "ok", "ok", "error", "no-usage", "in-flight"]),
    "prompt": st.integers(0, 400),
    "completion": st.integers(0, 1200),
})


def _request(i: int, s: dict[str, Any], now: float) -> dict[str, Any]:
    body: dict[str, Any] = {"model": s["model"], "messages": [{"role": "user", "content": "x " * (i % 7 + 1)}]}
    if s["max_tokens"] is not None:
        body["max_tokens"] = s["max_tokens"]
    team = {"k1": "research", "k2": "research", "k3": "sales"}[s["key"]]
    return {"id": f"r{i}", "identity": {"key": s["key"], "team": team},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "body": body}}


def _response(s: dict[str, Any]) -> dict[str, Any]:
    if s["upstream"] == "error":
        return {"status_code": 500, "body": {"error": {"message": "upstream failed"}}}
    body: dict[str, Any] = {"model": s["model"], "choices": []}
    if s["upstream"] == "ok":
        body["usage"] = {"prompt_tokens": s["prompt"], "completion_tokens": s["completion"],
                         "total_tokens": s["prompt"] + s["completion"]}
    return {"status_code": 200, "body": body}


def _replay(engine: ap.Engine, steps: list[dict[str, Any]]) -> float:
    now = START
    for i, s in enumerate(steps):
        now += s["gap"]
        decision = engine.evaluate(_request(i, s, now), now=now)
        if decision.complete or s["upstream"] == "in-flight":
            continue
        engine.complete(f"r{i}", _response(s), now=now + 0.5)
    return now + 1.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=30), mode=st.sampled_from(["release", "charge_input"]),
       store_kind=st.sampled_from(["memory", "sqlite"]))
def test_ledger_equals_counters_after_any_replay(steps: list[dict[str, Any]], mode: str, store_kind: str) -> None:
    policy = ap.loads(POLICY_YAML.format(mode=mode), name="p.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore() if store_kind == "memory" else SQLiteStore(str(Path(tmp) / "limits.db"))
        ledger = Ledger(f"jsonl:{tmp}/usage.jsonl")
        engine = ap.Engine(policy, store=store, ledger=ledger)
        now = _replay(engine, steps)
        ledger.close()
        records = list(read_ledger(f"jsonl:{tmp}/usage.jsonl"))
        specs = [a.limit.spec for _, a in engine.compiled.limits.values()]  # type: ignore[union-attr]
        rows = against_counters(records, specs, store, now)
        if store_kind == "sqlite":
            store.close()
    charged = {(e["name"], e["key"]) for r in records for e in json.loads(r.limits) if e.get("charged")}
    assert {(r.subject, r.key) for r in rows} >= charged  # every charged bucket is compared
    bad = [r.to_dict() for r in rows if r.status not in ("match",)]
    assert bad == []


def test_a_counter_the_ledger_does_not_know_is_unexplained(tmp_path: Path) -> None:
    policy = ap.loads(POLICY_YAML.format(mode="release"), name="p.yaml")
    store = MemoryStore()
    ledger = Ledger(f"jsonl:{tmp_path}/usage.jsonl")
    engine = ap.Engine(policy, store=store, ledger=ledger)
    steps = [{"gap": 1.0, "key": "k1", "model": "gpt-4o", "max_tokens": 50, "upstream": "ok", "prompt": 10,
              "completion": 20}]
    now = _replay(engine, steps)
    ledger.close()
    spec = engine.compiled.limits["key-tpm"][1].limit.spec  # type: ignore[union-attr]
    store.reserve("not-in-the-ledger", [Charge(spec, "k1", 70.0)], now)
    records = list(read_ledger(f"jsonl:{tmp_path}/usage.jsonl"))
    rows = {r.subject: r for r in against_counters(records, [spec], store, now)}
    row = rows["key-tpm"]
    assert (row.ledger, row.other, row.status) == (30.0, 100.0, "unexplained")


def test_a_pending_intent_explains_an_expired_reservation(tmp_path: Path) -> None:
    policy = ap.loads(POLICY_YAML.format(mode="release"), name="p.yaml")
    store = MemoryStore(reservation_ttl=5.0)
    ledger = Ledger(f"jsonl:{tmp_path}/usage.jsonl")
    engine = ap.Engine(policy, store=store, ledger=ledger)
    steps = [{"gap": 1.0, "key": "k1", "model": "gpt-4o", "max_tokens": 50, "upstream": "in-flight",
              "prompt": 0, "completion": 0}]
    now = _replay(engine, steps)
    ledger.close()
    records = list(read_ledger(f"jsonl:{tmp_path}/usage.jsonl"))
    spec = engine.compiled.limits["key-tpm"][1].limit.spec  # type: ignore[union-attr]
    # before the reservation expires, both hold the estimate
    (row,) = against_counters(records, [spec], store, now)
    assert row.status == "match" and row.ledger > 0
    store.reserve("later", [Charge(spec, "k9", 1.0)], now + 10.0)  # a write: expired ones are released
    (row,) = against_counters(records, [spec], store, now + 10.0)
    assert row.status == "explained", row.to_dict()
    assert [e.request_id for e in row.explained_by] == ["r0"]
