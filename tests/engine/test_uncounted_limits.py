"""AIGW405: a request-counting limit followed, on every path, by a gateway answer never limits
(SPEC §6 "all or nothing": a request the gateway answers consumes nothing), where ngrok counts
every request reaching the action. The behaviour is SPEC's and stays; `lint` says so.

Each row is a document, the line AIGW405 is expected on (``None``: no warning) and whether the
engine limits the third of three requests from one client (capacity 1). The rows with a line
failed before session 26 (no such code); the rows without are the cases that must not get it
(a conditional or shadowed answer, a forwarding action between, a token limit, the response
phase). The warning is tied to the engine: where it is given, no request is ever limited.
"""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.loader import read

LIMIT = """on_http_request:
  - name: limit
    actions:
      - type: rate-limit
        config: {name: rl, capacity: 1, rate: 60s, bucket_key: [conn.client_ip]}
"""
CAP = """on_http_request:
  - actions:
      - type: usage-cap
        config: {name: cap, limit: 1, unit: requests, period: day, bucket_key: [conn.client_ip]}
"""
TOKENS = """on_http_request:
  - actions:
      - type: token-limit
        config: {name: tpm, capacity: 1, rate: 60s, bucket_key: [conn.client_ip]}
"""
ANSWER = """  - actions:
      - type: custom-response
        config: {status_code: 200, body: stand-in}
"""
BODY = ANSWER.replace("  - actions:", "    actions:", 1)  # after a rule's own first key
SAME_RULE = "      - type: custom-response\n        config: {status_code: 200, body: stand-in}\n"

# (label, document, line of AIGW405 or None, whether the third request is limited)
ROWS: list[tuple[str, str, int | None, bool]] = [
    ("answer in the limit's rule", LIMIT + SAME_RULE, 5, False),
    ("answer in a later rule", LIMIT + ANSWER, 5, False),
    ("deny in a later rule", LIMIT + "  - actions:\n      - type: deny\n", 5, False),
    ("an always-true condition", LIMIT + "  - expressions: ['true']\n" + BODY, 5, False),
    ("a conditional rule between", LIMIT + "  - expressions: [\"req.method == 'POST'\"]\n"
     "    actions:\n      - type: deny\n" + ANSWER, 5, False),
    ("usage-cap in requests", CAP + ANSWER, 4, False),
    ("alone", LIMIT, None, True),
    ("a conditional answer", LIMIT + "  - expressions: [\"req.method == 'POST'\"]\n" + BODY, None, True),
    ("a shadowed answer", LIMIT + "  - mode: shadow\n" + BODY, None, True),
    ("an answer not enforced", LIMIT + ANSWER.replace("stand-in}", "stand-in, enforce: false}"), None, True),
    ("a forward between", LIMIT + "  - expressions: [\"req.method == 'GET'\"]\n    actions:\n"
     "      - type: allow\n" + ANSWER, None, True),
    ("a token limit", TOKENS + ANSWER, None, False),
]


def _request(i: int) -> dict[str, Any]:
    return {"id": f"r{i}", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
            "request": {"method": "GET", "url": "https://gw.example/v1/models"}}


@pytest.mark.parametrize(("label", "text", "line", "limits"), ROWS, ids=[r[0] for r in ROWS])
def test_a_limit_before_an_answer_is_named(label: str, text: str, line: int | None, limits: bool) -> None:
    policy, found = read(text, format="yaml", cache_dir=None)
    assert policy is not None and not any(d.is_error for d in found), found
    warned = [d for d in found if d.code == "AIGW405"]
    assert [d.span.line for d in warned] == ([line] if line else []), warned
    if warned:
        [d] = warned
        assert d.severity.value == "warning" and "never limits" in d.message and d.help
    engine = ap.Engine(policy)
    statuses = [engine.evaluate(_request(i)).status_code for i in range(3)]
    assert (statuses[-1] == 429) is limits, statuses
    if warned:
        assert 429 not in statuses

