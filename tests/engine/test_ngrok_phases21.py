"""Each ngrok action in each phase: where ngrok's reference runs it, and nowhere else.

ngrok's action pages list each action's "Supported Phases" (ngrok/ngrok-docs,
`snippets/traffic-policy/actions/<action>/config.mdx`, as of August 2026) and ngrok refuses a
document that puts an action elsewhere (`ERR_NGROK_2202`: "Action type `TYP` is not supported
for `PHASE` traffic policy rule"). `deny` in `on_http_response` loaded here and replaced the
upstream's answer; `compress-response` in `on_http_request` loaded and was recorded.
"""

from __future__ import annotations

import json

import pytest

import aigw_policy as ap

REQ, RES, TCP = "on_http_request", "on_http_response", "on_tcp_connect"

# action: (the phases ngrok's page lists, a config it takes)
NGROK_PHASES: dict[str, tuple[set[str], dict[str, object] | None]] = {
    "add-headers": ({REQ, RES}, {"headers": {"x-a": "b"}}),
    "basic-auth": ({REQ}, {"credentials": ["alice:password123"]}),
    "compress-response": ({RES}, None),
    "custom-response": ({REQ, RES}, {"status_code": 200, "body": "ok"}),
    "deny": ({TCP, REQ}, None),
    "forward-internal": ({TCP, REQ}, {"url": "https://api.internal"}),
    "log": ({TCP, REQ, RES}, {"metadata": {"a": "b"}}),
    "rate-limit": ({REQ}, {"name": "r", "capacity": 10, "rate": "60s", "bucket_key": ["conn.client_ip"]}),
    "redirect": ({REQ}, {"to": "https://example.com/"}),
    "remove-headers": ({REQ, RES}, {"headers": ["x-a"]}),
    "restrict-ips": ({TCP, REQ, RES}, {"allow": ["10.0.0.0/8"]}),
    "set-vars": ({TCP, REQ, RES}, {"vars": [{"a": "b"}]}),
    "url-rewrite": ({REQ}, {"from": "/a", "to": "/b"}),
    # the AI gateway's reference (../shared/ngrok/ai-gateway-action): a request phase action
    "ai-gateway": ({REQ}, None),
}
# this engine's own actions: the request phase only (a model, a limit, a token count)
OURS = {"token-limit": {"name": "t", "capacity": 10, "rate": "60s"}, "set-model": {"model": "gpt-4o-mini"},
        "model-access": {"allow": ["openai/*"]}, "max-tokens": {"output": 100}}

ROWS = [(action, phase, phase in phases, config) for action, (phases, config) in NGROK_PHASES.items()
        for phase in (REQ, RES, TCP)] + [(action, RES, False, config) for action, config in OURS.items()]


