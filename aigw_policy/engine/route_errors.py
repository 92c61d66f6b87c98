"""How a routed request's failures are told: the error body in the client's provider shape
with ngrok's code (ERR_NGROK_38xx), and ``actions.ngrok.ai_gateway`` in ngrok's
debugging-trace shape (``guides/debugging``) for the rules after ``on_error: continue``.

Nothing secret is in either: keys are named by their id (``api_keys[].id`` or a short hash
of the text as written), never by value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ..providers.error_shapes import native_error
from .error_wait import body_wait, error_object
from ..redact import account_ids
from ..routing.compile import key_id_of
from ..routing.rewrite import CREDENTIAL_HEADERS, attempt_url, is_google

__all__ = ["AIGW_FIELDS", "ALL_FAILED", "CONNECT", "MALFORMED", "NO_API_KEY", "NO_API_KEY_MESSAGE", "NO_KEY", "TIMEOUT",
           "UPSTREAM_MALFORMED", "ai_gateway_result", "all_failed", "attempt_said", "error_body", "publish_trace", "upstream_wait"]

#: The keys of the ``aigw`` object every gateway answer carries (SPEC section 14), always all
#: present (``None`` when they do not apply), so a client reads them without guessing.
AIGW_FIELDS = ("code", "rule", "limit", "key", "reason", "retry_after", "resets_at", "decision_id", "hint")
CONNECT = "ERR_NGROK_3800"
"""Could not reach the AI provider (a connection error that does not fail over)."""
MALFORMED = "malformed"
"""An attempt whose answer came but cannot be the API's (``AttemptOutcome.error`` and the
``failover_on`` term; :mod:`aigw_policy.gateway.malformed` judges such answers)."""
UPSTREAM_MALFORMED = "upstream_malformed"
"""The code of a malformed answer that does not fail over (502; ngrok has none of its own)."""
NO_API_KEY = "ERR_NGROK_3802"
"""No API key found (400): no candidate could be sent, each for want of a key (ngrok's
message, :data:`NO_API_KEY_MESSAGE`)."""
NO_API_KEY_MESSAGE = ("No API key found. Check your SDK / AI Gateway configuration, or add API keys to your "
                      "AI Gateway.")
NO_KEY = "no API key"
"""How a candidate skipped for want of a key begins its ``skipped_because``: a built-in
provider with no ``api_keys`` configured, and a request that carries no credential of the
client's own (none sent, or the gateway's key, which never goes upstream)."""
ALL_FAILED = "ERR_NGROK_3807"
"""All providers failed (503)."""
TIMEOUT = "ERR_NGROK_3810"
"""The request timed out (504: ``total_timeout``)."""

_HINTS = {CONNECT: "the provider could not be reached; retry later",
          NO_API_KEY: "the route has no key for this request's providers; the operator adds api_keys to them",
          ALL_FAILED: "every candidate provider failed; retry later",
          TIMEOUT: "the request took longer than the route's total_timeout; retry, or ask for less",
          UPSTREAM_MALFORMED: "the provider answered something no client can read (a proxy's page, a cut body); "
                              "retry later"}

_TYPES = {400: "invalid_request_error", 403: "permission_error", 404: "not_found_error",
          413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
          503: "overloaded_error", 504: "timeout_error"}
_TYPED_BY_CODE = frozenset({"provider_not_allowed", "model_not_allowed"})
_GOOGLE = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 413: "INVALID_ARGUMENT",
           422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
           504: "DEADLINE_EXCEEDED"}


def error_body(api: str, status: int, code: str, message: str, request_id: str | None,
               rule: str | None) -> dict[str, Any]:
    """The JSON error of API format ``api`` (openai, anthropic, gemini; bedrock, cohere, ollama:
    :func:`~aigw_policy.providers.error_shapes.native_error`) carrying ngrok's
    ``code``; ``aigw`` repeats the code, rule and decision id (SDKs ignore unknown keys)."""
    extra: dict[str, Any] = dict.fromkeys(AIGW_FIELDS)
    extra.update(decision_id=request_id, rule=rule, reason=message, code=code,
                 hint=_HINTS.get(code, "the route refused this request; the reason says why"))
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    native = native_error(api, status, f"{code}: {message}", request_id, extra)
    if native is not None:
        return native
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": f"{code}: {message}"},
                "request_id": request_id, "aigw": extra}
    if api == "gemini":
        return {"error": {"code": status, "message": f"{code}: {message}",
                          "status": _GOOGLE.get(status, "FAILED_PRECONDITION" if status < 500 else "INTERNAL")},
                "aigw": extra}
    # ngrok's restricting-access guide gives these two refusals their code as the type
    kind = code if code in _TYPED_BY_CODE else kind
    return {"error": {"message": message, "type": kind, "param": None, "code": code, "aigw": extra},
            "aigw": extra}


SAID_CHARS = 200
"""Characters of one attempt's error message kept in an all-failed answer."""
LISTED = 5
"""Failed attempts an all-failed answer lists (the rest are counted)."""
SDK_RETRIES = frozenset({408, 409, 429})
"""The statuses below 500 the OpenAI and Anthropic SDKs retry (and every 5xx)."""


