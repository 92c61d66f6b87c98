"""Action configs: one frozen model per action type, the single source of their shape.

The models drive validation of both surface forms, the JSON Schema (``aigw-policy schema``),
the DSL printer and the docs. ``None`` means "not written"; the engine applies defaults.
Field kinds are marked in the annotations:

- ``Cel``: a CEL expression (YAML: a string; DSL: written inline);
- ``Template``: a string that may hold ``${expr}`` interpolations;
- ``Duration``: ``10s``, ``1m``, ``1h``, ``1d`` (``ms`` too), kept as written.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, StrictStr, create_model

from .ai_gateway import AiGateway
from .fields import (
    PERIODS,
    REQUEST,
    ActionConfig,
    Algorithm,
    BucketKey,
    Capacity,
    Cel,
    CelMarker,
    Duration,
    EditableHeaderKey,
    EditableHeaderName,
    ErrorStatus,
    HeaderKey,
    HeaderValue,
    Network,
    Period,
    Status,
    Template,
    TemplateMarker,
    Timezone,
    Whole,
    field_kind,
    parse_duration,
)

ALL_PHASES = ("on_tcp_connect", "on_http_request", "on_http_response")

__all__ = [
    "ACTIONS",
    "NGROK_ACTION_ALIASES",
    "NGROK_RENAMED_KEYS",
    "UNSUPPORTED_NGROK_ACTIONS",
    "UNSUPPORTED_NGROK_KEYS",
    "ActionConfig",
    "Cel",
    "Duration",
    "Template",
    "field_kind",
    "parse_duration",
]


class Deny(ActionConfig):
    TYPE = "deny"
    TERMINATING = True
    PHASES = ("on_tcp_connect", "on_http_request")
    DOC = "End the request with an error status (403 unless set)."
    status_code: ErrorStatus | None = None
    message: Template | None = None
    enforce: StrictBool | None = None


class CustomResponse(ActionConfig):
    TYPE = "custom-response"
    TERMINATING = True
    DOC = "Answer the request from the gateway with a status, body and headers."
    status_code: Status | None = None
    body: Template | None = None
    headers: Annotated[dict[HeaderKey, HeaderValue], Field(max_length=10)] | None = None
    enforce: StrictBool | None = None


class Allow(ActionConfig):
    TYPE = "allow"
    TERMINATING = True
    DOC = "End rule evaluation for this phase and forward the request (extension)."


class RateLimit(ActionConfig):
    TYPE = "rate-limit"
    LIMIT = True
    PHASES = REQUEST
    DOC = "Requests per window per bucket; over the limit: 429 with Retry-After."
    name: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    algorithm: Algorithm | None = None
    capacity: Capacity
    rate: Duration
    bucket_key: BucketKey | None = None
    enforce: StrictBool | None = None


class TokenLimit(ActionConfig):
    TYPE = "token-limit"
    LIMIT = True
    PHASES = REQUEST
    DOC = "Tokens per window per bucket, reserved at request time and reconciled on response."
    name: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    algorithm: Algorithm | None = None
    capacity: Capacity
    rate: Duration
    bucket_key: BucketKey | None = None
    cost: Cel | None = None
    enforce: StrictBool | None = None


class UsageCap(ActionConfig):
    TYPE = "usage-cap"
    LIMIT = True
    PHASES = REQUEST
    DOC = "A calendar-aligned cap on tokens, dollars or requests, with a soft warning."
    name: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    limit: Annotated[float, Field(strict=True, gt=0)] | Annotated[int, Field(strict=True, gt=0)]
    unit: Literal["tokens", "usd", "requests"]
    period: Period
    timezone: Timezone | None = None
    bucket_key: BucketKey | None = None
    warn_at: Annotated[float, Field(strict=True, gt=0, lt=1)] | None = None
    cost: Cel | None = None
    on_unknown_price: Literal["deny", "allow"] | None = None
    enforce: StrictBool | None = None


class ModelAccess(ActionConfig):
    TYPE = "model-access"
    PHASES = REQUEST
    DOC = "Allow or deny models by glob patterns over `provider/model` or `model`."
    allow: tuple[StrictStr, ...] | None = None
    deny: tuple[StrictStr, ...] | None = None
    status_code: ErrorStatus | None = None
    enforce: StrictBool | None = None


class MaxTokens(ActionConfig):
    TYPE = "max-tokens"
    PHASES = REQUEST
    DOC = "Cap input and output tokens: reject with 413, or clamp the requested output."
    input: Annotated[int, Field(strict=True, ge=1), Whole] | None = None
    output: Annotated[int, Field(strict=True, ge=1), Whole] | None = None
    mode: Literal["reject", "clamp"] | None = None
    enforce: StrictBool | None = None


class SetModel(ActionConfig):
    TYPE = "set-model"
    PHASES = REQUEST
    DOC = "Route or downgrade the request to another model (recorded in the decision)."
    model: Annotated[Template, Field(min_length=1)]
    provider: StrictStr | None = None


class AddHeaders(ActionConfig):
    TYPE = "add-headers"
    DOC = "Add headers to the request (request phase) or the response (response phase)."
    headers: Annotated[dict[EditableHeaderKey, HeaderValue], Field(min_length=1, max_length=10)]


class RemoveHeaders(ActionConfig):
    TYPE = "remove-headers"
    DOC = "Remove headers from the request or the response."
    headers: Annotated[tuple[EditableHeaderName, ...], Field(min_length=1, max_length=10)]


class SetVars(ActionConfig):
    TYPE = "set-vars"
    PHASES = ALL_PHASES
    DOC = "Set `vars.*` for later rules; values may hold interpolations."
    vars: tuple[Annotated[dict[StrictStr, Any], Field(min_length=1, max_length=1)], ...]


MetadataValue = Annotated[Any, TemplateMarker]
"""Any value, as ngrok's `log` documents (`map[string]any`; its event-logging example logs
`success: false`); strings in it, at any depth, may hold ``${expr}`` interpolations."""


class Log(ActionConfig):
    TYPE = "log"
    PHASES = ALL_PHASES
    DOC = "Record metadata in the decision's logs."
    metadata: dict[StrictStr, MetadataValue] | None = None


class RestrictIps(ActionConfig):
    TYPE = "restrict-ips"
    PHASES = ALL_PHASES
    DOC = "Allow or deny client IPs by address or CIDR block; 403 unless enforce is false."
    allow: tuple[Network, ...] | None = None
    deny: tuple[Network, ...] | None = None
    enforce: StrictBool | None = None


RedirectStatus = Annotated[Literal[301, 302, 303, 307, 308], Whole]


def _with_from(kind: type[ActionConfig], **fields: Any) -> type[ActionConfig]:
    """An action config whose first key is ngrok's `from` (a Python keyword, so no class body
    can declare it): ``kind`` gives its type, flags and doc, ``fields`` the keys after it."""
    return create_model(kind.__name__.lstrip("_"), __base__=kind,  # type: ignore[no-any-return, call-overload]
                        **{"from": (Template | None, None)}, **fields)


class _Redirect(ActionConfig):
    TYPE = "redirect"
    PHASES = REQUEST
    DOC = ("Redirect the client (302 unless set) to the URL made by replacing each match of the "
           "regex `from` in the request URL with `to` (`$1`, `${name}`: its groups); the whole URL "
           "without `from`. An unchanged URL is no redirect.")


class _UrlRewrite(ActionConfig):
    TYPE = "url-rewrite"
    PHASES = REQUEST
    DOC = ("Rewrite the URL the request goes on with: each match of the regex `from` in the "
           "request URL replaced with `to` (`$1`, `${name}`: its groups); the whole URL without "
           "`from`. Later rules read the new `req.url`.")


Redirect = _with_from(
    _Redirect, to=(Annotated[Template, Field(min_length=1)], ...), status_code=(RedirectStatus | None, None),
    headers=(Annotated[dict[HeaderKey, HeaderValue], Field(max_length=10)] | None, None))
UrlRewrite = _with_from(_UrlRewrite, to=(Annotated[Template, Field(min_length=1)], ...))


def _check_credential(text: str) -> str:
    """A `username:password` credential as ngrok checks it: split at the first `:`, a password
    of 8 to 128 characters. With `${...}`, ngrok's patterns: the whole credential one `${...}`,
    or a written `:` between a username and a password either of which may hold `${...}`
    (`${user}password` is none); a written password is still checked here, the rest when it
    is rendered (:func:`aigw_policy.engine.http_actions.rendered_credential`)."""
    if "${" not in text:
        user, colon, password = text.partition(":")
        if not colon or not user:
            raise ValueError("a credential is `username:password`")
        _check_password(user, password)
        return text
    from ..template import Interpolation, TemplateError, split_template

    try:
        parts = split_template(text)
    except TemplateError:
        return text  # AIGW203, where the template is compiled
    if len(parts) == 1:
        return text  # the whole credential one `${...}`
    for i, part in enumerate(parts):
        if isinstance(part, str) and ":" in part:
            user_parts = [*parts[:i], part.partition(":")[0]]
            password_parts = [part.partition(":")[2], *parts[i + 1:]]
            break
    else:
        raise ValueError("a credential with `${...}` is `username:password` with the `:` written between "
                         "them, or one `${...}` for the whole credential (ngrok's rule): "
                         "`${...}:password`, `${...}:${...}`, `${...}`")
    if not any(user_parts):
        raise ValueError("a credential is `username:password`: the username is empty")
    written = "".join(p for p in (*user_parts, *password_parts) if isinstance(p, str))
    if CONTROL.search(written):
        raise ValueError("a credential holds no control character (RFC 7617, ngrok's rule)")
    user = "".join(p if isinstance(p, str) else "${" + p.source + "}" for p in user_parts)
    written_password = [p for p in password_parts if isinstance(p, str)]
    if len(written_password) == len(password_parts):  # a written password, beside a `${...}` username
        _check_password(user, "".join(written_password))
    return text


CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""RFC 7617 §2.1: neither a user-id nor a password holds a control character (ngrok:
`ERR_NGROK_2257`, `ERR_NGROK_2258`)."""


