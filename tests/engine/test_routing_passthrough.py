"""A client's own credential (passthrough: an attempt without a configured key carries what
the client sent) is for one provider: the plan's first candidate's. The catalog lists a model
under several providers (``gpt-4.5-preview``: OpenAI and OpenRouter; ``claude-sonnet-4``:
Anthropic and Google), so a failover took a client's OpenAI key on to OpenRouter, its
Anthropic key to Google, when the first one failed. A keyless candidate of another provider
the action does not list is now skipped (``skipped_because`` says so); providers the operator
lists (self-hosted replicas without keys) still fail over to each other, and configured keys
are tried as before."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.routing.model import AttemptOutcome, Finished, Next

FAIL = AttemptOutcome(status_code=529)
CONFIGS = {
    "catalog only": "{}",
    "a listed provider without keys": "{providers: [{id: openai}]}",
    "a keyed provider first": "{providers: [{id: openai, api_keys: [{value: sk-operator-1, id: k1}]}]}",
    "two self-hosted replicas": ("{only_allow_configured_providers: true, providers: ["
                                 "{id: r0, base_url: 'http://10.0.0.1/v1', models: [{id: m}]}, "
                                 "{id: r1, base_url: 'http://10.0.0.2/v1', models: [{id: m}]}]}"),
}
# (config, path, model, the providers attempted when each attempt fails)
ROWS = [
    ("catalog only", "/v1/chat/completions", "gpt-4.5-preview", ["openai"]),
    ("catalog only", "/v1/chat/completions", "claude-sonnet-4", ["anthropic"]),
    ("catalog only", "/v1/chat/completions", "openrouter:gpt-4.5-preview", ["openrouter"]),
    ("a listed provider without keys", "/v1/chat/completions", "gpt-4.5-preview", ["openai"]),
    ("a keyed provider first", "/v1/chat/completions", "gpt-4.5-preview", ["openai"]),
    ("two self-hosted replicas", "/v1/chat/completions", "m", ["r0", "r1"]),
]


def _attempted(config: str, path: str, model: str) -> tuple[list[str], Any]:
    doc = f"on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n        config: {config}\n"
    engine = ap.Engine(ap.loads(doc, format="yaml"))
    body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    engine.evaluate({"id": "r1", "request": {"method": "POST", "url": "https://gw.example" + path,
                                             "headers": {"content-type": "application/json",
                                                         "authorization": "Bearer sk-client-own"}, "body": body}})
    step = engine.attempt("r1", None)
    tried = []
    while isinstance(step, Next):
        tried.append(step.attempt.provider.id)
        step = engine.attempt("r1", FAIL)
    assert isinstance(step, Finished)
    return tried, step.decision


@pytest.mark.parametrize(("config", "path", "model", "tried"), ROWS, ids=[f"{r[0]}: {r[2]}" for r in ROWS])
def test_a_clients_own_credential_goes_to_one_provider(config: str, path: str, model: str, tried: list[str]) -> None:
    made, decision = _attempted(CONFIGS[config], path, model)
    assert made == tried
    skipped = [c for c in decision.to_dict()["routing"]["candidates"]
               if (c["skipped_because"] or "").startswith("no key configured")]
    assert {c["provider"] for c in skipped}.isdisjoint(tried)
    assert all(c["key_id"] is None for c in skipped)