def attempt_said(outcome: Any, base_url: str | None = None) -> str:
    """A failed attempt in a few words: ``timeout`` / ``connect``, else its status and the
    error message its answer carried (``error.message`` in every provider's shape, or a bare
    ``message``, or a text body), on one line, printable, at most :data:`SAID_CHARS`, without
    the provider account's ids it may quote (:func:`~aigw_policy.redact.account_ids`) nor the
    addresses of the deployment (:func:`addresses`: a private one's proxy names its hosts,
    "upstream connect error ... http://10.0.0.7:8000"), ``base_url``'s host included."""
    body = error_object(outcome.body)
    if outcome.error is not None:  # a malformed answer says what it was (Router.send's words)
        what = body.get("error", {}).get("message") if outcome.error == MALFORMED and isinstance(body, Mapping) \
            else None
        return f"{outcome.error} ({what})" if isinstance(what, str) else str(outcome.error)
    message: Any = None
    if isinstance(body, Mapping):
        error = body.get("error")
        message = error.get("message") if isinstance(error, Mapping) else error
        if message is None:
            message = body.get("message")
    elif isinstance(body, str):
        message = body
    said = str(outcome.status_code)
    if isinstance(message, str):
        if message.lstrip()[:1] == "<":  # a proxy's HTML page: its text
            message = _TAG.sub(" ", message)
        # the client's message: without the ids of the account the gateway's key belongs to
        text = addresses(account_ids("".join(ch for ch in " ".join(message.split()) if ch.isprintable())),
                         base_url)
        if text:
            said += " " + (text[:SAID_CHARS] + "..." if len(text) > SAID_CHARS else text)
    return said


_TAG = re.compile(r"<[^>]{0,2000}>")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>()]+")
_IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b|\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?")


_HOST = re.compile(r"(?<![\w.@/-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z][A-Za-z0-9-]{0,62}))"
                   r"(:\d{1,5})?(?![\w-])|(?<![\w.-])(?:localhost(?::\d{1,5})?|[A-Za-z][A-Za-z0-9-]*:\d{2,5})(?![\w.-])",
                   re.IGNORECASE)
_SUFFIXES = frozenset((
    # public top-level domains a deployment's hosts are under
    "com", "net", "org", "io", "ai", "dev", "app", "cloud", "co", "us", "uk", "de", "fr", "eu", "nl", "ch", "se",
    "jp", "cn", "ru", "info", "biz", "xyz", "tech", "online", "site", "sh", "me", "run", "services",
    # the suffixes of private networks and clusters (RFC 6762, 6761, 8375; Kubernetes, common practice)
    "local", "localdomain", "localhost", "internal", "intranet", "corp", "lan", "home", "arpa", "svc", "cluster",
    "private", "prod", "staging", "stage", "test", "example", "invalid", "priv", "intra", "consul", "vpc",
))


