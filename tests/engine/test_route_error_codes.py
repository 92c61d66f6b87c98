"""Each error code of ngrok's ``ai-gateway`` action (its reference, ``reference/error-codes``)
in the situation its documentation gives, with its status: one table, through ``explain``'s
engine and simulated attempts, so that a code no path produces shows here (3802 had none: a
keyless built-in provider was sent the request without a key; 3801 was a 3804 for a body that
is no JSON object). 3801 is also the gateway's, before the policy, for a body that is not JSON
or a mistyped ``model`` / ``models`` (tests/gateway/test_routing_bad_body.py); 3809 (a TCP or
TLS endpoint) has no situation in ``serve``, which serves HTTP only."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap

KEYED = "{id: openai, api_keys: [{value: sk-op-1, id: k1}, {value: sk-op-2, id: k2}]}"


def _policy(config: str) -> str:
    return ("on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n"
            f"        config: {{{config}}}\n")


def _request(model: Any = "gpt-4o", attempts: list[dict[str, Any]] | None = None,
             headers: dict[str, str] | None = None, words: int = 2, body: Any = None) -> dict[str, Any]:
    if body is None:
        body = {"model": model, "messages": [{"role": "user", "content": "hi " * words}]}
    return {"id": "r1", "now": "2026-11-26T12:00:00Z", "attempts": attempts or [],
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions", "headers": headers or {},
                        "body": body}}


FAIL = {"status_code": 500, "body": {"error": {"message": "boom"}}}
# (code, status, the action's config, the request)
CASES = [
    ("ERR_NGROK_3800", 502, f"failover_on: [500], providers: [{KEYED}]", _request(attempts=[{"error": "connect"}])),
    ("ERR_NGROK_3801", 400, f"providers: [{KEYED}]", _request(body=[1, 2])),
    ("ERR_NGROK_3802", 400, "providers: [{id: openai}]", _request()),
    ("ERR_NGROK_3803", 422,
     f"providers: [{KEYED}], model_selection: {{strategy: [\"ai.models.filter(m, int(m.id) > 0)\"]}}", _request()),
    ("ERR_NGROK_3804", 422, f"providers: [{KEYED}], only_allow_configured_providers: true", _request("no-such-model")),
    ("ERR_NGROK_3805", 422, f"providers: [{KEYED}], model_selection: {{strategy: [\"ai.models.filter(m, false)\"]}}",
     _request()),
    ("ERR_NGROK_3806", 422, f"providers: [{KEYED}], model_selection: {{strategy: [\"dyn('gpt-4o')\"]}}",
     _request()),  # (a strategy typed as no model is refused at load: AIGW410)
    ("ERR_NGROK_3807", 503, f"providers: [{KEYED}], only_allow_configured_providers: true",
     _request(attempts=[FAIL, FAIL])),
    ("ERR_NGROK_3808", 422, f"providers: [{KEYED}], api_key_selection: {{strategy: [\"ai.keys.filter(k, false)\"]}}",
     _request()),
    ("ERR_NGROK_3810", 504, f"total_timeout: 1s, per_request_timeout: 1s, providers: [{KEYED}]",
     _request(attempts=[{"error": "timeout"}])),
    ("ERR_NGROK_3811", 413, f"max_input_tokens: 5, providers: [{KEYED}]", _request(words=50)),
]


@pytest.mark.parametrize("code, status, config, request_", CASES, ids=[c[0] for c in CASES])
def test_each_documented_code_in_its_situation(code: str, status: int, config: str, request_: dict[str, Any]) -> None:
    decision = ap.Engine(ap.loads(_policy(config), format="yaml")).evaluate(request_)
    body = decision.response["body"]
    assert (decision.status_code, body["aigw"]["code"]) == (status, code), decision.reason
