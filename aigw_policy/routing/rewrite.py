"""One :class:`~aigw_policy.routing.model.Attempt` as the upstream request to send: a pure
function of the client's request (as the policy's effects left it), the attempt and the
attempt's key (already resolved by the gateway: the secret comes in as an argument and goes
out only in the auth header).

- URL: the provider's ``base_url`` + the path of the request's format
  (:func:`~aigw_policy.routing.paths.attempt_path`), without saying a version twice
  (``https://api.groq.com/openai/v1`` + ``/v1/chat/completions`` is
  ``.../openai/v1/chat/completions``); a vendor's native API under the root of its base
  (:func:`~aigw_policy.routing.paths.native_url`); the client's query without ``key=``, then
  ``attempt.query`` (whose names replace the client's);
- body (a JSON object): ``model`` set to the attempt's model (Gemini: the model is the path's
  ``/models/{model}:`` segment; Bedrock: its ``/model/{id}/``), the client's ``models: [...]`` fallback list removed (the
  gateway's, not the upstream's), ``attempt.drop_params`` removed from the top level, what the
  provider's dialect of OpenAI's format refuses removed or renamed (Mistral, Cohere's
  Compatibility API: no ``stream_options``, which the gateway may have added; Mistral:
  ``max_completion_tokens`` sent as ``max_tokens``), then
  ``attempt.body`` merged in (objects merged key by key, anything else replaced);
- headers: the client's, less hop-by-hop ones, ``host``, ``content-length``,
  ``accept-encoding`` (the proxy offers its own), every credential header
  (``authorization``, ``x-api-key``, ``x-goog-api-key``, ``api-key``) and the account
  headers that go with one (:data:`ACCOUNT_HEADERS`); both kept only in passthrough mode
  for an attempt without a key; then
  ``attempt.headers``, then the key in the provider's auth style (``bearer``,
  ``x-api-key``, ``x-goog-api-key``; ``none``: no credential).

>>> from aigw_policy.routing.model import Attempt, KeyRef, ProviderInfo
>>> p = ProviderInfo("groq", base_url="https://api.groq.com/openai/v1")
>>> a = Attempt(1, p, "llama-3.3-70b", KeyRef("k1", "sk", 0), "openai")
>>> r = upstream_request("POST", "/v1/chat/completions", b"", {"authorization": "Bearer sk-gw"},
...                      b'{"model":"gpt-4o"}', a, "sk-groq")
>>> r.url, r.content, dict(r.headers)["authorization"]
('https://api.groq.com/openai/v1/chat/completions', b'{"model":"llama-3.3-70b"}', 'Bearer sk-groq')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from ..providers.background import response_read
from ..providers.batches import ASYNC_PATHS
from ..providers.gemini_caches import cache_read
from ..providers.classify import MAX_TOKENS_ONLY, NO_STREAM_OPTIONS, vendor_of
from .model import Attempt, AuthStyle, ProviderInfo
from .paths import NATIVE, attempt_path, native_url

__all__ = ["ACCOUNT_ANSWER_HEADERS", "ACCOUNT_ANSWER_PREFIXES", "ACCOUNT_HEADERS", "CREDENTIAL_HEADERS", "QUERY_OWNERS",
           "UpstreamRequest", "account_answer_field", "attempt_url", "is_google", "upstream_request"]

#: Headers that carry a credential in some provider's API: the client's are never forwarded.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})
ACCOUNT_HEADERS = frozenset({"openai-organization", "openai-project", "x-goog-user-project", "cookie"})
"""Headers that choose which of a credential's accounts a request is for and billed to
(OpenAI's organization and project, Google's quota project), and the session a client holds
at the upstream (``Cookie``: a load balancer's affinity, a bot-check pass, a web session,
state of the client's own account there): they go with the credential.
The client's never go with the gateway's key (a key that reaches several organizations would
serve, bill and show the files of whichever the client named; a client whose SDK sends its
own ``OPENAI_ORG_ID`` got 401 ``mismatched_organization`` for every request)."""
ACCOUNT_ANSWER_HEADERS = ACCOUNT_HEADERS | {
    "anthropic-organization-id",  # Anthropic: the organization the key belongs to
    "x-ms-deployment-name",  # Azure OpenAI: the resource's deployment
    # Cohere: a trial key's quota (the account's kind and use)
    "x-trial-endpoint-call-limit", "x-trial-endpoint-call-remaining", "x-endpoint-monthly-call-limit",
    "via",  # the proxies in front of the upstream (Google's front end, a private load balancer's host)
    "x-served-by", "x-backend-server", "x-upstream",  # which internal host served
    # the session the answer opens for the credential's holder (Cloudflare's `__cf_bm`, a load
    # balancer's affinity): the operator's, not the client's to keep and send back
    "set-cookie", "set-cookie2",
    "server-timing",  # the deployment's internal steps and their timings (`db;dur=53`, host names)
    "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version",  # the software the deployment runs
}
"""Fields of a provider's answer that describe the account of the credential it was sent, or
the deployment that served it: the account (OpenAI's ``openai-organization`` /
``openai-project``, Anthropic's ``anthropic-organization-id``, Cohere's trial quota), its
rate limits (:data:`ACCOUNT_ANSWER_PREFIXES`: ``x-ratelimit-*``, ``anthropic-ratelimit-*``,
the account's tier and how much of it every other tenant uses), where it runs (Azure's
region, deployment, API Management instance; ``via``; an Envoy or Kong in front). An answer
to a request that went with a credential that is not the client's own (the gateway's key, or
none behind ``--keys``) never carries them to the client (:func:`account_answer_field`);
one that went with the client's own key (passthrough) keeps them. ``retry-after`` and
``retry-after-ms`` are not among them: they say when to retry, which the SDKs obey, and
nothing of the account."""
ACCOUNT_ANSWER_PREFIXES = (
    # OpenAI, Azure, Groq, Together, OpenRouter...; Anthropic; Mistral's `x-ratelimitbysize-*`;
    # the IETF draft's `RateLimit` / `RateLimit-Policy` (and its older `RateLimit-Limit`...), which
    # would sit beside the gateway's own fields of those names, and Mistral's `ratelimitbysize-*`
    "x-ratelimit", "x-rate-limit-", "anthropic-ratelimit-", "ratelimit",
    "x-ms-", "azureml-", "apim-",  # Azure: region, deployment, model session, API Management
    "x-envoy-", "x-kong-")  # a service mesh or API gateway in front of a private deployment
"""Name prefixes of :data:`ACCOUNT_ANSWER_HEADERS`' kind (families whose members vary by
vendor: ``x-ratelimit-remaining-tokens``, ``x-ms-region``, ...)."""


def account_answer_field(name: str) -> bool:
    """Whether an answer's field ``name`` (lower case) describes the credential's account or
    the deployment that served (:data:`ACCOUNT_ANSWER_HEADERS`).

    >>> [account_answer_field(n) for n in ("x-ratelimit-limit-tokens", "x-ms-region", "retry-after", "x-request-id")]
    [True, True, False, False]
    """
    return name in ACCOUNT_ANSWER_HEADERS or name.startswith(ACCOUNT_ANSWER_PREFIXES)


QUERY_OWNERS = {"api-version": frozenset({"azure", "azure_openai", "azure_ai"})}
"""Query parameters of one vendor's dialect of a shared format, by the vendors whose API reads
them (Azure's ``api-version``): the client's goes only to an attempt at one of them; a request
that fails over from Azure to OpenAI does not take ``?api-version=`` along."""


_DROP = CREDENTIAL_HEADERS | ACCOUNT_HEADERS | {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding", "x-aigw-provider"}
_GEMINI_MODEL = re.compile(r"/models/[^/:]+:")
_VERSION = re.compile(r"^v\d+[a-z0-9]*$")
GOOGLE = frozenset({"google", "gemini"})  # the names of Google's Gemini API (the built-in provider, its alias, its host)
# Google's OpenAI-compatible frame of its API at the end of a base URL (`.../v1beta/openai/`, as
# ngrok's catalog writes Google's): a native Gemini attempt goes beside it, to `.../v1beta/models/...`
_OPENAI_FRAME = re.compile(r"(/v\d+[a-z0-9]*)/openai$")


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """What to send upstream. ``headers``: lower-case names, in order."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    content: bytes
    read: bool = False  # a read of (or an act on) a stored response or completion: no inference call

    def __repr__(self) -> str:  # the auth header holds the secret: never shown
        return f"UpstreamRequest({self.method} {self.url}, {len(self.content)} bytes)"


def upstream_request(method: str, path: str, query: bytes | str, headers: Mapping[str, str] | Iterable[tuple[str, str]],
                     body: bytes, attempt: Attempt, secret: str | None, *, parsed: Any = None,
                     passthrough: bool = False) -> UpstreamRequest:
    """The upstream request of ``attempt`` (see the module's docstring). ``path``: the
    request's path as on the wire (percent-encoded); ``body``: its bytes, replayable for
    every attempt; ``parsed``: ``body`` already parsed (else parsed here when it is JSON).
    ``secret``: the attempt key's value (None: no key, no credential header).
    ``passthrough``: when there is no ``secret``, the client's own credential headers and
    ``key=`` go upstream as they came (ngrok's passthrough mode: the gateway does not
    authenticate clients, so their credential is their provider key)."""
    keep = passthrough and secret is None
    base = attempt.provider.base_url
    if not base:
        raise ValueError(f"provider `{attempt.provider.id}` has no base_url")
    # a query in base_url (`...?api-version=...`) is the operator's, as `query` is: it goes in
    # the query, before the client's (whose names it replaces), never glued before the path
    base, _, own = base.partition("#")[0].partition("?")
    vendors = _vendors(attempt.provider)
    url = attempt_url(base, attempt.format, path, attempt.model, google=not vendors.isdisjoint(GOOGLE))
    operator = [(k, v) for k, v in parse_qsl(own, keep_blank_values=True) if k not in attempt.query] if own else []
    owned = attempt.query.keys() | {k for k, _ in operator} if operator else attempt.query.keys()
    pairs = operator + [(k, v) for k, v in parse_qsl(query.decode("latin-1") if isinstance(query, bytes) else query,
                                                     keep_blank_values=True)
                        if (keep or k != "key") and k not in owned
                        and (k not in QUERY_OWNERS or not vendors.isdisjoint(QUERY_OWNERS[k]))]
    pairs += list(attempt.query.items())
    if pairs:
        url += "?" + urlencode(pairs)
    # a read of a stored response (GET, DELETE, a cancel) has no model to set: its body as it came
    read = response_read(method, path.split("?", 1)[0]) is not None or cache_read(method, path.split("?", 1)[0]) is not None
    inner = path.split("?", 1)[0].rstrip("/").endswith(ASYNC_PATHS)  # Perplexity's async `{request}`: its model there
    content = body if read else _body(body, parsed, attempt, inner=inner)
    return UpstreamRequest(method.upper(), url, _headers(headers, attempt, secret, keep), content, read)


def attempt_url(base: str, fmt: str, path: str, model: str, *, google: bool = False) -> str:
    """The URL (without a query) an attempt of API format ``fmt`` for ``model`` is sent to,
    for a client request to ``path``; ``google``: the provider is Google's (:func:`is_google`),
    whose OpenAI-compatible API is under its native one's ``/openai``."""
    if fmt in NATIVE:  # a vendor's own API, at that vendor (routing/paths.py)
        return native_url(base, path, model)
    path = attempt_path(fmt, path)
    root = base.rstrip("/")
    if fmt == "openai" and google and not root.endswith("/openai"):
        tail = urlsplit(root).path.rsplit("/", 1)[-1]
        if not tail or _VERSION.match(tail):  # Google's native base (`.../v1beta`, its host): not another API's
            base = root + ("/openai" if tail else "/v1beta/openai")
    if fmt == "gemini":
        path = _GEMINI_MODEL.sub(lambda _: f"/models/{quote(model, safe='')}:", path, count=1)
        base = _OPENAI_FRAME.sub(r"\1", base.rstrip("/"))
        first, _, rest = path[1:].partition("/")
        if _VERSION.match(first) and _VERSION.match(base.rsplit("/", 1)[-1]):
            path = "/" + rest  # the base says the version (`.../v1beta`), as the genai SDK's base URL does not
    return join_url(base, path, sdk_base=fmt == "openai")


def is_google(provider: Any) -> bool:
    """Whether ``provider`` is Google's Gemini API (its id or an alias, or its host)."""
    return not _vendors(provider).isdisjoint(GOOGLE)


def _vendors(provider: Any) -> set[str]:
    """The vendors a provider is: its id, its aliases, the vendor its ``base_url``'s host names."""
    found = {provider.id.lower(), *(a.lower() for a in provider.aliases)}
    host = vendor_of(provider.base_url or "")
    return found | {host} if host else found


def join_url(base: str, path: str, *, sdk_base: bool = False) -> str:
    """``base`` + ``path``, the version segment said once: when ``base`` ends with the
    version ``path`` starts with (``/v1``, ``/v1beta``), ``path`` loses it. ``sdk_base``: an
    OpenAI-format attempt, whose ``base_url`` is written as the OpenAI SDK's base URL (the
    version in it, the endpoint after it: Google's ``.../v1beta/openai/``, Cloudflare's
    ``.../v1/{account}/{gateway}/openai``): a base with a version segment anywhere in its path
    takes ``path`` without its leading version.

    >>> join_url("https://api.openai.com/v1/", "/v1/chat/completions")
    'https://api.openai.com/v1/chat/completions'
    >>> join_url("https://api.anthropic.com", "/v1/messages")
    'https://api.anthropic.com/v1/messages'
    >>> join_url("https://generativelanguage.googleapis.com/v1beta/openai/", "/v1/chat/completions", sdk_base=True)
    'https://generativelanguage.googleapis.com/v1beta/openai/chat/completions'
    """
    base = base.rstrip("/")
    if not path.startswith("/"):
        path = "/" + path
    segments = urlsplit(base).path.split("/")
    first, _, rest = path[1:].partition("/")
    if _VERSION.match(first) and (
            segments[-1] == first or (sdk_base and any(_VERSION.match(seg) for seg in segments))):
        path = "/" + rest
    return base + path


def _headers(given: Mapping[str, str] | Iterable[tuple[str, str]], attempt: Attempt,
             secret: str | None, keep: bool) -> tuple[tuple[str, str], ...]:
    items = [(k.lower(), v) for k, v in (given.items() if isinstance(given, Mapping) else given)]
    extra = {k.lower(): str(v) for k, v in attempt.headers.items()}
    drop = ((_DROP - CREDENTIAL_HEADERS - ACCOUNT_HEADERS) if keep else _DROP) | extra.keys()
    drop |= {t.strip() for k, v in items if k == "connection" for t in v.lower().split(",")}
    out = [(k, v) for k, v in items if k not in drop]
    out += [(k, v) for k, v in extra.items() if k not in CREDENTIAL_HEADERS]
    auth = credential_header(attempt.provider, attempt.format)
    if secret is not None and auth != "none":
        out.append(("authorization", f"Bearer {secret}") if auth == "bearer" else (auth, secret))
    return tuple(out)


FORMAT_AUTH: dict[str, AuthStyle] = {"openai": "bearer", "anthropic": "x-api-key", "gemini": "x-goog-api-key"}
"""The credential header of each API format, as its SDK sends it to a base URL."""


def credential_header(provider: ProviderInfo, fmt: str) -> AuthStyle:
    """How an attempt of format ``fmt`` carries its key: a built-in provider's vendor's own way
    (the catalog's: Anthropic's ``x-api-key`` on its OpenAI-compatible API too); a configured
    one speaking several formats (a proxy that imitates each vendor) each format's own, as that
    format's SDK sends it, not one header for all (a native API's: the provider's)."""
    if provider.builtin or provider.auth == "none":
        return provider.auth
    return FORMAT_AUTH.get(fmt, provider.auth)


def _body(raw: bytes, parsed: Any, attempt: Attempt, inner: bool = False) -> bytes:
    """The body sent to ``attempt``: the client's, its model the attempt's (``inner``: the body
    wraps the request it runs, Perplexity's async ``{request: {...}}``, whose model is there)."""
    if parsed is None and raw[:1] in (b"{", b" ", b"\n", b"\t", b"\r"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return raw
    if not isinstance(parsed, dict):
        return raw
    keep = attempt.keep_params
    new = {k: v for k, v in parsed.items()
           if k not in attempt.drop_params and k != "models" and (keep is None or k in keep or k == "model")}
    if attempt.format == "openai":  # what the vendor's dialect of OpenAI's format refuses
        vendors = _vendors(attempt.provider)
        if not vendors.isdisjoint(NO_STREAM_OPTIONS):
            new.pop("stream_options", None)  # (the gateway may have asked for the usage chunk)
        if not vendors.isdisjoint(MAX_TOKENS_ONLY) and "max_completion_tokens" in new:
            cap = new.pop("max_completion_tokens")
            new.setdefault("max_tokens", cap)
    if inner and isinstance(new.get("request"), dict):
        new["request"] = {**new["request"], "model": attempt.model}
    elif attempt.format not in ("gemini", "bedrock"):  # Gemini's and Bedrock's model is in the path
        new["model"] = attempt.model
    elif attempt.format == "gemini":  # and in the requests a Gemini body holds, which must name the path's
        _gemini_inner_models(new, f"models/{attempt.model}")
    _merge(new, attempt.body)
    return json.dumps(new, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _gemini_inner_models(body: dict[str, Any], model: str) -> None:
    """The ``model`` of each request a Gemini body carries (``batchEmbedContents``'
    ``requests[]``, which Google refuses unless each names the path's model; ``countTokens``'
    ``generateContentRequest``) set to the attempt's, where the client wrote one; copies: the
    client's parsed body is replayed for every attempt. A context cache's creation names its
    model in the body alone (``POST .../cachedContents``): the attempt's too."""
    if isinstance(body.get("model"), str):
        body["model"] = model
    inner = body.get("requests")
    if isinstance(inner, list):
        body["requests"] = [dict(r, model=model) if isinstance(r, dict) and "model" in r else r for r in inner]
    one = body.get("generateContentRequest")
    if isinstance(one, dict) and "model" in one:
        body["generateContentRequest"] = dict(one, model=model)


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            into[k] = dict(into[k])
            _merge(into[k], v)
        else:
            into[k] = v
