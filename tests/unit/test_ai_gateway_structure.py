"""The structural lint of ``ai-gateway`` configs (analysis/ai_gateway.py): what passes clean,
and the edges of each check. The broken documents in data/broken pin codes and positions."""

from __future__ import annotations

import json

import pytest

from aigw_policy.analysis.ai_gateway import is_builtin_provider
from aigw_policy.loader import read


def _codes(config: str, *, after: str = "") -> list[str]:
    text = "on_http_request:\n  - type: ai-gateway\n    config:\n" + config + after
    _, diags = read(text, name="p.yaml")
    return [d.code for d in diags]


def _provider(lines: str) -> str:
    return "      providers:\n" + lines


@pytest.mark.parametrize("provider_id", ["openai", "OpenAI", "gemini", "inference.net", "groq"])
def test_builtin_providers_need_no_base_url(provider_id):
    assert is_builtin_provider(provider_id)
    assert _codes(_provider(f"        - id: {provider_id}\n")) == []


@pytest.mark.parametrize("url, codes", [
    ("https://ollama.internal", []),
    ("http://127.0.0.1:11434/v1", []),
    ("ftp://ollama.internal", ["AIGW145"]),
    ("https://", ["AIGW145"]),
    ("http://[::1", ["AIGW145"]),
])
def test_base_url_must_be_http_with_a_host(url, codes):
    assert _codes(_provider(f"        - id: my-llm\n          base_url: '{url}'\n")) == codes


@pytest.mark.parametrize("value, codes", [
    ("${secrets.get('openai', 'k')}", []),
    ('${ secrets.get("openai","k") }', []),
    ("sk-proj-abc", ["AIGW147"]),
    ("AIzaSyA-shortish", ["AIGW147"]),
    ("0123456789abcdef0123456789abcdef", ["AIGW147"]),
    ("changeme", []),  # not a key's shape: nothing to say
    ("${vars.key}", ["AIGW148"]),  # another template: ngrok interpolates it, we would not
    ("${secrets.get('openai-key')}", ["AIGW148"]),  # ngrok's secrets.get takes two arguments
    ("sk-proj-abc${vars.suffix}", ["AIGW148"]),
])
def test_literal_keys_are_warned_about(value, codes):
    quoted = json.dumps(value)
    config = _provider(f"        - id: openai\n          api_keys:\n            - value: {quoted}\n")
    assert _codes(config) == codes


@pytest.mark.parametrize("timeouts, codes", [
    ("      per_request_timeout: 30s\n      total_timeout: 30s\n", []),
    ("      per_request_timeout: 31s\n      total_timeout: 30s\n", ["AIGW146"]),
    ("      per_request_timeout: 6m\n", ["AIGW146"]),  # past the default total, 5m
    ("      total_timeout: 10s\n", ["AIGW146"]),  # below the default per attempt, 30s
    ("      total_timeout: 1h\n", []),
])
def test_timeouts(timeouts, codes):
    assert _codes(timeouts) == codes


def test_a_surface_with_its_surface_may_list_params():
    config = _provider("        - id: openai\n          supported_api_surfaces:\n"
                       "            - {format: openai, surface: chat-completions,"
                       " supported_params: [{name: model}]}\n")
    assert _codes(config) == []


def test_an_alias_may_repeat_another_providers_id():
    """ngrok's multi-provider example: `openai-eu` also answers to `openai`."""
    config = _provider("        - id: openai\n        - id: openai-eu\n"
                       "          base_url: https://eu.api.openai.com\n"
                       "          id_aliases: [openai]\n")
    assert _codes(config) == []
    assert _codes(_provider("        - id: openai\n        - id: OpenAI\n")) == ["AIGW140"]


def test_model_ids_repeat_freely_across_providers():
    config = _provider("        - {id: openai, models: [{id: m}]}\n"
                       "        - {id: anthropic, models: [{id: m}]}\n")
    assert _codes(config) == []


def test_actions_after_an_ai_gateway_that_continues_on_error_run():
    """ngrok's error-handling guide: `on_error: continue`, then a custom response."""
    after = "  - type: custom-response\n    config: {status_code: 503}\n"
    assert _codes("      on_error: continue\n", after=after) == []
    one_rule = ("on_http_request:\n  - actions:\n      - type: ai-gateway\n"
                "        config: {on_error: %s}\n      - type: log\n")
    _, diags = read(one_rule % "continue", name="p.yaml")
    assert [d.code for d in diags] == []
    _, diags = read(one_rule % "halt", name="p.yaml")
    assert [d.code for d in diags] == ["AIGW132"]


def test_strategies_are_not_checked_against_the_policy_environment():
    """`ai.models` is not a policy variable: the generic CEL pass must not see strategies
    (the planner's stage checks them against the selection environment)."""
    config = ("      model_selection:\n        strategy: ['ai.models.filter(m, m.provider_id == \"x\")']\n"
              "      providers: [{id: openai, api_keys: [{value: '${secrets.get(\"a\", \"b\")}'}]}]\n"
              "      api_key_selection:\n        strategy: ['ai.keys']\n")
    assert _codes(config) == []  # `ai.models` and `ai.keys` are no policy variables


def test_a_bad_strategy_is_reported_by_the_strategies_stage_only():
    config = ("      model_selection:\n        strategy: ['ai.models.filter(m, m.no_such.x)']\n"
              "      api_key_selection:\n        strategy: ['ai.keys']\n")
    # the planner's stage (AIGW320-324, AIGW410-414) does report the strategy: no other pass does
    assert [c for c in _codes(config) if c not in STRATEGY_CODES] == []
    assert "AIGW323" in _codes(config)


STRATEGY_CODES = {f"AIGW32{i}" for i in range(5)} | {f"AIGW41{i}" for i in range(5)}
