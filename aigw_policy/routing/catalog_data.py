"""The built-in providers of the routing catalog and ngrok's alias tables, as data.

Sources: ngrok's model catalog (``ai-gateway-action/reference/model-catalog.mdx``: provider
ids, aliases, base URLs, model aliases) and the providers' own API documentation (auth
styles, which API formats each speaks). Models and prices come from genai-prices
(:mod:`aigw_policy.routing.catalog`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTHOR_PREFIXES", "BUILTIN_PROVIDERS", "FORMAT_BASE_URLS", "MODEL_ALIASES"]

#: id -> (aliases, base URL (ngrok's), formats spoken, auth style, genai-prices provider id)
BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {"aliases": ("openAI", "open-ai", "open-AI"), "base_url": "https://api.openai.com/v1/",
               "formats": ("openai",), "auth": "bearer", "prices": "openai"},
    "anthropic": {"aliases": ("Anthropic",), "base_url": "https://api.anthropic.com/v1/",
                  "formats": ("anthropic", "openai"), "auth": "x-api-key", "prices": "anthropic"},
    "google": {"aliases": ("Google", "gemini"),
               "base_url": "https://generativelanguage.googleapis.com/v1beta/openai/",
               "formats": ("openai", "gemini"), "auth": "x-goog-api-key", "prices": "google"},
    "deepseek": {"aliases": ("DeepSeek", "deep-seek"), "base_url": "https://api.deepseek.com",
                 "formats": ("openai",), "auth": "bearer", "prices": "deepseek"},
    "groq": {"aliases": ("groqcloud",), "base_url": "https://api.groq.com/openai/v1",
             "formats": ("openai",), "auth": "bearer", "prices": "groq"},
    "mistral": {"aliases": ("mistralai", "mistral-ai"), "base_url": "https://api.mistral.ai/v1",
                "formats": ("openai",), "auth": "bearer", "prices": "mistral"},
    "openrouter": {"aliases": ("open-router",), "base_url": "https://openrouter.ai/api/v1/",
                   "formats": ("openai",), "auth": "bearer", "prices": "openrouter"},
    "hyperbolic": {"aliases": (), "base_url": "https://api.hyperbolic.xyz/v1/",
                   "formats": ("openai",), "auth": "bearer", "prices": None},
    "inceptionlabs": {"aliases": ("inception-labs", "inception"), "base_url": "https://api.inceptionlabs.ai/v1/",
                      "formats": ("openai",), "auth": "bearer", "prices": None},
    "ollama": {"aliases": (), "base_url": "http://localhost:11434/v1/",
               "formats": ("openai",), "auth": "bearer", "prices": None},
    "inference-net": {"aliases": ("inference.net", "inference_net"), "base_url": "https://api.inference.net/v1/",
                      "formats": ("openai",), "auth": "bearer", "prices": None},
}  # fmt: skip

#: (provider, format) -> base URL when the provider serves that format elsewhere than
#: ``base_url`` (Gemini's native API is not under its OpenAI-compatible path)
FORMAT_BASE_URLS: dict[tuple[str, str], str] = {
    ("google", "gemini"): "https://generativelanguage.googleapis.com/v1beta/",
}

#: ngrok's model aliases (model-catalog.mdx, "Aliases reference"): alias -> (provider, id)
MODEL_ALIASES: dict[str, tuple[str, str]] = {
    **{a: ("openai", "gpt-4o") for a in (
        "gpt-4-omni", "gpt-4o-2024-05-13", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "chatgpt-4o-latest")},
    "gpt-4o-mini-2024-07-18": ("openai", "gpt-4o-mini"),
    **{a: ("openai", "gpt-4-turbo") for a in (
        "gpt-4-turbo-2024-04-09", "gpt-4-turbo-preview", "gpt-4-1106-preview", "gpt-4-0125-preview")},
    **{a: ("openai", "gpt-4") for a in ("gpt-4-0613", "gpt-4-0314", "gpt-4-32k")},
    "gpt-4.1-2025-04-14": ("openai", "gpt-4.1"),
    "gpt-4.1-mini-2025-04-14": ("openai", "gpt-4.1-mini"),
    "gpt-4.1-nano-2025-04-14": ("openai", "gpt-4.1-nano"),
    "gpt-5.1-2025-11-13": ("openai", "gpt-5.1"),
    **{a: ("openai", "gpt-5.3-codex") for a in ("GPT-5.3-Codex", "gpt5.3-codex")},
    "GPT-5 mini": ("openai", "gpt-5-mini"),
    "GPT-5 nano": ("openai", "gpt-5-nano"),
    "GPT-5 Chat": ("openai", "gpt-5-chat-latest"),
    **{a: ("openai", "gpt-3.5-turbo") for a in ("gpt-3.5-turbo-0125", "gpt-3.5-turbo-16k")},
    "o4-mini-2025-04-16": ("openai", "o4-mini"),
    "o3-pro-2025-06-10": ("openai", "o3-pro"),
    "o3-2025-04-16": ("openai", "o3"),
    "o3-mini-2025-01-31": ("openai", "o3-mini"),
    "claude-haiku-4-5-20251001": ("anthropic", "claude-haiku-4-5"),
    "claude-sonnet-4-5-20250929": ("anthropic", "claude-sonnet-4-5"),
    "claude-opus-4-5-20251101": ("anthropic", "claude-opus-4-5"),
    **{a: ("anthropic", "claude-opus-4-1") for a in ("claude-opus-4-1-20250805", "claude-opus-4.1")},
    **{a: ("anthropic", "claude-sonnet-4-0") for a in ("claude-sonnet-4-20250514", "claude-sonnet-4")},
    **{a: ("anthropic", "claude-opus-4-0") for a in ("claude-opus-4-20250514", "claude-opus-4")},
    "claude-haiku-3": ("anthropic", "claude-3-haiku-20240307"),
    "llama-3.1-8b": ("groq", "llama-3.1-8b-instant"),
    "llama-3.3-70b": ("groq", "llama-3.3-70b-versatile"),
}  # fmt: skip

#: a model id's first word -> its author (when the id has no ``author/`` prefix)
AUTHOR_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt", "openai"), ("chatgpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
    ("text-", "openai"), ("davinci", "openai"), ("babbage", "openai"), ("ada", "openai"),
    ("dall-e", "openai"), ("tts", "openai"), ("whisper", "openai"), ("codex", "openai"),
    ("claude", "anthropic"), ("gemini", "google"), ("gemma", "google"), ("imagen", "google"),
    ("llama", "meta"), ("meta-llama", "meta"), ("mistral", "mistral"), ("mixtral", "mistral"),
    ("codestral", "mistral"), ("ministral", "mistral"), ("magistral", "mistral"),
    ("pixtral", "mistral"), ("devstral", "mistral"), ("voxtral", "mistral"),
    ("deepseek", "deepseek"), ("qwen", "qwen"), ("kimi", "moonshotai"), ("grok", "x-ai"),
)  # fmt: skip
