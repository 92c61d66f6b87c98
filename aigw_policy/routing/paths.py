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

A request whose body is no routed format's (Bedrock's Converse and InvokeModel, Claude's body
as Bedrock and Vertex AI frame it, Cohere's and Ollama's native APIs) is not routed:
:func:`unroutable` names its format, and the planner drops every candidate as not speaking it
(ngrok: "the gateway uses the request path to determine the API format and filters out
providers that don't support it"), 422 ``ERR_NGROK_3805``.
"""

from __future__ import annotations

import re

__all__ = ["attempt_path", "unroutable"]

_OPENAI_TAIL = re.compile(
    r"/(?P<tail>chat/completions|completions|embeddings|responses(?:/compact|/input_tokens)?|moderations"
    r"|images/(?:generations|edits|variations)|audio/(?:transcriptions|translations|speech)|videos(?:/[^/]+/remix)?)$")
_PLAIN_OPENAI = re.compile(r"^(?:/v\d+[a-z0-9]*)?/(?:chat/completions|completions|embeddings|responses(?:/compact"
                           r"|/input_tokens)?|moderations|images/\w+|audio/\w+|videos(?:/[^/]+/remix)?)$")
_GEMINI = re.compile(r"/models/(?P<rest>[^/:]+:[A-Za-z]+)$")
_PLAIN_GEMINI = re.compile(r"^/v\d+[a-z0-9]*/models/[^/:]+:[A-Za-z]+$")
_ANTHROPIC = re.compile(r"/messages(?P<count>/count_tokens)?$")
_NATIVE = (
    (re.compile(r"/model/[^/]+/(?:converse|converse-stream|invoke|invoke-with-response-stream)$"), "bedrock"),
    (re.compile(r"/publishers/anthropic/models/[^/:]+:(?:rawPredict|streamRawPredict)$"), "vertex_ai anthropic"),
    (re.compile(r"^/v[12]/(?:chat|embed|generate)$"), "cohere"),
    (re.compile(r"/api/(?:chat|generate|embed|embeddings)$"), "ollama"),
)


def unroutable(path: str) -> str | None:
    """The native format of a request no candidate can be sent (see the module's docstring),
    or None.

    >>> unroutable("/api/chat"), unroutable("/v2/chat"), unroutable("/model/amazon.nova-pro-v1:0/converse")
    ('ollama', 'cohere', 'bedrock')
    >>> unroutable("/v1/chat/completions") is None
    True
    """
    p = path.split("?", 1)[0].rstrip("/")
    return next((name for pattern, name in _NATIVE if pattern.search(p)), None)


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
        if _PLAIN_OPENAI.match(p):
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
