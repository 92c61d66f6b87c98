"""Which request paths are a vendor's native API (Bedrock's runtime, Cohere's and Ollama's
native APIs, Claude as Vertex AI frames it): one table, read by the request's classification
(:func:`aigw_policy.providers.classify.classify`), the gateway's error dialect
(:func:`aigw_policy.gateway.errors.wire_api`) and routing
(:func:`aigw_policy.routing.paths.native_format`). Each took its own list before, and they
disagreed (routing knew a Cohere ``/v2/generate`` that Cohere has not; the error dialect of
Claude on Vertex AI was Gemini's, the route's Anthropic's).

>>> native_path("/api/chat").vendor, native_path("/v2/chat").operation, native_path("/api/tags").inference
('ollama', 'chat', False)
>>> native_path("/model/amazon.nova-pro-v1:0/converse").vendor, native_path("/v1/chat/completions") is None
('bedrock', True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BEDROCK_PATH", "NATIVE_PATHS", "VERTEX_ANTHROPIC_PATH", "NativePath", "native_path"]

BEDROCK_PATH = re.compile(r"/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke"
                          r"|invoke-with-response-stream)$")
"""Bedrock's runtime routes: Converse and InvokeModel, each streamed or not (the model in the path)."""
VERTEX_ANTHROPIC_PATH = re.compile(
    r"/(?:v\d+\w*/)?projects/[^/]+/locations/[^/]+/publishers/anthropic/models/(?P<model>[^/:]+)"
    r":(?P<action>rawPredict|streamRawPredict)$")
"""Claude's Messages body as Vertex AI frames it (no routing provider speaks it)."""


@dataclass(frozen=True, slots=True)
class NativePath:
    """A native path: its vendor (the wire format: ``bedrock``, ``cohere``, ``ollama``,
    ``vertex_ai-anthropic``), the operation it asks (Bedrock's and Vertex's: by the path's
    action and model, :mod:`.classify`) and whether it is a model call (routed, billed by its
    path) rather than a read or a utility (Ollama's ``/api/tags``, Cohere's ``/v1/tokenize``)."""

    vendor: str
    operation: str
    inference: bool


_EXACT: dict[str, NativePath] = {  # the whole path (Cohere's version is its API's)
    **{p: NativePath("cohere", op, True) for p, op in (
        ("/v2/chat", "chat"), ("/v1/chat", "chat"), ("/v2/embed", "embeddings"), ("/v1/embed", "embeddings"),
        ("/v1/generate", "completion"))},  # v1's legacy completions: `prompt`, the usage in `meta`
    **{p: NativePath("cohere", "other", False) for p in (
        "/v2/rerank", "/v1/rerank", "/v1/tokenize", "/v1/detokenize", "/v1/classify")},
}
_SUFFIX: dict[str, NativePath] = {  # the path's end (Ollama under any prefix a proxy puts it)
    **{p: NativePath("ollama", op, True) for p, op in (
        ("/api/chat", "chat"), ("/api/generate", "completion"), ("/api/embed", "embeddings"),
        ("/api/embeddings", "embeddings"))},
    **{p: NativePath("ollama", "other", False) for p in ("/api/tags", "/api/show", "/api/ps", "/api/version")},
}
_ENDINGS = tuple(_SUFFIX)
_PATTERNS = ((BEDROCK_PATH, NativePath("bedrock", "chat", True)),
             (VERTEX_ANTHROPIC_PATH, NativePath("vertex_ai-anthropic", "messages", True)))

NATIVE_PATHS: tuple[tuple[str, NativePath], ...] = (
    *_EXACT.items(), *((f"...{p}", n) for p, n in _SUFFIX.items()),
    *((f"re:{r.pattern}", n) for r, n in _PATTERNS))
"""The table, as text (for the docs and the tests): a whole path, ``...`` and its end, or
``re:`` and a regular expression searched in the path."""


def native_path(path: str) -> NativePath | None:
    """The native API ``path`` (a query and trailing slashes ignored) is of, or None."""
    p = path.split("?", 1)[0].rstrip("/")
    found = _EXACT.get(p)
    if found is not None:
        return found
    if p.endswith(_ENDINGS):
        return _SUFFIX[p[p.rfind("/api/"):]]
    if "/model" in p:
        for pattern, native in _PATTERNS:
            if pattern.search(p):
                return native
    return None

