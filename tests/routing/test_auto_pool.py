"""What ``ngrok/auto`` (or a request naming no model) chooses among: ``ai.models``, which
ngrok's CEL reference defines as "all available models from configured providers"
(``../shared/ngrok/ai-gateway-action/reference/cel-functions.mdx``). With no strategy the
gateway runs the default one, ``ai.models`` (as its debugging trace names ``ai.keys`` for a
route with no key strategy), so both give the same candidates.

Before session 29 the pool was every catalog model whatever the action listed: a route with
only a self-hosted `ollama` provider sent an `ngrok/auto` request to `openai:ada` (a 2020
completions model) after it, with the client's own key, and on to 1,240 others.
"""

from __future__ import annotations

from typing import Any

import pytest

from .test_plan_cases import run_case

ROW_KEYS = {"id", "config", "body", "providers", "first"}

ROWS: list[dict[str, Any]] = [
    # the action lists providers: their models only, configured models first
    {"id": "self-hosted-only", "config": {"providers": [{"id": "ollama", "base_url": "http://ollama.internal",
                                                         "models": [{"id": "llama3"}, {"id": "mistral"}]}]},
     "body": {"model": "ngrok/auto"}, "providers": {"ollama"}, "first": "ollama:llama3"},
    {"id": "omitted-model-self-hosted", "config": {"providers": [{"id": "ollama", "base_url": "http://ollama.internal",
                                                                  "models": [{"id": "llama3"}]}]},
     "body": {}, "providers": {"ollama"}, "first": "ollama:llama3"},
    {"id": "catalog-provider-listed", "config": {"providers": [{"id": "anthropic"}]},
     "body": {"model": "ngrok/auto"}, "providers": {"anthropic"}},
    {"id": "two-listed", "config": {"providers": [{"id": "groq"}, {"id": "deepseek"}]},
     "body": {}, "providers": {"groq", "deepseek"}},
    {"id": "a-configured-model-first", "config": {"providers": [{"id": "openai", "models": [{"id": "gpt-4o-mini"}]}]},
     "body": {"model": "ngrok/auto"}, "providers": {"openai"}, "first": "openai:gpt-4o-mini"},
    # a strategy sees the same pool: a provider not listed is not in it, so the next one runs
    {"id": "strategy-over-the-pool", "config": {
        "providers": [{"id": "openai"}],
        "model_selection": {"strategy": ["ai.models.filter(m, m.provider_id == 'anthropic')",
                                         "ai.models.filter(m, m.id == 'gpt-4o')"]}},
     "body": {"model": "ngrok/auto"}, "providers": {"openai"}, "first": "openai:gpt-4o"},
    # none listed (passthrough): every catalog model, as before
    {"id": "passthrough", "config": {}, "body": {"model": "ngrok/auto"},
     "providers": {"openai", "anthropic", "google", "deepseek", "groq", "mistral", "openrouter"}},
]


def _live(config: dict[str, Any], body: dict[str, Any]) -> list[tuple[str, str]]:
    plan = run_case({"config": config, "request": {"body": {**body, "messages": []}}})
    assert plan.error is None, plan.error
    return [(c.provider, c.model) for c in plan.candidates if c.skipped_because is None]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_ngrok_auto_chooses_among_the_configured_providers_models(row: dict[str, Any]) -> None:
    assert set(row) <= ROW_KEYS and {"id", "config", "body", "providers"} <= set(row), sorted(set(row) - ROW_KEYS)
    live = _live(row["config"], row["body"])
    assert live and {p for p, _ in live} == row["providers"], sorted({p for p, _ in live})
    if "first" in row:
        assert f"{live[0][0]}:{live[0][1]}" == row["first"], live[:3]


@pytest.mark.parametrize("row", [r for r in ROWS if "model_selection" not in r["config"]],
                         ids=[r["id"] for r in ROWS if "model_selection" not in r["config"]])
def test_no_strategy_is_the_strategy_ai_models(row: dict[str, Any]) -> None:
    with_default = {**row["config"], "model_selection": {"strategy": ["ai.models"]}}
    assert _live(row["config"], row["body"]) == _live(with_default, row["body"])
