"""The built-in catalog: providers, their formats and auth, models and prices from
genai-prices' bundled data, ngrok's aliases; and a config merged into it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aigw_policy.ir.ai_gateway import AiGateway
from aigw_policy.routing.catalog import author_of, base_url_for, builtin
from aigw_policy.routing.compile import compile_route, key_id_of

REQUIRED = {"openai": ("openai", "bearer"), "anthropic": ("anthropic", "x-api-key"),
            "google": ("gemini", "x-goog-api-key"), "groq": ("openai", "bearer"),
            "deepseek": ("openai", "bearer"), "mistral": ("openai", "bearer"), "openrouter": ("openai", "bearer")}


def test_built_once() -> None:
    assert builtin() is builtin()


@pytest.mark.parametrize(("pid", "expect"), sorted(REQUIRED.items()))
def test_builtin_providers(pid: str, expect: tuple[str, str]) -> None:
    p = {p.id: p for p in builtin().providers}[pid]
    fmt, auth = expect
    assert fmt in p.formats and p.auth == auth and p.builtin
    assert p.base_url and p.base_url.startswith("https://")
    assert any(m.provider_id == pid for m in builtin().models) or pid not in ("openai", "anthropic", "google")


def test_models_have_prices_and_windows() -> None:
    by = {(m.provider_id, m.id): m for m in builtin().models}
    gpt = by[("openai", "gpt-4o")]
    assert gpt.input_per_mtok == Decimal("2.5") and gpt.output_per_mtok == Decimal("10.0")
    assert gpt.max_context_window == 128_000
    assert "gpt-4o-2024-08-06" in gpt.aliases and "chatgpt-4o-latest" in gpt.aliases
    assert builtin().prices[("openai", "gpt-4o")]["input"] == 2.5
    assert len(builtin().models) > 500


def test_gemini_native_base_url() -> None:
    google = {p.id: p for p in builtin().providers}["google"]
    assert base_url_for(google, "gemini") == "https://generativelanguage.googleapis.com/v1beta/"
    assert base_url_for(google, "openai") == google.base_url
    route = compile_route(AiGateway.model_validate({"providers": [{"id": "google", "base_url": "https://proxy/"}]}))
    assert base_url_for(route.provider("gemini"), "gemini") == "https://proxy/"


def test_ollama_is_known_on_its_local_port() -> None:
    route = compile_route(AiGateway.model_validate({"providers": [{"id": "ollama", "models": [{"id": "llama3"}]}]}))
    assert route.provider("ollama").base_url == "http://localhost:11434/v1/"
    llama = route.model("ollama", "llama3")
    assert llama is not None and not llama.known and llama.custom


@pytest.mark.parametrize(("model", "provider", "author"), [
    ("gpt-4o", "openai", "openai"), ("llama-3.3-70b-versatile", "groq", "meta"),
    ("anthropic/claude-3.5-sonnet", "openrouter", "anthropic"), ("meta-llama/llama-4", "groq", "meta"),
    ("my-model", "ollama", "ollama"), ("claude-sonnet-4-0", "anthropic", "anthropic"),
])
def test_author_of(model: str, provider: str, author: str) -> None:
    assert author_of(model, provider) == author


def test_config_merges_into_the_catalog() -> None:
    route = compile_route(AiGateway.model_validate({"providers": [
        {"id": "OpenAI", "api_keys": [{"value": "${secrets.get('o', 'k')}"}, {"value": "x", "id": "named"}],
         "models": [{"id": "GPT-4o", "id_aliases": ["fast"], "metadata": {"tier": "gold"}}]},
        {"id": "local", "base_url": "http://localhost:8000/v1", "models": [{"id": "llama3"}]},
    ]}))
    openai = route.provider("open-ai")
    assert openai.configured and openai.builtin and [k.id for k in openai.keys] == [
        key_id_of("${secrets.get('o', 'k')}"), "named"]
    gpt = route.model("openai", "fast")
    assert gpt is not None and gpt.known and gpt.custom and gpt.metadata == {"tier": "gold"}
    assert gpt.input_per_mtok == Decimal("2.5")
    llama = route.model("local", "llama3")
    assert llama is not None and not llama.known and llama.custom
    assert route.provider("local").formats == ("openai",) and not route.provider("local").builtin
    assert route.model("openai", "gpt-4o-mini") is not None  # the rest of the catalog stays
    assert route.per_request_timeout_s == 30 and route.total_timeout_s == 300 and route.on_error == "halt"


def test_key_ids_never_hash_a_secret_value_twice_differently() -> None:
    assert key_id_of("${secrets.get('a', 'b')}") == key_id_of("${secrets.get('a', 'b')}")
    assert key_id_of("a") != key_id_of("b") and key_id_of("a").startswith("key-")


def test_only_configured_models_drops_the_catalog() -> None:
    route = compile_route(AiGateway.model_validate({"only_allow_configured_models": True, "providers": [
        {"id": "openai", "models": [{"id": "gpt-4o"}]}]}))
    assert [(m.provider_id, m.id) for m in route.models] == [("openai", "gpt-4o")]
