"""What the SPEC §5 names mean, one line each: the docs editors show beside the types of
:mod:`.declarations` (``aigw-policy lsp`` hover and completion).

The types stay in :mod:`.declarations`; a name without a line of its own here is documented
by its nearest documented ancestor (``conn.tls.client.subject.country`` by ``conn.tls.client``).
"""

from __future__ import annotations

__all__ = ["FUNCTION_DOCS", "LIMIT_FIELDS", "NAMESPACE_DOCS", "VARIABLE_DOCS", "variable_doc"]

NAMESPACE_DOCS: dict[str, str] = {
    "req": "The HTTP request (ngrok's names and types).",
    "req.url": "The request URL; `req.url` itself is the full URL.",
    "req.user_agent": "The parsed User-Agent header; `req.user_agent` itself is the header.",
    "req.content_type": "The request's Content-Type; `req.content_type` itself is the media type.",
    "req.ts": "When the request's parts arrived.",
    "res": "The upstream response (response phase only).",
    "res.content_type": "The response's Content-Type.",
    "conn": "The client connection (ngrok's names and types).",
    "conn.geo": "Where the client address is (ngrok's IP intelligence).",
    "conn.client_ip": "The client's IP address, and ngrok's intelligence about it.",
    "conn.server_ip": "The server's IP address, and ngrok's intelligence about it.",
    "conn.k8s.pod": "The originating Kubernetes pod (endpoints with a `kubernetes` binding).",
    "conn.tls": "The TLS session, when the connection is TLS.",
    "conn.tls.client": "The client's TLS certificate (mutual TLS).",
    "conn.tls.server": "The server's TLS certificate.",
    "conn.ts": "When the connection started and ended.",
    "endpoint": "The endpoint the request arrived at.",
    "time": "The time of the request.",
    "identity": "The authenticated caller, supplied by the embedding gateway (never a secret).",
    "ai": "The AI request, classified from the provider's body (SPEC §7).",
    "ai.usage": "Token usage of the answer (response phase): from the provider, else estimated.",
}
"""Names that are (also) a namespace of other names."""

VARIABLE_DOCS: dict[str, str] = {
    "req.method": "The HTTP method (`GET`, `POST`, ...).",
    "req.host": "The Host the request was sent to.",
    "req.id": "The request's unique id.",
    "req.url.path": "The URL path (`/v1/chat/completions`).",
    "req.url.raw": "The URL as the client sent it.",
    "req.url.query_params": "Query parameters: name -> every value.",
    "req.headers": "Request headers: lower-cased name -> every value.",
    "req.content_length": "The request body's length in bytes.",
    "req.cookies": "Request cookies: name -> cookie objects (`name`, `value`, `path`, ...).",
    "res.status_code": "The upstream response's HTTP status.",
    "res.headers": "Response headers: lower-cased name -> every value.",
    "conn.client_ip": "The client's IP address.",
    "time.now": "The time of the request, an RFC 3339 string (as ngrok).",
    "identity.key": "The id of the API key the caller used (never the secret).",
    "identity.user": "The caller's user.",
    "identity.team": "The caller's team.",
    "identity.org": "The caller's organization.",
    "identity.tier": "The caller's tier (`free`, `pro`, ...).",
    "identity.labels": "Free-form labels of the caller's key.",
    "ai.provider": "The provider the request is for (`openai`, `anthropic`, `gemini`, ...).",
    "ai.operation": "What is asked: `chat`, `completion`, `responses`, `messages`, "
    "`embeddings` or `other`.",
    "ai.model": "The model asked for.",
    "ai.stream": "Whether the answer is streamed.",
    "ai.max_output_tokens": "The most output tokens the request asks for.",
    "ai.input_tokens": "The input tokens of the request (an estimate at request time).",
    "ai.messages": "How many messages the request carries.",
    "ai.tools": "The names of the tools the request offers.",
    "ai.prompt": "The text of the request's messages, for content rules.",
    "ai.usage.input_tokens": "Every input token, cached and cache-creation ones included.",
    "ai.usage.output_tokens": "Every output token, reasoning ones included.",
    "ai.usage.cached_input_tokens": "Input tokens read from the provider's cache.",
    "ai.usage.cache_creation_input_tokens": "Input tokens written to the provider's cache.",
    "ai.usage.cache_creation_1h_input_tokens": "Of the cache writes, those kept an hour (Anthropic), priced apart.",
    "ai.usage.reasoning_tokens": "Output tokens spent reasoning.",
    "ai.usage.total_tokens": "Input and output tokens together.",
    "ai.usage.source": "Where the usage comes from: `provider` or `estimate`.",
    "ai.cost_usd": "What the exchange cost, in US dollars (response phase).",
    "vars": "Variables set by earlier `set-vars` actions (`vars.route`).",
    "limits": "The state of the limits earlier rules checked: "
    "`limits['NAME'].{limited, used, limit, remaining, reset_after}`.",
    "actions": "Results of earlier actions, ngrok's names "
    "(`actions.ngrok.rate_limit.limited`).",
}

