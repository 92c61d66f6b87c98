"""Shadow mode (SPEC section 14): a rule with ``mode: shadow`` (or a limit with ``enforce: false``)
decides as if enforced, records ``would_deny`` and lets the request through."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.stores import MemoryStore

MSG = [{"role": "user", "content": "hi"}]

# rules that can deny, each as YAML data; `{n}` is the rule's position (names are unique)
RULES: dict[str, dict[str, Any]] = {
    "deny-model": {"expressions": ["ai.model == 'gpt-4.1'"],
                   "actions": [{"type": "deny", "config": {"status_code": 451, "message": "no gpt-4.1"}}]},
    "custom": {"expressions": ["identity.team == 'sales'"],
               "actions": [{"type": "custom-response", "config": {"status_code": 402, "body": "pay up"}}]},
    "rpm": {"actions": [{"type": "rate-limit", "config": {"name": "rpm{n}", "capacity": 2, "rate": "1m",
                                                          "bucket_key": ["identity.key"]}}]},
    "tpm": {"actions": [{"type": "token-limit", "config": {"name": "tpm{n}", "capacity": 50, "rate": "1m",
                                                           "bucket_key": ["identity.team"]}}]},
    "ips": {"actions": [{"type": "restrict-ips", "config": {"deny": ["10.0.0.0/8"]}}]},
    "broken": {"expressions": ["int(identity.team) > 0"],
               "actions": [{"type": "deny", "config": {"status_code": 403, "message": "never"}}]},
    "allow-ops": {"expressions": ["identity.team == 'ops'"], "actions": [{"type": "allow", "config": {}}]},
    "header": {"actions": [{"type": "add-headers", "config": {"headers": {"x-seen": "yes"}}}]},
}


ENFORCE = ("deny", "custom-response", "rate-limit", "token-limit", "restrict-ips")


def policy(kinds: list[str], shadow: set[int]) -> Any:
    rules = []
    for n, kind in enumerate(kinds):
        rule = json.loads(json.dumps(RULES[kind]).replace("{n}", str(n)))
        rule = {"name": f"{kind}-{n}", **rule}
        # the action's own switch (not for a failing condition: that is the rule's, only `mode` shadows it)
        if n in shadow and n % 2 and rule["actions"][0]["type"] in ENFORCE and kind != "broken":
            rule["actions"][0]["config"]["enforce"] = False
        elif n in shadow:
            rule["mode"] = "shadow"
        rules.append(rule)
    return ap.loads(json.dumps({"on_http_request": rules}), "json")


def request(model: str, team: str, ip: str, used: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """A request; ``used``: what the request-count and token limits have used already."""
    return {"id": "r1", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": ip},
            "identity": {"key": "k1", "team": team},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": model, "max_tokens": 10, "messages": MSG}},
            "used": used}


def decide(p: Any, req: dict[str, Any], **options: Any) -> Any:
    engine = ap.Engine(p, store=MemoryStore())
    req = dict(req)
    rpm, tpm = req.pop("used")
    team = req["identity"]["team"]
    req["state"] = {"limits": {name: ({"k1": {"used": rpm}} if name.startswith("rpm") else {team: {"used": tpm}})
                               for name in engine.compiled.limits}}
    return engine.evaluate(req, apply_state=True, expect_response=False, **options)


requests = st.builds(request, st.sampled_from(["gpt-4o", "gpt-4.1"]), st.sampled_from(["research", "sales", "ops"]),
                     st.sampled_from(["10.1.2.3", "192.0.2.7"]), st.tuples(st.integers(0, 3), st.integers(0, 60)))
kinds = st.lists(st.sampled_from(sorted(RULES)), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, requests)
def test_would_deny_is_the_enforced_verdict_and_the_client_is_let_through(ks: list[str], req: dict[str, Any]) -> None:
    enforced = decide(policy(ks, set()), req)
    shadowed = decide(policy(ks, set(range(len(ks)))), req)
    assert shadowed.verdict == "allow"
    if enforced.verdict == "deny":
        assert shadowed.would_deny == {"status": enforced.status_code, "reason": enforced.reason,
                                       "rule": enforced.rule}
        assert shadowed.to_dict()["would_deny"] == shadowed.would_deny
    else:
        assert shadowed.would_deny is None and "would_deny" not in shadowed.to_dict()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, requests, st.sets(st.integers(0, 4)))
def test_a_shadow_rule_never_denies(ks: list[str], req: dict[str, Any], shadow: set[int]) -> None:
    enforced = decide(policy(ks, set()), req)
    mixed = decide(policy(ks, shadow), req)
    if mixed.verdict == "deny":  # only an enforced rule denies, and it would deny enforced too
        assert int(mixed.rule.rsplit("-", 1)[1]) not in shadow
        assert enforced.verdict == "deny"
    if enforced.verdict == "allow":
        assert mixed.verdict == "allow" and mixed.would_deny is None


def test_enforce_false_on_a_limit_records_would_deny() -> None:
    p = ap.loads(json.dumps({"on_http_request": [{"name": "rpm", "actions": [{"type": "rate-limit", "config": {
        "name": "rpm", "capacity": 1, "rate": "1m", "bucket_key": ["identity.key"], "enforce": False}}]}]}), "json")
    d = decide(p, request("gpt-4o", "research", "192.0.2.7", (1, 0)))
    assert d.verdict == "allow" and d.status_code == 200
    assert d.would_deny == {"status": 429, "reason": "limit rpm: 1 of 1 requests used, this request needs ~1",
                            "rule": "rpm"}


def test_the_trace_says_shadow() -> None:
    p = policy(["deny-model"], {0})
    d = decide(p, request("gpt-4.1", "research", "192.0.2.7"), trace=True)
    assert "shadow: would deny 451: no gpt-4.1" in d.text(trace=True)


def test_would_deny_outlives_the_wait_for_the_response() -> None:
    engine = ap.Engine(policy(["deny-model", "header"], {0}), store=MemoryStore())
    req = request("gpt-4.1", "research", "192.0.2.7")
    req.pop("used")
    first = engine.evaluate(req)
    assert first.verdict == "allow" and first.would_deny is not None
    done = engine.complete("r1", {"status_code": 200, "body": {"model": "gpt-4.1", "usage": {
        "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}})
    assert done.would_deny == first.would_deny == {"status": 451, "reason": "no gpt-4.1", "rule": "deny-model-0"}


def test_enforce_false_on_any_denying_action_is_shadow() -> None:
    actions = [{"type": "deny", "config": {"status_code": 451, "message": "no", "enforce": False}},
               {"type": "custom-response", "config": {"status_code": 402, "body": "pay", "enforce": False}},
               {"type": "model-access", "config": {"deny": ["gpt-4.1"], "enforce": False}},
               {"type": "max-tokens", "config": {"output": 5, "enforce": False}}]
    want = [(451, "no"), (402, None), (403, None), (413, None)]
    for action, (status, reason) in zip(actions, want):
        p = ap.loads(json.dumps({"on_http_request": [{"name": "r", "actions": [action]}]}), "json")
        d = decide(p, request("gpt-4.1", "research", "192.0.2.7"))
        assert d.verdict == "allow", action
        assert d.would_deny is not None and d.would_deny["status"] == status and d.would_deny["rule"] == "r"
        if reason is not None:
            assert d.would_deny["reason"] == reason
        enforced = dict(action, config={k: v for k, v in action["config"].items() if k != "enforce"})
        e = decide(ap.loads(json.dumps({"on_http_request": [{"name": "r", "actions": [enforced]}]}), "json"),
                   request("gpt-4.1", "research", "192.0.2.7"))
        assert (e.verdict, e.status_code, e.reason) == ("deny", status, d.would_deny["reason"])
