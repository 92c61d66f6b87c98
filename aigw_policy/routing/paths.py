"""Which client paths a route serves, and the path each attempt is sent to (docs/routing.md,
"What a routed request becomes"; docs/decisions.md).

A provider speaks API formats (``openai``, ``anthropic``, ``gemini``), each with its own
paths under its ``base_url``. A routed request is sent to the path of *its format's* API, not
to the path the client happened to use: the client may have spoken the same body through
another vendor's frame of it (Azure OpenAI's ``/openai/deployments/{d}/chat/completions``,
Cohere's ``/compatibility/v1/...``, Gemini's ``/v1beta/openai/...``, Vertex AI's
``/v1/projects/.../publishers/google/models/{m}:generateContent``), which no other candidate
serves. So:

- ``openai``: ``/v1/`` + the endpoint (``chat/completions``, ``embeddings``, ``responses``, ...),
  a plain ``[/vN]/endpoint`` kept as it came;
- ``anthropic``: ``/v1/messages`` (``/v1/messages/count_tokens``);
- ``gemini``: ``/v1beta/models/{model}:{action}`` (a plain ``/vN/models/...`` keeps its version).

A request of a vendor's native API (Bedrock's Converse and InvokeModel, Claude's body as
Bedrock frames it, Cohere's and Ollama's native APIs; :func:`native_format` names it) is spoken
only by that vendor: a candidate whose provider is it (:func:`speaks_native`: its id or alias
is the vendor's name, or its ``base_url``'s host is the vendor's) is sent the client's native
path under its base's root (``http://localhost:11434/v1/`` + ``/api/chat`` is
``http://localhost:11434/api/chat``; Bedrock's ``/model/{id}/`` the attempt's model); every
other candidate is skipped as not speaking the format (ngrok: "the gateway uses the request
path to determine the API format and filters out providers that don't support it"), and none
left is 422 ``ERR_NGROK_3805``. Claude on Vertex AI (``:rawPredict``) is no provider's.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from ..providers.batches import ASYNC_PATHS
from ..providers.classify import vendor_of
from ..providers.error_shapes import NATIVE  # the vendors' native formats: a candidate of that vendor is sent one
from ..providers.native_paths import native_path

__all__ = ["NATIVE", "attempt_path", "native_format", "native_url", "speaks_native", "surface_of"]

_OPENAI_TAIL = re.compile(
    r"/(?P<tail>chat/completions|completions|embeddings|responses(?:/compact|/input_tokens)?|moderations"
    r"|images/(?:generations|edits|variations)|audio/(?:transcriptions|translations|speech)|videos(?:/[^/]+/remix)?)$")
_PLAIN_OPENAI = re.compile(r"^(?:/v\d+[a-z0-9]*)?/(?:chat/completions|completions|embeddings|responses(?:/compact"
                           r"|/input_tokens)?|moderations|images/\w+|audio/\w+|videos(?:/[^/]+/remix)?)$")
_GEMINI = re.compile(r"/models/(?P<rest>[^/:]+:[A-Za-z]+)$")
_PLAIN_GEMINI = re.compile(r"^/v\d+[a-z0-9]*/models/[^/:]+:[A-Za-z]+$")
_ANTHROPIC = re.compile(r"/messages(?P<count>/count_tokens)?$")


_BEDROCK_MODEL = re.compile(r"/model/[^/]+/")
_ROOT = re.compile(r"(?:/compatibility)?(?:/v\d+[a-z0-9]*)?/*$")


def native_format(path: str) -> str | None:
    """The vendor's native format a request's path is (see the module's docstring), or None.

    >>> native_format("/api/chat"), native_format("/v2/chat"), native_format("/model/amazon.nova-pro-v1:0/converse")
    ('ollama', 'cohere', 'bedrock')
    >>> native_format("/v1/chat/completions") is None
    True
    """
    native = native_path(path)  # the providers' table: a model call's only
    return native.vendor if native is not None and native.inference else None


def speaks_native(provider: Any, fmt: str) -> bool:
    """Whether ``provider`` (a :class:`~aigw_policy.routing.model.ProviderInfo`) is the vendor
    of native format ``fmt``: its id or an alias is the vendor's name, its ``base_url``'s host
    is the vendor's (``api.cohere.com``, ``bedrock-runtime.{region}.amazonaws.com``, Ollama's
    port 11434), or its ``supported_api_surfaces`` declare the format (a replica whose id and
    host say nothing of it: a second Ollama host behind a proxy)."""
    if fmt not in NATIVE:
        return False
    names = {provider.id.lower(), *(a.lower() for a in provider.aliases)}
    return fmt in names or fmt in provider.formats or vendor_of(provider.base_url or "") == fmt


def native_url(base: str, path: str, model: str) -> str:
    """A native request's URL at a candidate of its vendor: the client's path under the root
    of ``base`` (a trailing version and Cohere's ``/compatibility`` left out), Bedrock's model
    segment the attempt's.

    >>> native_url("http://localhost:11434/v1/", "/api/chat", "llama3")
    'http://localhost:11434/api/chat'
    >>> native_url("https://api.cohere.com/compatibility/v1", "/v2/chat", "command-a")
    'https://api.cohere.com/v2/chat'
    >>> native_url("https://bedrock-runtime.us-east-1.amazonaws.com", "/model/x/converse", "amazon.nova-pro-v1:0")
    'https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-pro-v1%3A0/converse'
    """
    parts = urlsplit(base)
    root = _ROOT.sub("", parts.path)
    path = _BEDROCK_MODEL.sub(lambda _: f"/model/{quote(model, safe='')}/", path, count=1)
    return f"{parts.scheme}://{parts.netloc}{root}{path}"


def attempt_path(fmt: str, path: str) -> str:
    """The path, under the candidate's ``base_url``, of a request of format ``fmt`` the client
    sent to ``path``.

    >>> attempt_path("openai", "/openai/deployments/gpt4/chat/completions")
    '/v1/chat/completions'
    >>> attempt_path("openai", "/compatibility/v1/chat/completions"), attempt_path("openai", "/chat/completions")
    ('/v1/chat/completions', '/chat/completions')
    >>> attempt_path("gemini", "/v1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:generateContent")
    '/v1beta/models/gemini-2.0-flash:generateContent'
    """
    p = path.rstrip("/")
    if fmt == "openai":
        if _PLAIN_OPENAI.match(p) or p.endswith(ASYNC_PATHS):  # (Perplexity's async API: its own path)
            return path
        m = _OPENAI_TAIL.search(p)
        return f"/v1/{m.group('tail')}" if m else path
    if fmt == "gemini":
        if _PLAIN_GEMINI.match(p):
            return path
        m = _GEMINI.search(p)
        return f"/v1beta/models/{m.group('rest')}" if m else path
    if fmt == "anthropic":
        m = _ANTHROPIC.search(p)
        return f"/v1/messages{m.group('count') or ''}" if m else path
    return path


def surface_of(path: Any) -> str | None:
    """The endpoint surface of a request's path, as ngrok names it in
    ``supported_api_surfaces[].surface`` (``chat-completions``, ``responses``, ``messages``;
    likewise ``completions``, ``embeddings``), or None: a surface ngrok names none for
    (Anthropic's token count, Gemini's actions, a native API), which no ``supported_params``
    list narrows.

    >>> surface_of("/v1/chat/completions"), surface_of("/openai/deployments/d/chat/completions")
    ('chat-completions', 'chat-completions')
    >>> surface_of("/v1/responses"), surface_of("/v1/messages"), surface_of("/v1/messages/count_tokens")
    ('responses', 'messages', None)
    """
    if not isinstance(path, str):
        return None
    p = path.rstrip("/")
    if (m := _OPENAI_TAIL.search(p)) is not None and m.group("tail") in _SURFACES:
        return m.group("tail").replace("/", "-")
    if (m := _ANTHROPIC.search(p)) is not None and not m.group("count"):
        return "messages"
    return None


_SURFACES = frozenset({"chat/completions", "completions", "responses", "embeddings"})
