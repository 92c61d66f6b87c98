"""An unenforced limit found over only when its reservation is settled (the answer used more
than the request-time estimate) records ``would_deny`` 429 naming the limit, in the decision and
the ledger record; an enforced one, or a limit that stays under, records nothing; a denial the
request phase recorded first stays the one recorded."""

from __future__ import annotations

import json
from typing import Any

import aigw_policy as ap
from aigw_policy.ledger import Ledger
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.limits import MemoryStore


def policy(enforce: bool, capacity: int = 20, before: bool = False) -> ap.Policy:
    rules: list[dict[str, Any]] = []
    if before:
        rules.append({"name": "no-gpt-4.1", "mode": "shadow", "actions": [
            {"type": "deny", "config": {"status_code": 451, "message": "no gpt-4.1"}}]})
    rules.append({"name": "tpm", "actions": [{"type": "token-limit", "config": {
        "name": "team-tpm", "capacity": capacity, "rate": "1h", "bucket_key": ["identity.team"],
        "enforce": enforce}}]})
    return ap.loads(json.dumps({"on_http_request": rules}), "json")


def request(rid: str) -> dict[str, Any]:
    return {"id": rid, "now": "2026-11-26T12:00:00Z", "identity": {"key": "k1", "team": "research"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": "gpt-4.1", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}}}


ANSWER = {"status_code": 200, "body": {"model": "gpt-4.1", "usage": {
    "prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}}}


def run(p: ap.Policy, ledger: Ledger | None = None) -> tuple[ap.Decision, ap.Decision]:
    engine = ap.Engine(p, store=MemoryStore(), ledger=ledger)
    first = engine.evaluate(request("r1"))
    done = engine.complete("r1", ANSWER)
    assert done is not None
    return first, done


def test_over_only_at_settle_is_a_would_deny(tmp_path) -> None:
    url = f"sqlite:{tmp_path / 'u.db'}"
    ledger = Ledger(url)
    first, done = run(policy(enforce=False), ledger)
    ledger.close()
    assert first.verdict == "allow" and first.would_deny is None  # the estimate fitted
    assert done.verdict == "allow" and done.status_code == 200
    would = done.would_deny
    assert would is not None and (would["status"], would["rule"]) == (429, "tpm")
    assert would["reason"].startswith("limit team-tpm: 26 of 20 tokens used")
    (entry,) = done.limits
    assert entry["outcome"] == "limited" and entry["settled"] == "reconciled"
    (rec,) = read_ledger(url)
    assert rec.verdict == "allow" and json.loads(rec.would_deny or "null") == would


def test_an_enforced_limit_or_one_under_records_nothing() -> None:
    assert run(policy(enforce=True))[1].would_deny is None  # admitted: the next request is the one refused
    assert run(policy(enforce=False, capacity=1000))[1].would_deny is None


def test_the_request_phase_denial_stays_first() -> None:
    _first, done = run(policy(enforce=False, before=True))
    assert done.would_deny == {"status": 451, "reason": "no gpt-4.1", "rule": "no-gpt-4.1"}