def _host(m: re.Match[str]) -> str:
    """``***`` for what names a host: ``localhost``, a name with a port (``backend-7:8443``); a dotted name with a port, under a known
    suffix, or of three labels or more none of them a number (``vllm-3.prod.acme-internal``);
    else the text as it was (``e.g.``, ``messages.0.content``, ``gpt-4.1``)."""
    if m.group(1) is None or m.group(3) or m.group(2).lower() in _SUFFIXES:
        return "***"
    labels = m.group(1).split(".")
    return "***" if len(labels) >= 3 and not any(label.isdigit() for label in labels) else m.group(0)


def addresses(text: str, base_url: str | None = None) -> str:
    """``text`` without the network addresses it names: URLs, IP literals (``host:port`` too),
    the host of ``base_url``, and any other host name (:func:`_host`: a DNS error's, a proxy's
    page's), each ``***``.

    >>> addresses("upstream connect error: http://vllm-3.corp:8000/v1 (10.0.0.7:8000) at vllm-3.corp",
    ...           "http://vllm-3.corp:8000/v1")
    'upstream connect error: *** (***) at ***'
    >>> addresses("dial tcp: lookup vllm-3.prod.acme-internal on dns.lan: no such host; see e.g. messages.0.content")
    'dial tcp: lookup *** on ***: no such host; see e.g. messages.0.content'
    """
    text = _HOST.sub(_host, _IP.sub("***", _URL.sub("***", text)))
    host = urlsplit(base_url).hostname if base_url else None
    if host and len(host) > 3:
        text = re.sub(re.escape(host), "***", text, flags=re.IGNORECASE)
    return text


def all_failed(attempts: list[dict[str, Any]], said: list[str],
               told: list[str | None] | None = None) -> tuple[str, str, bool]:
    """A route whose every attempt failed: the reason (the decision's, the ledger's and the
    log's: each attempt's provider, model, key id and status or error), the client's message
    (each attempt's provider, model and what its answer said: ngrok's "errors are listed in the
    response"; an upstream's error message may quote the request, which the logs never hold;
    never the key's id, a name of the operator's that a gateway key's holder has no use for),
    and whether a retry of the whole request
    can help: not when every attempt was refused for the request itself (a 4xx the SDKs do not
    retry: a bad request, a key the provider refuses), which the SDKs would send twice more,
    each time through every provider, to the same end. ``told``: each attempt's
    ``x-should-retry`` as its upstream said it (None: not said), which decides for that attempt
    as it decides for the SDKs (``false``: a quota the wait of a retry does not restore)."""
    n = len(attempts)
    more = f"; and {n - LISTED} more" if n > LISTED else ""
    head = f"All providers failed: {n} attempt{'s' if n != 1 else ''} made, none succeeded: "
    models = [f"{a['provider']}:{a['model']}" for a in attempts[:LISTED]]
    keys = [f" (key {a['key_id']})" if a.get("key_id") else "" for a in attempts[:LISTED]]
    reason = head + "; ".join(f"{m}{k}: {s.split(' ', 1)[0]}" for m, k, s in zip(models, keys, said)) + more
    message = head + "; ".join(f"{m}: {s}" for m, s in zip(models, said)) + more
    told = told or []
    retry = any(_retryable(a, told[i] if i < len(told) else None) for i, a in enumerate(attempts))
    return reason, message, retry


def _retryable(attempt: Mapping[str, Any], told: str | None) -> bool:
    """Whether the SDKs retry what ``attempt``'s upstream answered: its ``x-should-retry``
    when it says ``true`` or ``false``, else no answer, a 408, 409, 429 or 5xx (the SDKs' rule)."""
    said = (told or "").strip().lower()
    if said in ("true", "false"):
        return said == "true"
    return (attempt.get("error") is not None or (attempt.get("status_code") or 0) >= 500
            or attempt.get("status_code") in SDK_RETRIES)


