"""The two halves of the SPEC §5 world (what the checker is told, what the runtime gets) are
built in one package, env/; these tests fail when they drift apart."""

from __future__ import annotations

from aigw_policy.cel.decls import parse_overload
from aigw_policy.cel.runtime import stdlib
from aigw_policy.env import POLICY, POLICY_FUNCTIONS, POLICY_VARIABLES
from aigw_policy.env.activation import activation, classify_request
from aigw_policy.env.ngrok import ACTIVATION_FUNCTIONS, FUNCTIONS
from aigw_policy.env.request import Request

REQUEST = {
    "identity": {"key": "k1", "team": "research", "labels": {"env": "prod"}},
    "request": {"method": "POST", "url": "https://api.openai.com:8443/v1/chat/completions?x=1",
                "headers": {"Content-Type": "application/json", "User-Agent": "curl/8",
                            "Content-Length": "2"},
                "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}},
    "conn": {"client_ip": "203.0.113.7", "geo": {"country": "FR"}},
    "endpoint": {"host": "gw.example"},
}


def test_every_key_of_the_activation_is_declared() -> None:
    req = Request.parse(REQUEST)
    act = activation(req, classify_request(req), "rid", 1_700_000_000.5, content_length=True)
    undeclared = sorted(k for k in act if k not in POLICY_VARIABLES and k not in ("ai",))
    assert not undeclared, f"activation keys the checker does not know: {undeclared}"


def test_every_declared_function_is_implemented_and_back() -> None:
    declared = set()
    for line in POLICY_FUNCTIONS:
        o = parse_overload(line)
        declared.add(("." if o.receiver is not None else "") + o.name)
    implemented = set(FUNCTIONS) | set(ACTIVATION_FUNCTIONS)
    # inCidrRange(s) are ngrok's, but the generic library has them too (cel.compile accepts them)
    assert declared - implemented - set(stdlib.FUNCTIONS) == set(), "declared, not implemented"
    assert implemented - declared == set(), "implemented, not declared"
    assert set(POLICY.implementations) == implemented