def _check_password(user: str, password: str) -> None:
    if CONTROL.search(user):
        raise ValueError("a username holds no control character (RFC 7617, ngrok's rule)")
    if CONTROL.search(password):
        raise ValueError(f"the password of `{user}` holds a control character (RFC 7617, ngrok's rule)")
    if not 8 <= len(password) <= 128:
        raise ValueError(f"the password of `{user}` has {len(password)} characters: ngrok takes 8 to 128")


def _check_realm(text: str) -> str:
    if not re.fullmatch(r"[\x20-\x7e]{1,128}", text):
        raise ValueError("a realm is 1 to 128 printable ASCII characters (ngrok's rule)")
    return text


Credential = Annotated[StrictStr, TemplateMarker, AfterValidator(_check_credential)]


class BasicAuth(ActionConfig):
    TYPE = "basic-auth"
    PHASES = REQUEST
    DOC = ("HTTP Basic authentication: a request without one of the `username:password` "
           "credentials gets 401 with `WWW-Authenticate` (unless enforce is false).")
    credentials: Annotated[tuple[Credential, ...], Field(min_length=1, max_length=10)]
    realm: Annotated[StrictStr, AfterValidator(_check_realm)] | None = None
    enforce: StrictBool | None = None


Compression = Literal["br", "compress", "deflate", "gzip"]


