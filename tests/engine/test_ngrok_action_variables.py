"""ngrok's action variables (https://ngrok.com/docs/traffic-policy/variables/action): what an
action this engine runs publishes under ``actions.ngrok.<action>`` for later rules, each row
a condition read after the actions that publish it (true: 299; false: 200; an error: 500).
The ``error`` of an action that ran without one has empty ``code`` and ``message``: ngrok's
restrict-ips docs log ``${actions.ngrok.restrict_ips.error.code}`` after every run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap

ACTIONS: dict[str, dict[str, Any]] = {
    "add-headers": {"type": "add-headers", "config": {"headers": {"X-Team": "${req.method}", "x-b": "2"}}},
    "remove-headers": {"type": "remove-headers", "config": {"headers": ["X-Drop", "referrer"]}},
    "log": {"type": "log", "config": {"metadata": {"who": "${req.method}", "n": 3}}},
    "rate-limit": {"type": "rate-limit", "config": {"name": "rl", "capacity": 5, "rate": "60s",
                                                    "bucket_key": ["conn.client_ip"]}},
    "restrict-ips": {"type": "restrict-ips", "config": {"enforce": False, "deny": ["203.0.113.0/24"]}},
}

ROWS: list[tuple[str, str, int]] = [
    ("add-headers", "actions.ngrok.add_headers.headers_added == {'x-team': 'GET', 'x-b': '2'}", 299),
    ("remove-headers", "actions.ngrok.remove_headers.headers_removed == []", 299),  # none was there to remove
    ("log", "actions.ngrok.log.metadata.who == 'GET' && actions.ngrok.log.metadata.n == 3", 299),
    ("rate-limit", "!actions.ngrok.rate_limit.limited && actions.ngrok.rate_limit.bucket_key == '203.0.113.7'", 299),
    ("rate-limit", "actions.ngrok.rate_limit.error.code == '' && actions.ngrok.rate_limit.error.message == ''", 299),
    ("restrict-ips", "actions.ngrok.restrict_ips.action == 'deny'", 299),
    ("restrict-ips", "actions.ngrok.restrict_ips.matched_cidr == '203.0.113.0/24'", 299),
    ("restrict-ips", "actions.ngrok.restrict_ips.error.code == ''", 299),
    ("log", "has(actions.ngrok.add_headers)", 200),
    ("log", "actions.ngrok.oauth.identity.email == 'a@b.c'", 500),  # no oauth action ran
]


def _decide(action: str, expression: str) -> int:
    doc = {"on_http_request": [
        {"actions": [ACTIONS[action]]},
        {"expressions": [expression], "actions": [{"type": "custom-response", "config": {"status_code": 299}}]},
    ]}
    engine = ap.Engine(ap.loads(json.dumps(doc), format="json"))
    request = {"now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
               "request": {"method": "GET", "url": "https://app.example.com/"}}
    return engine.evaluate(request).status_code


@pytest.mark.parametrize(("action", "expression", "status"), ROWS, ids=[r[1] for r in ROWS])
def test_action_variable(action: str, expression: str, status: int) -> None:
    assert _decide(action, expression) == status


def test_ngrok_restrict_ips_logging_example_logs_what_it_documents() -> None:
    """ngrok's "Test Restricting IPs" example, with `deny` for its IP policy (out of scope here)."""
    text = """
on_http_request:
  - actions:
      - type: restrict-ips
        config:
          enforce: false
          deny: [203.0.113.0/24]
      - type: log
        config:
          metadata:
            message: Restrict IPs action would be ${actions.ngrok.restrict_ips.action} for ${conn.client_ip}.
            matched_cidr: ${actions.ngrok.restrict_ips.matched_cidr}
            error_code: ${actions.ngrok.restrict_ips.error.code}
            error_message: ${actions.ngrok.restrict_ips.error.message}
"""
    decision = ap.Engine(ap.loads(text, format="yaml")).evaluate(
        {"conn": {"client_ip": "203.0.113.7"}, "request": {"method": "GET", "url": "https://a.example/"}})
    assert decision.verdict == "allow" and not decision.errors
    [log] = decision.effects["logs"]
    assert log["metadata"] == {"message": "Restrict IPs action would be deny for 203.0.113.7.",
                               "matched_cidr": "203.0.113.0/24", "error_code": "", "error_message": ""}


def test_the_plain_actions_publish_only_for_a_policy_that_reads_them() -> None:
    """What add-headers, remove-headers, restrict-ips and log did is published only when some
    text reads `actions` (building it for nobody cost every request of ngrok-style ~1 us)."""
    import aigw_policy as ap

    body = {"conn": {"client_ip": "192.0.2.1"},
            "request": {"url": "https://api.openai.com/v1/chat/completions", "body": {"model": "gpt-4o"}}}
    steps = ("      - type: add-headers\n        config: {headers: {x-a: '1'}}\n"
             "      - type: remove-headers\n        config: {headers: [x-b]}\n")
    reader = ap.Engine(ap.loads("on_http_request:\n  - actions:\n" + steps +
                                "  - expressions: [\"actions.ngrok.add_headers.headers_added['x-a'] == '1'\"]\n"
                                "    actions: [{type: deny, config: {status_code: 418}}]\n", format="yaml"))
    plain = ap.Engine(ap.loads("on_http_request:\n  - actions:\n" + steps + "      - type: restrict-ips\n"
                               "        config: {allow: [0.0.0.0/0]}\n", format="yaml"))  # it has an actions map
    assert (reader.compiled.reads_actions, plain.compiled.reads_actions) == (True, False)
    assert reader.evaluate(body).status_code == 418
    flow, _, _ = plain.start(body)
    from aigw_policy.engine.phases import request_plain

    request_plain(flow)
    assert flow.act["actions"].get("ngrok", {}) == {}


DOCUMENTED = [line for line in (Path(__file__).parent.parent / "data" / "ngrok_action_variables.txt")
              .read_text().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_documented_action_variable_is_known(name: str) -> None:
    """Each action variable of ngrok's reference is a name `lint` knows (an unknown one is
    AIGW300, an error): oidc's `user_info_refreshed` (oauth writes `userinfo_refreshed`) and
    the find-and-replace actions' `replacements` were refused."""
    doc = f"on_http_request:\n  - expressions:\n      - \"has({name})\"\n    actions:\n      - type: deny\n"
    _, found = ap.read(doc, name="policy.yaml", cache_dir=None)
    assert "AIGW300" not in {d.code for d in found}, [str(d) for d in found]
