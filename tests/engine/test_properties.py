"""Properties of the engine: indexed and unindexed evaluation decide identically; the same
inputs give the same decision and trace; `rule` is the first terminating match."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine import compile_policy
from aigw_policy.stores import MemoryStore

TEAMS = ["research", "growth", "ops"]
MODELS = ["gpt-4.1", "gpt-4o", "claude-opus-4", "o3"]
PATHS = ["/v1/chat/completions", "/v1/embeddings", "/v2/chat/completions", "/healthz"]

CONDITIONS = st.sampled_from([
    "identity.team == '{t}'", "'{t}' == identity.team", "identity.team != '{t}'",
    "ai.model == '{m}'", "ai.model in ['{m}', 'gpt-4o']", "req.method == 'POST'",
    "req.url.path.startsWith('/v1/')", "req.url.path.startsWith('/v2/chat')",
    "identity.tier == 'trial' && ai.model == '{m}'", "identity.team == '{t}' || ai.model == '{m}'",
    "identity.labels['env'] == 'prod'", "size(ai.prompt) > 3", "identity.team == '{t}' && identity.tier != 'x'",
])
ACTIONS = st.sampled_from([
    "deny 403 \"no ${ai.model}\"", "allow", "set-model \"gpt-4o\"", "deny 451",
    "add-headers { headers: { \"x-seen\": \"${identity.team}\" } }",
    "rate-limit { name: \"rl{n}\", capacity: 2, rate: 1m, bucket_key: [identity.key] }",
    "log { metadata: { m: ai.model } }",
    "custom-response { status_code: 200, body: \"hi\" }",
])


@st.composite
def policies(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 14))
    rules = []
    for i in range(n):
        conds = draw(st.lists(CONDITIONS, min_size=0, max_size=2))
        t, m = draw(st.sampled_from(TEAMS)), draw(st.sampled_from(MODELS))
        when = "".join(f"\n      when {c.format(t=t, m=m)}" for c in conds)
        action = draw(ACTIONS).replace("{n}", str(i))
        skip = draw(st.sampled_from(["", "\n      on-error skip"]))
        rules.append(f'    rule "r{i}" {{{skip}{when}\n      {action}\n    }}')
    default = draw(st.sampled_from(["allow", "deny"]))
    return f'policy {{\n  default {default}\n  on request {{\n' + "\n".join(rules) + "\n  }\n}\n"


@st.composite
def requests(draw):  # type: ignore[no-untyped-def]
    identity = {"key": draw(st.sampled_from(["k1", "k2"]))}
    if draw(st.booleans()):
        identity["team"] = draw(st.sampled_from(TEAMS + ["other"]))
    if draw(st.booleans()):
        identity["tier"] = draw(st.sampled_from(["trial", "pro"]))
    if draw(st.booleans()):
        identity["labels"] = {"env": draw(st.sampled_from(["prod", "dev"]))}
    path = draw(st.sampled_from(PATHS))
    return {
        "now": "2026-11-26T12:00:00Z",
        "identity": identity,
        "request": {"method": draw(st.sampled_from(["POST", "GET"])), "url": f"https://gw.example{path}",
                    "body": {"model": draw(st.sampled_from(MODELS + [""])), "messages": [{"role": "user", "content": "hello"}]}},
    }


def _decide(compiled, reqs, trace):  # type: ignore[no-untyped-def]
    engine = ap.Engine(compiled, store=MemoryStore(), trace=trace)
    return [engine.evaluate(r, request_id=f"r{i}", expect_response=False).to_dict() for i, r in enumerate(reqs)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(requests(), min_size=1, max_size=4))
def test_indexed_and_unindexed_decide_identically(text: str, reqs: list) -> None:
    policy = ap.loads(text)
    indexed = compile_policy(policy, index=True, index_min_rules=0)
    plain = compile_policy(policy, index=False)
    a = _decide(indexed, reqs, trace=False)
    b = _decide(plain, reqs, trace=False)
    assert a == b
    # with the trace (which bypasses the index) the decision is the same too
    c = _decide(indexed, reqs, trace=True)
    for x, y in zip(c, b):
        x.pop("trace")
        assert x == y


@settings(max_examples=60, deadline=None)
@given(policies(), requests())
def test_same_inputs_same_decision_and_trace(text: str, req: dict) -> None:
    policy = ap.loads(text)
    compiled = compile_policy(policy)
    one = _decide(compiled, [req], trace=True)
    two = _decide(compiled, [json.loads(json.dumps(req))], trace=True)
    assert one == two


@settings(max_examples=100, deadline=None)
@given(policies(), requests())
def test_rule_is_the_first_terminating_match(text: str, req: dict) -> None:
    policy = ap.loads(text)
    d = _decide(compile_policy(policy), [req], trace=True)[0]
    first = None
    for rec in d["trace"]:
        if rec["phase"] != "on_http_request":
            continue
        if rec["matched"] == "error" and not any(e["rule"] == rec["rule"] and e["on_error"] == "skip" for e in d["errors"]):
            first = rec["rule"]
            break
        failed_closed = any(e["rule"] == rec["rule"] and e["on_error"] == "deny" for e in d["errors"])
        if rec["matched"] is True and any(
            a["outcome"].startswith(("denied", "responded", "allowed", "limited", "rejected"))
            or (a["outcome"].startswith("error") and failed_closed)
            for a in rec["actions"]
        ):
            first = rec["rule"]
            break
    if d["decided_by"] == "default":
        assert first is None
    else:
        assert d["rule"] == first
    # nothing after the deciding rule ran in the request phase
    names = [r["rule"] for r in d["trace"] if r["phase"] == "on_http_request"]
    if first is not None:
        assert names[-1] == first