def _distinct(items: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(items)) != len(items):
        raise ValueError("each algorithm once (ngrok's rule)")
    return items


class CompressResponse(ActionConfig):
    TYPE = "compress-response"
    PHASES = ("on_http_response",)
    DOC = ("ngrok's response compression, read and recorded (`effects.compress`): this gateway "
           "answers uncompressed, the same content (AIGW128 says so).")
    algorithms: Annotated[tuple[Compression, ...], AfterValidator(_distinct)] | None = None


HTTP_SCHEMES = ("http", "https")


def internal_url_problem(url: str, schemes: tuple[str, ...] = ("http", "https", "tcp", "tls")) -> str | None:
    """Why ``url`` is no ngrok internal endpoint (a URL of one of ``schemes`` whose host ends
    in ``.internal``: ngrok forwards "only to an internal endpoint on the same account", of
    the same protocol: :data:`HTTP_SCHEMES` for an HTTP request), or None. The engine asks it
    of each rendered `url`, the loader of a written one."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        return f"`{url[:200]}` is not a URL"
    if parts.scheme not in ("http", "https", "tcp", "tls") or not host:
        return f"`{url[:200]}` is not an endpoint URL (`https://name.internal`)"
    if not host.endswith(".internal"):
        return f"`{host[:200]}` is not an internal endpoint: its host must end in `.internal`"
    if parts.scheme not in schemes:
        return (f"`{url[:200]}` is a {parts.scheme} endpoint: ngrok forwards a request to an endpoint of "
                f"its own protocol ({' or '.join(schemes)})")
    return None


def _check_internal_url(text: str) -> str:
    """A written `url` (no `${...}`) that is no internal endpoint would fail every request
    that reaches it (AIGW509): refused where it is written instead."""
    if "${" not in text and (problem := internal_url_problem(text)) is not None:
        raise ValueError(problem)
    return text


class ForwardInternal(ActionConfig):
    TYPE = "forward-internal"
    TERMINATING = True
    PHASES = ("on_tcp_connect", "on_http_request")
    DOC = ("Forward the request to an ngrok internal endpoint (`https://name.internal`): it ends "
           "the request phase; a `url` that does not render to one is an error that `on_error: "
           "continue` lets the next actions handle.")
    url: Annotated[Template, Field(min_length=1), AfterValidator(_check_internal_url)]
    on_error: Literal["halt", "continue"] | None = None
    binding: Literal["internal"] | None = None
    """ngrok's docs still write `binding: internal` (its first releases' key; internal is the
    only binding it forwards to): taken, and changes nothing."""


ACTIONS: dict[str, type[ActionConfig]] = {
    cls.TYPE: cls
    for cls in (
        Deny,
        CustomResponse,
        Allow,
        RateLimit,
        TokenLimit,
        UsageCap,
        ModelAccess,
        MaxTokens,
        SetModel,
        AddHeaders,
        RemoveHeaders,
        SetVars,
        Log,
        RestrictIps,
        Redirect,
        UrlRewrite,
        BasicAuth,
        ForwardInternal,
        CompressResponse,
        AiGateway,
    )
}

UNSUPPORTED_NGROK_ACTIONS = frozenset(
    {
        "circuit-breaker",
        "close-connection",
        "http-request",
        "jwt-validation",
        "oauth",
        "openid-connect",
        "owasp-crs-request",
        "owasp-crs-response",
        "request-body-find-replace",
        "response-body-find-replace",
        "saml",
        "sse-find-replace",
        "terminate-tls",
        "verify-webhook",
        "webhook-validation",
    }
)


NGROK_ACTION_ALIASES: dict[str, str] = {"oidc": "openid-connect"}
"""Other names ngrok's own guides give an out-of-scope action (its Salesforce SSO and
modules-migration guides write `type: oidc`), with the action's name."""


NGROK_RENAMED_KEYS: dict[tuple[str, str], str] = {("custom-response", "content"): "body"}
"""Config keys under the names of ngrok's first Traffic Policy releases, with today's name.
ngrok still accepts them and its Kubernetes operator still writes `custom-response`'s
`content` (pkg/managerdriver/translator.go), so they are read under the new name with a
warning (AIGW127); a config that writes both names is AIGW120."""


UNSUPPORTED_NGROK_KEYS: dict[tuple[str, str], str] = {
    ("restrict-ips", "ip_policies"): "ngrok IP policies (`ipp_...`) live in ngrok's account; list the "
    "addresses and CIDR blocks in `allow` and `deny` instead",
}
"""Config keys ngrok's schema has that this engine does not implement, with what to do instead."""
