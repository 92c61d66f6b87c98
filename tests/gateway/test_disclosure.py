"""What the gateway's own answers tell a client about the host: ``/healthz`` (which anyone may
ask) names no file; a rule that failed closed is named with its code, never with its source
(the expression may hold a literal the operator keeps from clients) nor the CEL error."""

from __future__ import annotations

import httpx

from .conftest import ServerThread, policy_gateway
from .providers_stub import StubProvider

KEY = "sk-gw-disclosure"
HIDDEN = "hunter2-internal-token"
POLICY = f"""on_http_request:
  - name: boom
    expressions: ["req.headers['x-n'][0] == '{HIDDEN}' || int(req.headers['x-n'][0]) > 1"]
    actions:
      - type: deny
        config: {{status_code: 403}}
"""


def test_healthz_and_a_failed_rule_name_nothing_of_the_host() -> None:
    stub = StubProvider("p")
    with ServerThread(stub) as up, policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        health = httpx.get(gw.url + "/healthz")
        failed = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}", "x-n": "abc"},
                            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        policy_path = str(gw.app.holder.path)
    assert health.json() == {"status": "ok", "policy_version": 1}
    assert failed.status_code == 500
    message = failed.json()["error"]["message"]
    assert message.startswith("rule `boom` failed on this request (AIGW500)")
    for answer in (health, failed):
        for secret in (policy_path, HIDDEN, "int(", up.url, "line 3"):
            assert secret not in answer.text, (answer.request.url, secret)