@pytest.mark.parametrize(("action", "phase", "runs", "config"), ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_an_action_loads_in_the_phases_ngrok_runs_it_in(action: str, phase: str, runs: bool,
                                                         config: dict[str, object] | None) -> None:
    written = {"type": action, **({"config": config} if config is not None else {})}
    doc = json.dumps({phase: [{"actions": [written]}]}, indent=1)
    _, found = ap.read(doc, format="json", cache_dir=None)
    errors = [(d.code, d.span.line if d.span else None) for d in found if d.is_error]
    if runs:
        assert errors == [], [str(d) for d in found]
    else:
        # refused where the action is written (the line of its `{`), as ngrok refuses it
        assert errors == [("AIGW134", 5)], [str(d) for d in found]


def test_ngrok_compatibility_table_covers_every_ngrok_action_we_read() -> None:
    from aigw_policy.ir.actions import ACTIONS

    ours = {"allow", *OURS, "usage-cap"}
    assert set(ACTIONS) - ours == set(NGROK_PHASES)


# -- restrict-ips `allow`/`deny` take CEL interpolation ------------------------------------------
# ngrok's restrict-ips reference (snippets/traffic-policy/actions/restrict-ips/config.mdx):
# `allow` and `deny`, "A list of CIDRs", each "Supports CEL Interpolation". They were refused
# (AIGW122, "not an IP address or CIDR block") when an item held `${...}`.
INTERPOLATED = """
on_http_request:
  - actions:
      - type: set-vars
        config:
          vars:
            - office: 203.0.113.0/24
            - blocked: 198.51.100.7
      - type: restrict-ips
        config:
          allow: ["${vars.office}", "10.0.0.0/8"]
          deny: ["${vars.blocked}/32"]
"""

# (client ip, the status: 200 when let through)
CLIENTS = [("203.0.113.9", 200), ("10.1.2.3", 200), ("192.0.2.1", 403), ("198.51.100.7", 403)]


@pytest.mark.parametrize(("ip", "status"), CLIENTS)
def test_restrict_ips_ranges_are_interpolated(ip: str, status: int) -> None:
    _, found = ap.read(INTERPOLATED, format="yaml", cache_dir=None)
    assert not [d for d in found if d.is_error], [str(d) for d in found]
    decision = ap.Engine(ap.loads(INTERPOLATED)).evaluate(
        {"id": "r", "conn": {"client_ip": ip}, "request": {"method": "GET", "url": "https://a.example/"}})
    assert decision.status_code == status, decision.reason


def test_an_interpolated_range_that_is_no_range_fails_the_rule() -> None:
    doc = INTERPOLATED.replace("${vars.office}", "${req.host}")
    decision = ap.Engine(ap.loads(doc)).evaluate(
        {"id": "r", "conn": {"client_ip": "10.1.2.3"}, "request": {"method": "GET", "url": "https://a.example/"}})
    assert (decision.status_code, decision.kind) == (500, "error"), decision.reason
    assert "a.example" in decision.reason and "IP address or CIDR block" in decision.reason


def test_an_interpolation_in_a_range_is_type_checked_where_written() -> None:
    _, found = ap.read(INTERPOLATED.replace("${vars.office}", "${req.hots}"), format="yaml", cache_dir=None)
    assert [(d.code, d.span.line) for d in found if d.is_error] == [("AIGW300", 11)], [str(d) for d in found]


# -- a whole number written as a float is the integer, in every integer field -------------------
# Go's yaml (ngrok's reader) decodes `30.0` into an `int` field; it was AIGW122 here.
# (action, its config with one integer written as a float, where that integer is read)
WHOLE = [
    ("rate-limit", {"name": "r", "capacity": 30.0, "rate": "60s", "bucket_key": ["conn.client_ip"]}, ("capacity",)),
    ("token-limit", {"name": "t", "capacity": 1e3, "rate": "60s"}, ("capacity",)),
    ("deny", {"status_code": 403.0}, ("status_code",)),
    ("custom-response", {"status_code": 2e2, "body": "ok"}, ("status_code",)),
    ("redirect", {"to": "https://example.com/", "status_code": 301.0}, ("status_code",)),
    ("max-tokens", {"output": 100.0}, ("output",)),
    ("model-access", {"allow": ["openai/*"], "status_code": 451.0}, ("status_code",)),
    ("ai-gateway", {"max_input_tokens": 1000.0}, ("max_input_tokens",)),
    ("ai-gateway", {"failover_on": [429.0, "5xx"]}, ("failover_on", 0)),
    ("ai-gateway", {"providers": [{"id": "openai", "models": [{"id": "gpt-4o", "max_context_window": 128000.0}]}]},
     ("providers", 0, "models", 0, "max_context_window")),
]


@pytest.mark.parametrize(("action", "config", "where"), WHOLE, ids=[f"{w[0]}-{w[2][0]}" for w in WHOLE])
def test_a_whole_number_written_as_a_float_is_the_integer(action: str, config: dict[str, object],
                                                           where: tuple[object, ...]) -> None:
    doc = json.dumps({REQ: [{"actions": [{"type": action, "config": config}]}]})
    policy, found = ap.read(doc, format="json", cache_dir=None)
    assert not [d for d in found if d.is_error], [str(d) for d in found]
    value: object = policy.on_http_request[0].actions[0].config
    for step in where:
        value = value[step] if isinstance(step, int) else getattr(value, step)  # type: ignore[index]
    assert type(value) is int


def test_a_fraction_in_an_integer_field_is_refused_with_help() -> None:
    doc = json.dumps({REQ: [{"actions": [{"type": "rate-limit", "config": dict(WHOLE[0][1], capacity=30.5)}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    [problem] = [d for d in found if d.is_error]
    assert problem.code == "AIGW122" and problem.span is not None and "whole number" in (problem.help or "")


def test_a_response_phase_deny_is_told_what_answers_there() -> None:
    """A policy that denied in the response phase (this engine took it before ngrok21) is told
    which action does that now: `custom-response`, which runs in both phases."""
    _, found = ap.read('policy "p" {\n  on response {\n    rule "r" {\n      deny 403 "no"\n    }\n  }\n}\n',
                       cache_dir=None)
    [refused] = [d for d in found if d.code == "AIGW134"]
    assert refused.is_error and refused.span is not None and (refused.span.line, refused.span.column) == (4, 7)
    assert "use `custom-response`" in (refused.help or "")
