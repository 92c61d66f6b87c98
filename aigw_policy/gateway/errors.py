"""Gateway answers in the provider's own error shape, so that each official SDK raises its
own exception type (``openai.PermissionDeniedError``, ``anthropic.RateLimitError``, ...).

>>> wire_api("/v1/messages", {})
'anthropic'
>>> error_body("openai", 403, "model gpt-4.1 is reserved", rule="premium", decision_id="req-1")["error"]["type"]
'permission_error'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["error_body", "error_response", "wire_api"]

_GEMINI = re.compile(r"(?:/models/[^/]+:[A-Za-z]+$)|(?:^/v1beta/)")

# Anthropic's documented error types; OpenAI's SDK reads only the status, so we reuse them.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
          499: "client_closed_request", 500: "api_error", 502: "api_error", 503: "overloaded_error",
          504: "timeout_error"}
_GOOGLE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_CODES = {401: "invalid_api_key", 403: "policy_denied", 413: "request_too_large", 429: "rate_limit_exceeded",
          502: "upstream_unreachable", 503: "gateway_unavailable", 504: "upstream_timeout"}


def wire_api(path: str, headers: Mapping[str, str]) -> str:
    """The error dialect a client speaks: ``anthropic``, ``gemini`` or ``openai`` (the default),
    from the request path (and Anthropic's ``anthropic-version`` header)."""
    if path.endswith(("/messages", "/messages/count_tokens")) or "anthropic-version" in headers:
        return "anthropic"
    if _GEMINI.search(path):
        return "gemini"
    return "openai"


def _type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def error_body(api: str, status: int, message: str, *, rule: str | None = None,
               decision_id: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The JSON error object of ``api`` for a gateway answer; ``aigw`` carries the rule and
    the decision id (every SDK ignores unknown top-level keys). ``code``: a stable
    machine-readable reason (``invalid_path``, ``body_too_large``, ...), in ``aigw.code``
    and, for OpenAI, in ``error.code``."""
    extra = {"decision_id": decision_id, "rule": rule, "reason": message}
    if code is not None:
        extra["code"] = code
    if api == "anthropic":
        return {"type": "error", "error": {"type": _type(status), "message": message},
                "request_id": decision_id, "aigw": extra}
    if api == "gemini":
        return {"error": {"code": status, "message": message,
                          "status": _GOOGLE.get(status, "FAILED_PRECONDITION" if status < 500 else "INTERNAL")},
                "aigw": extra}
    return {"error": {"message": message, "type": _type(status), "param": None,
                      "code": code or _CODES.get(status, "policy_denied" if status < 500 else "gateway_error")},
            "aigw": extra}


def error_response(api: str, status: int, message: str, *, rule: str | None = None,
                   decision_id: str | None = None, code: str | None = None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Body bytes and headers (content type, length) of a provider-shaped error."""
    body = json.dumps(error_body(api, status, message, rule=rule, decision_id=decision_id, code=code),
                      ensure_ascii=False).encode("utf-8")
    return body, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
