"""ngrok's debugging trace (``actions.ngrok.ai_gateway``) as its guide documents it
(``../shared/ngrok/ai-gateway-action/guides/debugging.mdx``): the guide's "return results as
response" policy runs as written, with the strategy its example response names, for a
request whose every attempt is refused 429; the answer has every field of the guide's example
response, each of the same JSON kind (a list where ngrok's is a list, a number where it is a
number), and the values the situation decides.

ngrok's example response is read out of the guide itself (its ``// ...`` note dropped), so a
field the guide adds is checked too.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from shared_data import NGROK, require

import aigw_policy as ap
from aigw_policy.routing.model import AttemptOutcome, Next

GUIDE = NGROK / "ai-gateway-action" / "guides" / "debugging.mdx"
_BLOCK = re.compile(r"```(\w+)[^\n]*\n(.*?)```", re.S)
KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz1234567890"


def _guide() -> tuple[str, dict[str, Any]]:
    require(GUIDE)
    blocks = _BLOCK.findall(GUIDE.read_text())
    policy = next(b for k, b in blocks if k == "yaml" and "body: ${actions.ngrok.ai_gateway}" in b)
    example = next(b for k, b in blocks if k == "json" and '"models_tried"' in b and '"client"' in b)
    shown: dict[str, Any] = json.loads(re.sub(r"\s//[^\n]*", "", example))
    return policy, shown


def _trace() -> dict[str, Any]:
    policy, shown = _guide()
    strategy = shown["model_selection"][0]["strategy"]
    policy = policy.replace("      on_error: continue", "      on_error: continue\n"
                            f"      model_selection:\n        strategy:\n          - {json.dumps(strategy)}")
    engine = ap.Engine(ap.loads(policy, format="yaml"))
    engine.evaluate({"id": "d1", "now": "2026-11-26T12:00:00Z", "request": {
        "method": "POST", "url": "https://ai.example.com/v1/chat/completions",
        "headers": {"content-type": "application/json", "authorization": f"Bearer {KEY}", "user-agent": "curl/8.17.0",
                    "cookie": "session=s3cr3t-session"},
        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}})
    step = engine.attempt("d1", None)
    while isinstance(step, Next):
        step = engine.attempt("d1", AttemptOutcome(
            status_code=429, latency_ms=125.0, time_to_first_token_ms=120.0,
            headers={"content-type": "application/json"},
            body={"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}}))
    decision = step.decision
    assert decision.status_code == 503, decision.reason
    body = decision.response["body"]
    trace: dict[str, Any] = json.loads(body) if isinstance(body, str) else body
    return trace


def _kind(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "list", dict: "object",
            type(None): "null"}[type(value)]


def _paths(shown: Any, ours: Any, at: str = "") -> list[tuple[str, str, str]]:
    """(path, ngrok's kind, ours) for every field of ngrok's example, recursively (a list's
    first element stands for all)."""
    out = [(at or ".", _kind(shown), _kind(ours))]
    if isinstance(shown, dict) and isinstance(ours, dict):
        for k, v in shown.items():
            out += _paths(v, ours[k], f"{at}.{k}") if k in ours else [(f"{at}.{k}", _kind(v), "missing")]
    elif isinstance(shown, list) and isinstance(ours, list) and shown and ours:
        out += _paths(shown[0], ours[0], f"{at}[0]")
    return out


def test_the_trace_has_every_field_of_ngroks_example_of_its_kind() -> None:
    _, shown = _guide()
    wrong = [p for p in _paths(shown, _trace()) if p[1] != p[2]]
    assert not wrong, wrong


@pytest.mark.parametrize(("path", "value"), [
    ("status", "error"),
    ("error.code", "ERR_NGROK_3807"),
    ("client.method", "POST"),
    ("client.path", "/v1/chat/completions"),
    ("client.user_agent", "curl/8.17.0"),
    ("client.model", "gpt-4o"),
    ("model_selection.0.candidates_after_client_filter", ["gpt-4o"]),
    ("model_selection.0.models_to_try", ["gpt-4o"]),
    ("models_tried.0.model", "gpt-4o"),
    ("models_tried.0.provider", "openai"),
    ("models_tried.0.author", "openai"),
    ("models_tried.0.requests_made.0.status", "error"),
    ("models_tried.0.requests_made.0.request.url", "https://api.openai.com/v1/chat/completions"),
    ("models_tried.0.requests_made.0.response.status_code", 429),
    ("models_tried.0.requests_made.0.response.headers", {"content-type": ["application/json"]}),
    ("models_tried.0.requests_made.0.upstream_latency", {"time_to_first_byte_ms": 120.0, "total_ms": 125.0}),
])
def test_the_trace_says_what_happened(path: str, value: Any) -> None:
    got: Any = _trace()
    for part in path.split("."):
        got = got[int(part)] if part.isdigit() else got[part]
    assert got == value


def test_the_trace_holds_no_key_text() -> None:
    text = json.dumps(_trace())
    assert KEY not in text and KEY[8:20] not in text and "authorization" not in text and "s3cr3t" not in text
    assert "Rate limit exceeded" in text  # what the upstream said, for the operator
