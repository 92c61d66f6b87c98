"""The vendors' native paths are one table (providers/native_paths.py), and its three readers
agree on every real provider path: the classification (``ai.api``, and whether the route
serves it), the gateway's error dialect (``wire_api``) and the route's native format
(``native_format``). Each had its own list before: routing knew a Cohere ``/v2/generate``
Cohere has not, and the gateway answered a client of Claude on Vertex AI in Gemini's error
shape where the route answered it in Anthropic's."""

from __future__ import annotations

import re

import pytest

from aigw_policy.gateway.errors import wire_api
from aigw_policy.providers import classify
from aigw_policy.providers.classify import inference_endpoint
from aigw_policy.providers.native_paths import NATIVE_PATHS, native_path
from aigw_policy.routing.paths import native_format

VERTEX = "/v1/projects/p/locations/us-east5/publishers"
# (path, the native API it is (None: none), a model call, ai.api of a POST to it, the error dialect)
ROWS: list[tuple[str, str | None, bool, str, str]] = [
    ("/model/amazon.nova-pro-v1:0/converse", "bedrock", True, "bedrock", "bedrock"),
    ("/model/amazon.nova-pro-v1%3A0/converse-stream", "bedrock", True, "bedrock", "bedrock"),
    ("/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke", "bedrock", True, "anthropic", "bedrock"),
    ("/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke-with-response-stream", "bedrock", True, "anthropic",
     "bedrock"),
    ("/model/cohere.embed-english-v3/invoke", "bedrock", True, "bedrock", "bedrock"),
    ("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.nova-lite-v1%3A0/converse/", "bedrock",
     True, "bedrock", "bedrock"),
    (f"{VERTEX}/anthropic/models/claude-sonnet-4-5:rawPredict", "vertex_ai-anthropic", True, "anthropic",
     "anthropic"),
    (f"{VERTEX}/anthropic/models/claude-sonnet-4-5:streamRawPredict", "vertex_ai-anthropic", True, "anthropic",
     "anthropic"),
    ("/v2/chat", "cohere", True, "cohere", "cohere"),
    ("/v1/chat", "cohere", True, "cohere", "cohere"),
    ("/v2/embed", "cohere", True, "cohere", "cohere"),
    ("/v1/embed", "cohere", True, "cohere", "cohere"),
    ("/v1/generate", "cohere", True, "cohere", "cohere"),
    ("/v2/rerank", "cohere", False, "unknown", "cohere"),
    ("/v1/rerank", "cohere", False, "unknown", "cohere"),
    ("/v1/tokenize", "cohere", False, "unknown", "cohere"),
    ("/v1/detokenize", "cohere", False, "unknown", "cohere"),
    ("/v1/classify", "cohere", False, "unknown", "cohere"),
    ("/api/chat", "ollama", True, "ollama", "ollama"),
    ("/api/generate", "ollama", True, "ollama", "ollama"),
    ("/api/embed", "ollama", True, "ollama", "ollama"),
    ("/api/embeddings", "ollama", True, "ollama", "ollama"),
    ("/ollama/api/chat/", "ollama", True, "ollama", "ollama"),  # behind a proxy's prefix
    ("/api/tags", "ollama", False, "unknown", "ollama"),
    ("/api/show", "ollama", False, "unknown", "ollama"),
    ("/api/ps", "ollama", False, "unknown", "ollama"),
    ("/api/version", "ollama", False, "unknown", "ollama"),
    # not native: each reader leaves them to the provider formats
    ("/v2/generate", None, False, "unknown", "openai"),  # Cohere's v2 has no generate
    ("/v1/chat/completions", None, True, "openai", "openai"),
    ("/api/v1/chat/completions", None, True, "openai", "openai"),  # OpenRouter's
    ("/compatibility/v1/chat/completions", None, True, "openai", "openai"),  # Cohere's OpenAI-compatible API
    ("/v1/embeddings", None, True, "openai", "openai"),
    ("/v1/messages", None, True, "anthropic", "anthropic"),
    ("/v1beta/models/gemini-2.0-flash:generateContent", None, True, "gemini", "gemini"),
    (f"{VERTEX}/google/models/gemini-2.0-flash:streamGenerateContent", None, True, "gemini", "gemini"),
    ("/v1/models", None, False, "unknown", "openai"),
]


@pytest.mark.parametrize(("path", "native", "inference", "api", "dialect"), ROWS, ids=[r[0] for r in ROWS])
def test_the_three_readers_agree_on_a_providers_path(path: str, native: str | None, inference: bool, api: str,
                                                     dialect: str) -> None:
    found = native_path(path)
    assert (found.vendor if found else None, found.inference if found else inference) == (native, inference)
    assert native_format(path) == (native if inference else None)  # the route: a model call's only
    assert inference_endpoint("POST", path) is inference
    ai = classify({"method": "POST", "url": "https://gateway.example" + path, "body": {}})
    assert ai.api == api
    assert wire_api(path, {}) == dialect
    if native is not None and inference:  # the classification names the vendor the route sends it to
        assert ai.provider == {"vertex_ai-anthropic": "vertex_ai"}.get(native, native)


def test_every_entry_of_the_table_has_a_row() -> None:
    """Each entry of the table (a whole path, ``...`` and an end, or a pattern) is met by a row
    above of its vendor: a path added to the table is tested by the three readers."""
    paths = [(r[0].split("?")[0].rstrip("/"), r[1]) for r in ROWS]
    for key, native in NATIVE_PATHS:
        if key.startswith("re:"):
            met = [p for p, v in paths if re.search(key[3:], p) and v == native.vendor]
        elif key.startswith("..."):
            met = [p for p, v in paths if p.endswith(key[3:]) and v == native.vendor]
        else:
            met = [p for p, v in paths if p == key and v == native.vendor]
        assert met, f"no row for {key}"
