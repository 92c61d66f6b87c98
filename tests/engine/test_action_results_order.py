"""AIGW404 for ``actions.ngrok.*`` read where its action may not have run: ngrok makes an
action's variables available "after the action has run"
(https://ngrok.com/docs/traffic-policy/variables/action), and here, as there, reading them
before is an error of the rule (500 under ``on_error: deny``). Each row: a document, the
lines warned, and whether some request of REQUESTS fails a rule (a warned row must have one,
a quiet row none), so lint and the engine agree.
"""

from __future__ import annotations

import pytest

import aigw_policy as ap

LIMITED = """on_http_request:
  - expressions:
      - "req.url.path.startsWith('/api')"
    actions:
      - type: rate-limit
        config:
          name: api
          capacity: 10
          rate: 60s
          bucket_key: [conn.client_ip]
          enforce: false
  - expressions:
{reader}    actions:
      - type: custom-response
        config:
          status_code: 429
          body: slow down
"""
RESTRICTED = """on_http_request:
  - actions:
      - type: restrict-ips
        config:
          enforce: false
          allow: [192.0.2.0/24]
  - expressions:
      - actions.ngrok.restrict_ips.action == "deny"
    actions:
      - type: basic-auth
        config:
          enforce: false
          credentials: ["user:password1"]
  - expressions:
      - "{reader}"
    actions:
      - type: custom-response
        config:
          status_code: 200
          body: welcome
  - actions:
      - type: deny
        config:
          status_code: 401
"""
READ_FIRST = """on_http_request:
  - expressions:
      - actions.ngrok.restrict_ips.action == "deny"
    actions:
      - type: deny
  - actions:
      - type: restrict-ips
        config:
          enforce: false
          allow: [192.0.2.0/24]
"""
SAME_RULE = """on_http_request:
  - actions:
      - type: restrict-ips
        config:
          enforce: false
          allow: [192.0.2.0/24]
      - type: custom-response
        config:
          status_code: 200
          body: "${actions.ngrok.restrict_ips.action}"
"""
RESPONSE = """on_http_request:
  - expressions:
      - "req.url.path == '/x'"
    actions:
      - type: deny
  - actions:
      - type: add-headers
        config:
          headers:
            x-seen: "yes"
on_http_response:
  - expressions:
      - "size(actions.ngrok.add_headers.headers_added) > 0"
    actions:
      - type: add-headers
        config:
          headers:
            x-added: "yes"
"""
ROWS = [
    ("conditional-limit-read-always", LIMITED.format(reader='      - "actions.ngrok.rate_limit.limited"\n'), [13]),
    ("conditional-limit-read-behind-its-condition", LIMITED.format(
        reader="      - \"req.url.path.startsWith('/api')\"\n      - actions.ngrok.rate_limit.limited\n"), []),
    ("conditional-limit-named-in-plain-text", LIMITED.format(reader='      - "req.method == \'GET\'"\n').replace(
        "body: slow down", 'body: "read actions.ngrok.rate_limit.limited in a later rule"'), []),
    ("conditional-limit-tested-with-has", LIMITED.format(
        reader='      - "has(actions.ngrok.rate_limit) && actions.ngrok.rate_limit.limited"\n'), []),
    # ngrok's gateway/examples/ip-restrictions-basic-auth (its addresses filled in): the read of
    # basic_auth is the other side of an `||` whose first side holds whenever basic-auth did not run
    ("either-action-ran", RESTRICTED.format(reader="actions.ngrok.restrict_ips.action == 'allow' || "
                                            "actions.ngrok.basic_auth.credentials.authorized"), []),
    ("only-the-conditional-action", RESTRICTED.format(reader="actions.ngrok.basic_auth.credentials.authorized"),
     [15]),
    ("read-before-the-action", READ_FIRST, [3]),
    ("same-rule-after-the-action", SAME_RULE, []),
    ("response-phase-after-a-deny", RESPONSE, [13]),
]
REQUESTS = [(path, ip) for path in ("/api", "/x", "/") for ip in ("192.0.2.7", "203.0.113.9")]


@pytest.mark.parametrize(("text", "lines"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_result_read_where_its_action_may_not_have_run_is_named(text: str, lines: list[int]) -> None:
    _, found = ap.read(text, name="p.yaml", cache_dir=None)
    assert not [d for d in found if str(d.severity) == "Severity.ERROR"], found
    named = [d for d in found if d.code == "AIGW404" and "its action" in d.message]
    assert sorted(d.span.line for d in named) == lines, found
    assert all(d.help and "has(actions.ngrok." in d.help for d in named)


@pytest.mark.parametrize(("text", "lines"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_engine_fails_a_rule_exactly_where_lint_warns(text: str, lines: list[int]) -> None:
    engine = ap.Engine(ap.loads(text))
    failed = set()
    for path, ip in REQUESTS:
        decision = engine.evaluate({"id": "r", "now": "2026-12-07T12:00:00Z", "conn": {"client_ip": ip},
                                    "request": {"method": "GET", "url": f"https://h.example{path}", "headers": {}},
                                    "response": {"status_code": 200, "headers": {}}})
        failed |= {e["span"]["line"] for e in decision.to_dict()["errors"]}
    assert failed == set(lines)