def upstream_wait(headers: Mapping[str, str], now: datetime, body: Any = None) -> float | None:
    """Seconds a failed attempt's answer asked to wait before a retry: OpenAI's
    ``retry-after-ms``, else ``retry-after`` (seconds, or an HTTP date after ``now``), else
    what its error ``body`` says (Google's ``RetryInfo``, :mod:`.error_wait`); None when it
    says nothing readable.

    >>> from datetime import timezone
    >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> upstream_wait({"retry-after": "7"}, now), upstream_wait({"retry-after-ms": "1500"}, now)
    (7.0, 1.5)
    >>> upstream_wait({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, now), upstream_wait({}, now)
    (30.0, None)
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        seconds = _number(ms)
        if seconds is not None:
            return seconds / 1000
    text = headers.get("retry-after")
    if text is None:
        return body_wait(body)
    seconds = _number(text)
    if seconds is not None:
        return seconds
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return body_wait(body)
    if at.tzinfo is None:
        return body_wait(body)
    return max(0.0, (at - now).total_seconds())


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0 <= value < 1e9 else None  # not nan, inf, negative nor absurd


def publish_trace(flow: Any, run: Any) -> None:
    """Set ``actions.ngrok.ai_gateway`` to :func:`ai_gateway_result` when some text of the
    policy reads ``actions`` (``cp.reads_actions``); else nothing reads it, and its ~50 fields
    (each strategy's returned models among them: hundreds with a catalog) are not built."""
    if flow.cp.reads_actions:
        flow.act["actions"].setdefault("ngrok", {})["ai_gateway"] = ai_gateway_result(flow, run)


def ai_gateway_result(flow: Any, run: Any) -> dict[str, Any]:
    """``actions.ngrok.ai_gateway`` (ngrok's debugging trace) of a route so far, every field
    of ngrok's schema present and of the type it documents (a string is ``""``, never null; a
    latency whole milliseconds), ``error`` only after a failure, ``success`` only after one.
    ``gateway_latency_ms`` is 0: the gateway's own time per request is not measured (its
    attempts' times are, in ``upstream_latency``)."""
    ai = flow.act.get("ai") or {}
    plan = run.plan
    served = run.served
    out: dict[str, Any] = {
        "status": "success" if served is not None else "error" if run.error is not None else "pending",
        "client": _client(flow.act, ai, flow.ai.models, run),
        "input_ngrok_tokens": ai.get("input_tokens", 0),
        "output_ngrok_tokens": _output_tokens(run),
        "gateway_latency_ms": 0,
        "model_selection": _model_selection(plan),
    }
    # an attempt without a key of the route's went with the client's own (ngrok's passthrough)
    out["models_tried"] = _models_tried(run, flow.act.get("req.url.path"), out["client"]["api_key_hash"])
    if run.error is not None:
        _status, code, message = run.error
        out["error"] = {"code": code, "message": message}
    if served is not None:
        tried = out["models_tried"]
        pair = (served["provider"], served["model"])
        # the last entry of the pair: a model may come twice, when a cooling key of it was put last
        index = next(i for i in range(len(tried) - 1, -1, -1) if (tried[i]["provider"], tried[i]["model"]) == pair)
        out["success"] = {"model_index": index, "request_index": len(tried[index]["requests_made"]) - 1,
                          "model": served["model"], "provider": served["provider"], "author": tried[index]["author"]}
    return out


_NOT_SHOWN = CREDENTIAL_HEADERS | {"cookie", "proxy-authorization"}
"""Request headers the trace leaves out of ``client.request_headers``: the credentials."""


def _client(act: Mapping[str, Any], ai: Mapping[str, Any], models: tuple[str, ...], run: Any) -> dict[str, Any]:
    """The client's request: its headers without credentials, its body's ``model`` and
    ``models`` fields each as sent (ngrok's example: ``model`` is not repeated in ``models``),
    the key it sent as a short hash (ngrok shows a trimmed key; a hash says which key without
    any of its text), and each model it named that will not be tried, once, by the name it
    resolved to (``provider:model``; a name nothing knows as written)."""
    headers = act.get("req.headers")
    headers = headers if isinstance(headers, Mapping) else {}
    agent = headers.get("user-agent") or [""]
    sent = next((v[0] for name in CREDENTIAL_HEADERS if (v := headers.get(name))), "")
    if not sent and isinstance(query := act.get("req.url.query_params"), Mapping) and (key := query.get("key")):
        sent = key[0] if isinstance(key, (list, tuple)) else str(key)  # Gemini's `?key=`, as the route passes it on
    sent = sent[7:] if sent[:7].lower() == "bearer " else sent
    return {"method": act.get("req.method", ""), "path": act.get("req.url.path", ""),
            "request_headers": {k: list(v) for k, v in headers.items() if k not in _NOT_SHOWN},
            "user_agent": agent[0], "model": ai.get("model", ""), "models": list(models),
            "api_key_hash": key_id_of(sent) if sent else "",
            "rejected_models": [{"model": name, "reason": why} for name, why in dict.fromkeys(
                (f"{t.candidate.provider}:{t.candidate.model}" if t.candidate.provider else t.candidate.model, t.skip)
                for t in run.tries if t.skip is not None)]}


def _output_tokens(run: Any) -> int:
    usage = next((a.get("usage") for a in reversed(run.attempts) if a.get("usage")), None) or {}
    tokens = usage.get("output_tokens", 0)
    return tokens if type(tokens) is int else 0


def _model_selection(plan: Any) -> list[dict[str, Any]]:
    """One entry per model strategy run: the models it returned (as kept: the allowed ones),
    those the client named among them, and, for the strategy that chose, the models to try."""
    named = {n.lower() for n in plan.requested} - {"ngrok/auto"}
    strategies = [s for s in plan.strategies if s.what == "AIModel"]
    chose = next((i for i in range(len(strategies) - 1, -1, -1)
                  if strategies[i].refs and strategies[i].error is None), None)
    to_try = list(dict.fromkeys(c.model for c in plan.candidates if c.skipped_because is None))
    out = []
    for i, s in enumerate(strategies):
        returned = list(dict.fromkeys(model for _provider, model in s.refs))
        wanted = [m for m in returned if m.lower() in named] if named else returned
        out.append({"strategy": s.source, "error": s.error or "", "candidates_returned": returned,
                    "candidates_after_allowed_filter": returned, "candidates_after_client_filter": wanted,
                    "models_to_try": to_try if i == chose else []})
    return out


def _ms(value: Any) -> int:
    """A latency as ngrok's trace gives it: whole milliseconds (0 for one not measured: a
    connection that failed before a first byte)."""
    return round(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _models_tried(run: Any, path: Any, client_key: str) -> list[dict[str, Any]]:
    route = run.route
    keys = [s for s in run.plan.strategies if s.what == "AIKey"]
    tried: list[dict[str, Any]] = []
    for n, a in enumerate(run.attempts):
        pid, model = a["provider"], a["model"]
        if not tried or (tried[-1]["provider"], tried[-1]["model"]) != (pid, model):
            info = route.model(pid, model)
            chosen = [c.key_id for c in run.plan.candidates if (c.provider, c.model) == (pid, model) and c.key_id]
            tried.append({"model": model, "provider": pid, "author": (info.author_id or "") if info else "",
                          "api_key_selection": [{"strategy": s.source, "error": s.error or "", "keys_to_try": chosen}
                                                for s in keys if any(p == pid for p, _k in s.refs) or s.error]
                          or [{"strategy": "ai.keys", "error": "", "keys_to_try": chosen}],
                          "requests_made": []})
        usage = a.get("usage") or {}
        answer = run.answers[n] if n < len(run.answers) else {}
        failed = a.get("error") is not None or (a.get("status_code") or 0) >= 400
        provider = route.provider(pid)
        base = provider.base_url
        tried[-1]["requests_made"].append({
            "status": "error" if failed else "success",
            "error": a.get("error") or (f"status {a['status_code']}" if failed else ""),
            "upstream_input_tokens": usage.get("input_tokens", 0),
            "upstream_output_tokens": usage.get("output_tokens", 0),
            "request": {"url": attempt_url(base, run.plan.format, path, model, google=is_google(provider))
                        if base and isinstance(path, str) else "",
                        "api_key": a.get("key_id") or client_key},
            "response": {"status_code": answer.get("status") or a.get("status_code") or 0, "headers": answer.get("headers") or {},
                         "body_on_error": (answer.get("said") or "") if failed else ""},
            "upstream_latency": {"time_to_first_byte_ms": _ms(answer.get("ttfb_ms")),
                                 "total_ms": _ms(a.get("latency_ms"))},
        })
    return tried
