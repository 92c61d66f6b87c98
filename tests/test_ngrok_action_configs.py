"""Every action config key ngrok's schema defines, for the actions we implement, checked
value by value against ngrok's own schema (../shared/ngrok/traffic-policy.schema.json) and,
where ngrok's docs widen it, against the docs.

For a pool of values of every JSON type, ngrok's verdict (the schema, with the documented
widenings below) must be ours: what ngrok accepts we accept, what it rejects by type we
reject with a coded diagnostic. Where we are deliberately stricter, the reason is written
here and the rejection must carry a message.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import pytest
from shared_data import NGROK, require

from aigw_policy.ir.actions import ACTIONS, UNSUPPORTED_NGROK_KEYS
from aigw_policy.loader import read

SCHEMA_FILE = NGROK / "traffic-policy.schema.json"

# ngrok's docs, where they say more than its schema
DOCS: dict[tuple[str, str], dict[str, Any]] = {
    # "metadata: map[string]any" (docs of the log action); ngrok's event-logging example
    # (examples/1ad2b617596e.yaml) logs `success: false`
    ("log", "metadata"): {"type": "object", "additionalProperties": {}},
    # "Maximum 10 headers can be specified" (docs of the redirect action; its schema says no more
    # than "object")
    ("redirect", "headers"): {"type": "object", "maxProperties": 10,
                              "patternProperties": {"^[a-zA-Z0-9_-]+$": {"type": "string"}}, "additionalProperties": False},
}
# where we reject a value ngrok's schema lets through, and why
STRICTER: dict[tuple[str, str], str] = {
    ("restrict-ips", "allow"): "an IP address or CIDR block (ngrok checks this when it applies the policy)",
    ("restrict-ips", "deny"): "an IP address or CIDR block",
    ("remove-headers", "headers"): "a header name (an RFC 9110 token)",
    # ngrok's docs (basic-auth, "Additional Restrictions"): `username:password`, a password of
    # 8 to 128 characters; its schema only says "string"
    ("basic-auth", "credentials"): "a `username:password` credential, a password of 8 to 128 characters",
    # ngrok's docs (forward-internal, "Valid forward targets"): "only to an internal endpoint";
    # its schema only says "string". A written one that is none failed every request (AIGW509)
    ("forward-internal", "url"): "an internal endpoint's URL (`https://name.internal`)",
}

POOL: list[Any] = [
    "x", "req.host", "10m", "90s", "1h", "10.0.0.0/8", "192.0.2.1", "ipp_abc1", "sliding_window", "continue",
    "${req.host}", 5, 1, 100, 200, 301, 403, 599, 2_000_000_000, True, False, 1.5,
    # whole numbers written as floats: an integer to JSON Schema and to Go's yaml, ngrok's
    # reader (`capacity: 30.0`); a fraction is no integer to either
    30.0, 301.0, 403.0, 30.5,
    # past ngrok's sizes (maxProperties, maxItems: 10 headers, 10 bucket keys, 10 credentials)
    {f"x-h{i}": "v" for i in range(11)}, [f"x-h{i}" for i in range(11)], [f"u{i}:password123" for i in range(11)],
    ["10.0.0.0/8"] * 11, [{f"v{i}": "x"} for i in range(11)],
    # a header name with a character ngrok's pattern leaves out (`^[a-zA-Z0-9_-]+$`)
    {"x.a": "v"}, {"x a": "v"},
    ["x"], ["req.host"], ["10.0.0.0/8"], ["x-a"], [], {"x-a": "v"}, {"x-a": 5}, {"x-a": True},
    {"message": "m", "success": False}, {"n": 3, "tags": ["a", "${req.host}"]}, {},
    [{"a": "b"}], [{"a": 1}], [{"a": "b", "c": "d"}],
]
REQUIRED_FILL: dict[str, dict[str, Any]] = {
    "rate-limit": {"name": "n", "capacity": 10, "rate": "60s"},
    "add-headers": {"headers": {"x-a": "v"}},
    "remove-headers": {"headers": ["x-a"]},
    "set-vars": {"vars": [{"a": "b"}]},
    "redirect": {"to": "https://example.com/"},
    "url-rewrite": {"from": "/a", "to": "/b"},
    "basic-auth": {"credentials": ["alice:password123"]},
    "forward-internal": {"url": "https://api.internal"},
}
SHAPE_CODES = ("AIGW120", "AIGW121", "AIGW122", "AIGW123", "AIGW124", "AIGW125", "AIGW126", "AIGW111")


@cache
def _schema() -> dict[str, Any]:
    return json.loads(require(SCHEMA_FILE).read_text())


def _config_schema(action: str) -> dict[str, Any] | None:
    defs = _schema()["definitions"]
    for alt in defs["Action"]["oneOf"]:
        if alt["properties"]["type"].get("const") == action:
            ref = alt["properties"].get("config", {}).get("$ref")
            return defs[ref.rsplit("/", 1)[-1]] if ref else {}
    return None


def _keys() -> list[tuple[str, str]]:
    if not SCHEMA_FILE.exists():
        return [("(ngrok schema missing)", "")]
    return [(action, key) for action in sorted(ACTIONS)
            for key in (_config_schema(action) or {}).get("properties", {})]


@cache
def _validator(action: str, key: str) -> Any:
    prop = DOCS.get((action, key)) or _config_schema(action)["properties"][key]  # type: ignore[index]
    schema = {**prop, "definitions": _schema()["definitions"]}
    cls = jsonschema.validators.validator_for(_schema())
    cls.check_schema(schema)
    return cls(schema)


def _ngrok_accepts(action: str, key: str, value: Any) -> bool:
    return bool(_validator(action, key).is_valid(value))


def _our_problems(action: str, key: str, value: Any) -> list[Any]:
    config = {**REQUIRED_FILL.get(action, {}), key: value}
    doc = {"on_http_request": [{"actions": [{"type": action, "config": config}]}]}
    _, diagnostics = read(json.dumps(doc), format="json")
    return [d for d in diagnostics if d.code in SHAPE_CODES]


@pytest.mark.parametrize(("action", "key"), _keys(), ids=lambda x: str(x))
def test_every_ngrok_config_key_takes_what_ngrok_takes(action: str, key: str) -> None:
    require(SCHEMA_FILE)
    if (action, key) in UNSUPPORTED_NGROK_KEYS:
        [problem] = _our_problems(action, key, [])
        assert problem.code == "AIGW111" and problem.help, problem
        return
    wrong = []
    for value in POOL:
        ngrok = _ngrok_accepts(action, key, value)
        problems = _our_problems(action, key, value)
        if ngrok and problems and (action, key) not in STRICTER:
            wrong.append(f"{json.dumps(value)}: ngrok accepts it, we say {problems[0]}")
        elif not ngrok and not problems:
            wrong.append(f"{json.dumps(value)}: ngrok rejects it, we accept it")
        elif problems:
            assert all(p.message and "None" not in p.message for p in problems), problems
    assert not wrong, f"{action}.{key}:\n" + "\n".join(wrong)


def test_the_pool_reaches_every_verdict() -> None:
    """The comparison above can fail: for each key ngrok accepts some pool value and rejects another."""
    require(SCHEMA_FILE)
    for action, key in _keys():
        if (action, key) in UNSUPPORTED_NGROK_KEYS:
            continue
        verdicts = {_ngrok_accepts(action, key, v) for v in POOL}
        assert verdicts == {True, False}, (action, key)


def test_every_ngrok_action_we_implement_is_compared() -> None:
    require(SCHEMA_FILE)
    ngrok_actions = {a for a in ACTIONS if _config_schema(a) is not None}
    assert {"add-headers", "custom-response", "deny", "log", "rate-limit", "remove-headers",
            "restrict-ips", "set-vars"} <= ngrok_actions
    assert {a for a, _ in _keys()} == {a for a in ngrok_actions if _config_schema(a).get("properties")}


def test_a_number_as_a_header_value_is_refused_with_the_fix() -> None:
    """ngrok's schema takes header values as strings (add-headers, custom-response)."""
    for action in ("add-headers", "custom-response"):
        [problem] = _our_problems(action, "headers", {"x-n": 5})
        assert problem.code == "AIGW122" and "must be a string, not an integer" in problem.message
        assert problem.help == 'quote it: `"5"`'


def test_log_metadata_of_any_type_is_logged_as_written() -> None:
    import aigw_policy as ap

    policy = ap.loads("""
on_http_request:
  - actions:
      - type: log
        config:
          metadata: {message: "for ${req.method}", success: false, n: 3, tags: [a, "${ai.model}"]}
""")
    request = {"now": "2026-11-26T12:00:00Z", "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
               "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}}}
    decision = ap.Engine(policy).evaluate(request)
    [log] = decision.effects["logs"]
    assert log["metadata"] == {"message": "for POST", "success": False, "n": 3, "tags": ["a", "gpt-4.1"]}
