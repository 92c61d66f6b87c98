"""The request head judged before anything else of the request is read: its path made
canonical, its Host, an absolute-form target's host, a fragment in the target, its method, its
number of fields, its framing (a length beside chunks) and the HTTP version its request line
claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .metrics import KNOWN_METHODS
from .paths import PathError, canonical_scope, valid_host
from .server import MAX_HEAD_FIELDS
from .targets import TARGET_FRAGMENT

__all__ = ["ALLOWED_METHODS", "judge_head"]

_TARGET = "aigw.target_authority"  # server.TARGET_AUTHORITY: the host of an absolute-form target
_VERSIONS = frozenset({"1.0", "1.1", "2", "3"})
"""ASGI's ``http_version`` values. uvicorn's HTTP/1 parsers pass on whatever version a request
line claims (``POST / HTTP/2.0``: ``"2.0"``, ``HTTP/0.9``: ``"0.9"``), which the policy then
read as ``req.version``: a client over HTTP/1.1 chose to look like HTTP/2. Such a request is
refused (505); a server that really speaks HTTP/2 or 3 says ``"2"`` / ``"3"``."""
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods forwarded: the ones the providers' APIs define (OpenAI's and Anthropic's GET,
POST and DELETE, Gemini's and Vertex AI's PATCH, a REST upstream's PUT) and the reads of
CORS and HTTP. Any other is 405 ``method_not_allowed`` with ``Allow`` naming these: TRACE has
the upstream reflect the request it received (the credentials and headers the gateway added,
RFC 9110 §9.3.8), CONNECT asks for a tunnel, and WebDAV's, cache purges' or ``QUERY``
(which llhttp parses, h11 any token) were forwarded and judged as reads, a ``QUERY`` with a
chat body charged by the upstream's answer while a rule of the policy reading the method
never named it."""
_ALLOWED = frozenset(ALLOWED_METHODS)


_WORDS = {w.casefold(): w for w in (
    "openai", "deployments", "engines", "models", "tunedModels", "model", "projects", "locations", "publishers",
    "google", "anthropic", "converse", "converse-stream", "invoke", "invoke-with-response-stream",
    "generateContent", "streamGenerateContent", "embedContent", "batchEmbedContents", "countTokens", "rawPredict",
    "streamRawPredict")}
"""The words of the paths the policy reads a model from (providers.classify: Azure's deployments,
the legacy engines, Gemini's and Vertex AI's models and their actions, Bedrock's runtime), by
their folded spelling."""
_OWN = frozenset(_WORDS.values())
_NAMING = frozenset(("deployments", "engines", "models", "tunedModels", "model", "projects", "locations"))
"""Words followed by a name of the caller's (a deployment, a model, a project), which may be in
any case: only its ``:action`` is one of :data:`_WORDS`."""


def _spelt_otherwise(path: str) -> str | None:
    """A word of a model-bearing path spelt in another case than its API's (``Deployments``,
    ``:GenerateContent``), or None. The policy reads the model only from the API's spelling,
    while servers that route paths case-insensitively (ASP.NET's and Go Fiber's defaults) serve
    the model of any. ~40 ns for a path in lower case (OpenAI's, Anthropic's)."""
    if path.islower():
        return None
    named = False
    for segment in path.split("/"):
        part = segment.rpartition(":")[2] if named else segment  # a name's `:action`, or the segment
        if part not in _OWN and (own := _WORDS.get(part.casefold())) is not None:
            return f"`{part[:40]}` is spelt otherwise than its API's `{own}`"
        named = not named and segment in _NAMING
    return None


def judge_head(scope: dict[str, Any], headers: Mapping[str, str]) -> tuple[dict[str, Any], str | None, tuple[int, str]]:
    """``(scope, problem, (status, code))``: the scope with its path made canonical (``scope``
    itself when the path cannot be), why the head is refused (None when it is not; of two
    problems, the one checked last is told) and the status and error code it is refused with.
    ``headers``: the head's fields by lower-case name."""
    problem: str | None = None
    edge = (400, "invalid_path")
    try:
        scope = canonical_scope(scope)
    except PathError as error:
        problem = f"invalid request path: {error}"
    else:
        if (otherwise := _spelt_otherwise(scope["path"])) is not None:  # a server may route it as the API's
            problem = (f"invalid request path: {otherwise}, which a server routing paths case-insensitively "
                       "serves as the API's path (naming a model the policy would not read)")
    if "host" in headers and not valid_host(headers["host"]):
        problem = "invalid Host header: a host name or address, with an optional port"
    if _TARGET in scope and scope[_TARGET].lower() != headers.get("host", "").lower():
        problem = "the request target's host is not its Host header's (an absolute-form target)"
    if TARGET_FRAGMENT in scope:  # (the server protocols mark it: llhttp's drops the fragment before the scope)
        problem = "invalid request path: the request target has a `#` (a fragment, which a client never sends)"
    if scope.get("method") not in _ALLOWED:
        method = scope.get("method")  # quoted when it is a method's name, not any token (a key: serve29)
        said = method if method in KNOWN_METHODS else "this method"
        problem = f"{said} is not served: the gateway forwards {', '.join(ALLOWED_METHODS)}"
        edge = (405, "method_not_allowed")
    if len(scope["headers"]) > MAX_HEAD_FIELDS:  # the server counts a read's first head: not a pipelined one's
        problem = f"the request head has more than {MAX_HEAD_FIELDS} header fields"
        edge = (431, "request_header_fields_too_large")
    version = scope.get("http_version")
    if version == "1.1" and "host" not in headers:  # (h11 refuses it itself; llhttp passes it on)
        problem = "an HTTP/1.1 request names its host in a `Host` header (RFC 9112 §3.2)"
        edge = (400, "invalid_http")
    elif "transfer-encoding" in headers and "content-length" in headers:  # (llhttp refuses it itself; h11 reads chunks)
        problem = ("a request has a Content-Length or a Transfer-Encoding, not both (RFC 9112 §6.3: the mark "
                   "of request smuggling, each parser reading another body)")
        edge = (400, "invalid_http")
    elif version == "1.0" and "transfer-encoding" in headers:
        problem = ("an HTTP/1.0 request cannot be chunked (RFC 9112 §6.1): a proxy of HTTP/1.0 in front reads "
                   "no body, and the chunks as the next request")
        edge = (400, "invalid_http")
    if version is not None and version not in _VERSIONS:  # a request line of HTTP/2.0, HTTP/0.9, ...
        problem = (f"HTTP/{str(version)[:8]} is not served: a request line says HTTP/1.1 or "
                   "HTTP/1.0 (HTTP/2 is its own framing, never a request line)")
        edge = (505, "http_version_not_supported")
    return scope, problem, edge
