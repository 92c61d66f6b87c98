"""Gateway answers in the provider's own error shape, so that each official SDK raises its
own exception type (``openai.PermissionDeniedError``, ``anthropic.RateLimitError``, ...).

>>> wire_api("/v1/messages", {})
'anthropic'
>>> error_body("openai", 403, "model gpt-4.1 is reserved", rule="premium", decision_id="req-1")["error"]["type"]
'permission_error'

A budget exhausted for its period (a ``usage-cap``) is not a rate limit, and each API says so
in its own words: OpenAI 429 ``insufficient_quota``, Anthropic 402 ``billing_error``, Gemini
429 ``RESOURCE_EXHAUSTED`` with a ``google.rpc.QuotaFailure`` detail; rate limits stay 429
``rate_limit_exceeded`` / ``rate_limit_error`` / ``RESOURCE_EXHAUSTED``.

>>> error_body("openai", 429, "budget spent", quota=True)["error"]["code"]
'insufficient_quota'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ..engine.route_errors import AIGW_FIELDS
from ..providers.error_shapes import NATIVE, native_error, native_headers, native_stream_error
from ..providers.native_paths import native_path

__all__ = ["AIGW_FIELDS", "LEDGER_UNAVAILABLE", "STORE_UNAVAILABLE", "aigw_object", "denial", "error_body", "error_response", "no_long_retry",
           "routed_error", "stream_error_event", "wire_api", "with_extra"]

#: What API clients are told when the limit store fails: never its address or its error text
#: (those go to the operator's decision log and ledger).
STORE_UNAVAILABLE = "the gateway cannot check its limits right now (limit store unavailable); retry later"
LEDGER_UNAVAILABLE = "the gateway cannot record usage right now (usage ledger unavailable); retry later"

_GEMINI = re.compile(r"(?:/models/[^/]+:[A-Za-z]+$)|(?:^/v1beta/)")

# Anthropic's documented error types; OpenAI's SDK reads only the status, so we reuse them.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
          404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
          499: "client_closed_request", 500: "api_error", 502: "api_error", 503: "overloaded_error",
          504: "timeout_error"}
_GOOGLE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_CODES = {401: "invalid_api_key", 403: "policy_denied", 413: "request_too_large", 429: "rate_limit_exceeded",
          502: "upstream_unreachable", 503: "gateway_unavailable", 504: "upstream_timeout"}


def wire_api(path: str, headers: Mapping[str, str]) -> str:
    """The error dialect a client speaks: ``bedrock`` (its runtime's ``/model/{id}/converse``
    and ``/invoke`` routes, Claude's included: the client is boto3), ``anthropic`` (Claude on
    Vertex AI too, as its route answers), ``gemini``, ``cohere`` (its native ``/v1|v2/chat``,
    ``/embed``, ...), ``ollama`` (its native ``/api/*``) or ``openai`` (the default), from the
    request path (the vendors' native paths: :mod:`aigw_policy.providers.native_paths`) and
    Anthropic's ``anthropic-version`` header.

    >>> [wire_api(p, {}) for p in ("/model/nova-lite/converse", "/v2/chat", "/api/chat", "/v1/chat/completions")]
    ['bedrock', 'cohere', 'ollama', 'openai']
    """
    native = native_path(path)
    vendor = native.vendor if native is not None else None
    if vendor == "bedrock":
        return "bedrock"
    if vendor == "vertex_ai-anthropic" or path.endswith(("/messages", "/messages/count_tokens")) \
            or "anthropic-version" in headers:
        return "anthropic"
    if _GEMINI.search(path):
        return "gemini"
    return vendor or "openai"


def _type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def error_body(api: str, status: int, message: str, *, rule: str | None = None,
               decision_id: str | None = None, quota: bool = False, code: str | None = None,
               aigw: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON error object of ``api`` for a gateway answer; ``aigw`` carries the rule and
    the decision id (every SDK ignores unknown keys; OpenAI's also inside ``error``, which its
    SDK keeps as ``err.body``). ``quota``: a budget is
    exhausted for its period (``status`` as :func:`denial` gives it). ``code``: a stable
    machine-readable reason (``invalid_path``, ``body_too_large``, ...), in ``aigw.code``
    and, for OpenAI, in ``error.code``. ``aigw``: the rest of the ``aigw`` object (limit, key,
    retry_after, resets_at, hint; :func:`aigw_object`)."""
    extra: dict[str, Any] = dict.fromkeys(AIGW_FIELDS)
    extra.update(aigw or {})
    extra.update(decision_id=decision_id, rule=rule, reason=message)
    extra["code"] = code or extra["code"] or ("usage_cap_exhausted" if quota else _CODES.get(
        status, "policy_denied" if status < 500 else "gateway_error"))
    native = native_error(api, status, message, decision_id, extra, quota)
    if native is not None:
        return native
    if api == "anthropic":
        return {"type": "error", "error": {"type": _type(status), "message": message},
                "request_id": decision_id, "aigw": extra}
    if api == "gemini":
        error: dict[str, Any] = {"code": status, "message": message,
                                 "status": _GOOGLE.get(status, "FAILED_PRECONDITION" if status < 500 else "INTERNAL")}
        if quota:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                 "violations": [{"subject": rule or "", "description": message}]}]
        return {"error": error, "aigw": extra}
    if quota:
        kind = wire_code = "insufficient_quota"
    else:
        kind = _type(status)
        wire_code = code or _CODES.get(status, "policy_denied" if status < 500 else "gateway_error")
    # OpenAI's SDK keeps only ``error`` as ``err.body``: the object is inside it too
    return {"error": {"message": message, "type": kind, "param": None, "code": wire_code, "aigw": extra},
            "aigw": extra}


def error_response(api: str, status: int, message: str, *, rule: str | None = None,
                   decision_id: str | None = None, quota: bool = False,
                   code: str | None = None,
                   aigw: Mapping[str, Any] | None = None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Body bytes and headers (content type, length) of a provider-shaped error. A quota
    answer also says ``x-should-retry: false``: the SDKs' quick retries cannot help."""
    body = json.dumps(error_body(api, status, message, rule=rule, decision_id=decision_id, quota=quota,
                                 code=code, aigw=aigw),
                      ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *native_headers(api, status, decision_id, quota)]
    if quota:
        headers.append((b"x-should-retry", b"false"))
    return body, headers


def stream_error_event(api: str, message: str, ctype: bytes | str = b"text/event-stream", *,
                       comma: bool = True) -> bytes:
    """The event that ends a stream cut after its first byte, in the stream's own format: the
    client's wire format ``api`` in the stream's framing (its Content-Type ``ctype``: SSE, AWS's
    binary event stream, a JSON array (``application/json``: Gemini's without ``alt=sse``; its
    last element, after a ``comma`` when what was sent ends with an element, and the array's end), else a
    JSON object a line). OpenAI and Gemini ``data: {"error": ...}``, Anthropic ``event: error``;
    Bedrock, Cohere and Ollama as :func:`~aigw_policy.providers.error_shapes.native_stream_error`
    says."""
    kind = (ctype.decode("latin-1") if isinstance(ctype, bytes) else ctype).lower()
    framing = "sse" if "event-stream" in kind else "eventstream" if "amazon.eventstream" in kind else "ndjson"
    native = native_stream_error(api, message, framing)
    if native is not None:
        return native
    if api == "anthropic":
        event = json.dumps({"type": "error", "error": {"type": "api_error", "message": message}}).encode()
        return b"event: error\ndata: " + event + b"\n\n" if framing == "sse" else event + b"\n"
    if api == "gemini":
        data: dict[str, Any] = {"error": {"code": 502, "message": message, "status": "UNAVAILABLE"}}
    else:
        data = {"error": {"message": message, "type": "server_error", "param": None, "code": "upstream_stream_cut"}}
    line = json.dumps(data).encode()
    if "application/json" in kind:  # the array's last element, and its end
        return (b",\r\n" if comma else b"") + line + b"]"
    return b"data: " + line + b"\n\n" if framing == "sse" else line + b"\n"


def routed_error(api: str, status: int, body: Any) -> tuple[Any, list[tuple[bytes, bytes]]]:
    """A route's own error ``body`` (the engine writes it in the format it routes:
    OpenAI's, Anthropic's or Gemini's) in the shape of the client's wire format ``api`` when
    that is another one's (Bedrock, Cohere, Ollama), from the ``aigw`` object it carries; and
    the headers that shape has (Bedrock's exception name)."""
    extra = body.get("aigw") if isinstance(body, dict) else None
    if api not in NATIVE or not isinstance(extra, dict):
        return body, []
    from ..engine.route_errors import error_body as route_error

    rid = extra.get("decision_id")
    return (route_error(api, status, str(extra.get("code")), str(extra.get("reason")), rid, extra.get("rule")),
            native_headers(api, status, rid))


def with_extra(headers: list[tuple[bytes, bytes]],
               extra: list[tuple[bytes, bytes]] | None) -> list[tuple[bytes, bytes]]:
    """An error's own ``headers`` then ``extra`` (the decision's), ``x-should-retry`` said once
    when both say it (a quota answer whose wait is long)."""
    if extra and any(k == b"x-should-retry" for k, _ in extra):
        headers = [h for h in headers if h[0] != b"x-should-retry"]
    return headers + (extra or [])


_SDK_RETRIED = frozenset({408, 409, 429})  # and every 5xx: what the OpenAI and Anthropic SDKs retry


def no_long_retry(status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An upstream's answer the SDKs would retry (408, 409, 429, 5xx) whose ``Retry-After`` (or
    ``retry-after-ms``) is longer than an SDK should sleep, with ``x-should-retry: false`` added
    (unless it says ``x-should-retry`` itself): the Anthropic SDK sleeps whatever the header
    says before its retry (an upstream's daily quota: hours), the OpenAI SDK past two minutes
    does not retry. The gateway's own answers say it the same way
    (:func:`~aigw_policy.engine.charging.retry_headers`). Other answers: ``headers`` as they are.

    >>> no_long_retry(429, [(b"Retry-After", b"3600")])[-1]
    (b'x-should-retry', b'false')
    >>> no_long_retry(429, [(b"retry-after", b"5")]), no_long_retry(400, [(b"retry-after", b"3600")])
    ([(b'retry-after', b'5')], [(b'retry-after', b'3600')])
    """
    if not (status >= 500 or status in _SDK_RETRIED):
        return headers
    wait = None
    for k, v in headers:
        name = k.lower()
        if name == b"x-should-retry":
            return headers
        if name == b"retry-after-ms":
            wait = _seconds(v, 1000.0) if wait is None else wait
        elif name == b"retry-after":
            wait = _seconds(v, 1.0)
    from ..engine.charging import SDK_RETRY_AFTER_MAX

    if wait is not None and wait > SDK_RETRY_AFTER_MAX:
        return [*headers, (b"x-should-retry", b"false")]
    return headers


def _seconds(value: bytes, per_second: float) -> float | None:
    """A Retry-After's wait in seconds: a number (of ``1 / per_second`` seconds), or an HTTP
    date (seconds from now); None when it is neither."""
    text = value.decode("latin-1").strip()
    try:
        return float(text) / per_second
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def denial(api: str, decision: Any, status: int) -> tuple[int, str, bool]:
    """How the gateway words a denial to an ``api`` client: ``(status, message, quota)``.

    A limit store failure is told without the store's address or error, a rule that failed
    (``on_error: deny``) by its name and code without its source or the CEL error (the
    expression may hold what the operator keeps from clients); a request refused
    because a ``usage-cap`` is exhausted is a quota answer (Anthropic: 402). Anything else is
    ``status`` and the decision's reason as they are.
    """
    if decision.kind == "store":
        return status, STORE_UNAVAILABLE, False
    if decision.kind == "error":  # the rule's source and the CEL error stay in the operator's decision log
        code = next((e.get("code") for e in getattr(decision, "errors", None) or ()
                     if e.get("rule") == decision.rule), None)
        said = f" ({code})" if isinstance(code, str) else ""
        return status, (f"rule `{decision.rule}` failed on this request{said}; the operator's decision log "
                        "has the error"), False
    reason = decision.reason or "denied"
    if decision.kind == "limit" and status == 429:
        deciding = next((e for e in decision.limits or () if e.get("rule") == decision.rule
                         and e.get("outcome") == "limited" and e.get("enforce", True)), None)
        if deciding is not None and deciding.get("type") == "usage-cap":
            return (402 if api == "anthropic" else 429), reason, True
    return status, reason, False


_KIND_CODES = {"deny": "policy_denied", "default": "default_deny", "store": "store_unavailable",
               "limit": "rate_limited", "error": "policy_error"}


def aigw_object(decision: Any, quota: bool = False) -> dict[str, Any]:
    """The ``aigw`` fields a denial adds to its error body: ``code`` (``rate_limited``,
    ``usage_cap_exhausted``, ``policy_denied``, ``default_deny``, ``store_unavailable``, or the
    action that denied: ``model-access``, ...), the deciding ``limit`` with its bucket ``key``,
    ``retry_after`` (seconds), ``resets_at`` (RFC 3339) and a ``hint`` for a person."""
    out: dict[str, Any] = {"code": "usage_cap_exhausted" if quota else _KIND_CODES.get(decision.kind, decision.kind)}
    entry = next((e for e in decision.limits or () if e.get("rule") == decision.rule
                  and e.get("outcome") == "limited" and e.get("enforce", True)), None) \
        if decision.kind == "limit" else None
    if entry is None:
        out["hint"] = ("the limit store is down: retry later" if decision.kind == "store" else
                       "the policy refused this request; the rule and reason say why (not retryable as is)")
        return out
    retry = entry.get("retry_after")
    if retry is None:
        retry = entry.get("reset_after")
    out.update(limit=entry.get("name"), key=entry.get("key"),
               retry_after=None if retry is None else max(0, math.ceil(retry)),
               resets_at=_resets_at(decision.now, entry.get("reset_after")))
    unit = entry.get("unit") or ""
    out["hint"] = (f"the {unit} budget of limit `{entry.get('name')}` is spent until {out['resets_at']}; "
                   f"GET /v1/aigw/limits shows what is left" if quota else
                   f"retry after {out['retry_after']}s; GET /v1/aigw/limits shows what is left")
    return out


def _resets_at(now: str, after: float | None) -> str | None:
    if after is None:
        return None
    from datetime import datetime, timedelta, timezone

    try:
        start = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except ValueError:
        start = datetime.now(timezone.utc)
    at = (start + timedelta(seconds=math.ceil(after))).astimezone(timezone.utc).replace(microsecond=0)
    return at.isoformat().replace("+00:00", "Z")