LIMIT_FIELDS: dict[str, str] = {
    "limited": "bool: whether this request was over the limit.",
    "used": "double: what the bucket holds, this request included when it was admitted.",
    "limit": "double: the capacity of the window or the cap of the period.",
    "remaining": "double: what is left before the limit.",
    "reset_after": "double: seconds until the window or period frees capacity.",
    "outcome": "string: `ok`, `warn` (past a usage cap's `warn_at`) or `limited`.",
    "key": "string: the bucket key values, joined by `|`.",
}
"""The fields of ``limits['NAME']`` once a rule has checked the limit (SPEC §5)."""

FUNCTION_DOCS: dict[str, str] = {
    # macros
    "has": "`has(a.b)`: whether the field or key `b` is present.",
    "all": "`list.all(x, p)`: whether `p` holds for every element (`all(k, v, p)` for two "
    "variables).",
    "exists": "`list.exists(x, p)`: whether `p` holds for some element.",
    "exists_one": "`list.exists_one(x, p)`: whether `p` holds for exactly one element.",
    "existsOne": "`list.existsOne(x, p)`: whether `p` holds for exactly one element.",
    "map": "`list.map(x, f)`: `f` of each element (`map(x, p, f)`: of those where `p` holds).",
    "filter": "`list.filter(x, p)`: the elements where `p` holds.",
    "transformList": "`list.transformList(i, v, f)`: `f` of each index and element.",
    "transformMap": "`map.transformMap(k, v, f)`: the map with each value replaced by `f`.",
    "transformMapEntry": "`map.transformMapEntry(k, v, e)`: the map of the entries `e` returns.",
    "optMap": "`opt.optMap(x, f)`: `f` of the optional's value, if it has one.",
    "optFlatMap": "`opt.optFlatMap(x, f)`: `f` (an optional) of the optional's value.",
    "sortBy": "`list.sortBy(x, key)`: the list sorted by `key`.",
    # standard library, the common ones
    "size": "The length of a string, bytes, list or map.",
    "contains": "Whether the string contains the other.",
    "startsWith": "Whether the string starts with the other.",
    "endsWith": "Whether the string ends with the other.",
    "matches": "Whether the string matches the RE2 regular expression (linear time).",
    "int": "Convert to int.",
    "string": "Convert to string.",
    "double": "Convert to double.",
    "duration": "Parse a duration (`'1h30m'`).",
    "timestamp": "Parse an RFC 3339 timestamp.",
    # ngrok's helpers
    "getReqHeader": "The values of a request header (name case-insensitive).",
    "hasReqHeader": "Whether the request has the header (name case-insensitive).",
    "getResHeader": "The values of a response header (name case-insensitive).",
    "hasResHeader": "Whether the response has the header (name case-insensitive).",
    "getQueryParam": "The values of a query parameter.",
    "hasQueryParam": "Whether the URL has the query parameter.",
    "getReqCookie": "A request cookie (`name`, `value`, `path`, ...).",
    "hasReqCookie": "Whether the request has the cookie.",
    "getResCookie": "A response cookie.",
    "hasResCookie": "Whether the response sets the cookie.",
    "secrets.get": "`secrets.get(vault, name)`: a secret, resolved by the gateway.",
    "inCidrRange": "Whether the IP address is in the CIDR block.",
    "inCidrRanges": "Whether the IP address is in one of the CIDR blocks (an invalid one "
    "matches nothing).",
    "isPrivateIp": "Whether the IP address is private.",
    "basic_auth.encode": "The `Basic` Authorization value of a user and password.",
    "b64.encode": "A string's UTF-8 bytes as base64 text (ngrok's former name of `encodeBase64`).",
    "b64.decode": "base64 text as a string (ngrok's former name of `decodeBase64`).",
    "json.encode": "A value as JSON text.",
    "json.decode": "JSON text as a value.",
    "url.escape": "Percent-encode a string for a URL.",
    "url.unescape": "Decode a percent-encoded string.",
    "url.parse": "The parts of a URL.",
    "lower": "The string in lower case.",
    "upper": "The string in upper case.",
    "split": "`s.split(sep)`: the parts between separators; `s.split(sep, n)` (ngrok's): the first n of them; "
    "`s.split()` (ngrok's): the words between runs of white space.",
    "rand.double": "A random double in [0, 1).",
    "rand.int": "A random int (`rand.int(min, max)`: in [min, max]).",
}
"""Docs of functions and macros; the signatures come from the CEL environment."""


def variable_doc(name: str) -> str:
    """The doc of a declared variable or namespace, else of its nearest documented ancestor
    (said so), else ``""``."""
    doc = VARIABLE_DOCS.get(name) or NAMESPACE_DOCS.get(name)
    if doc:
        return doc
    parts = name.split(".")
    for n in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:n])
        doc = VARIABLE_DOCS.get(parent) or NAMESPACE_DOCS.get(parent)
        if doc:
            return f"Part of `{parent}`: {doc[0].lower()}{doc[1:]}"
    return ""

