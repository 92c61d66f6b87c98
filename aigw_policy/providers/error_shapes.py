"""The error shapes of the wire formats whose clients read an error their own way: Amazon
Bedrock's (botocore reads the exception's name from ``x-amzn-errortype`` or the body's
``__type``, the text from ``message``), Cohere's (``{"id", "message"}``) and Ollama's native
API (``{"error": "..."}``, which its client raises as ``ResponseError``); and how a stream of
each ends with an error once it is cut. OpenAI's, Anthropic's and Gemini's are written where
the gateway's own answers and the route's are (:mod:`aigw_policy.gateway.errors`,
:mod:`aigw_policy.engine.route_errors`).

>>> native_error("ollama", 401, "unknown key", "req-1", {})
{'error': 'unknown key', 'aigw': {}}
>>> native_error("bedrock", 429, "slow down", "req-1", {})["__type"]
'ThrottlingException'
>>> native_error("openai", 401, "unknown key", "req-1", {}) is None
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .eventstream import encode_message

__all__ = ["NATIVE", "bedrock_exception", "native_error", "native_headers", "native_stream_error"]

NATIVE = frozenset({"bedrock", "cohere", "ollama"})
"""The vendors' native wire formats: those :func:`native_error` shapes, and those a route sends
only to a candidate of that vendor (:mod:`aigw_policy.routing.paths`)."""

_BEDROCK = {400: "ValidationException", 401: "UnrecognizedClientException", 402: "ServiceQuotaExceededException",
            403: "AccessDeniedException", 404: "ResourceNotFoundException", 408: "ModelTimeoutException",
            413: "ValidationException", 422: "ValidationException", 429: "ThrottlingException",
            500: "InternalServerException", 502: "InternalServerException", 503: "ServiceUnavailableException",
            504: "ModelTimeoutException"}


def bedrock_exception(status: int, quota: bool = False) -> str:
    """The Bedrock runtime's exception name for an answer of ``status`` (``quota``: a budget
    spent for its period, not a rate)."""
    if quota:
        return "ServiceQuotaExceededException"
    return _BEDROCK.get(status, "ValidationException" if status < 500 else "InternalServerException")


def native_error(api: str, status: int, message: str, request_id: str | None, extra: Mapping[str, Any],
                 quota: bool = False) -> dict[str, Any] | None:
    """The JSON error body of ``api`` (``bedrock``, ``cohere``, ``ollama``) with the gateway's
    ``aigw`` object (``extra``; every client ignores unknown keys); None for any other API."""
    if api == "bedrock":
        return {"message": message, "__type": bedrock_exception(status, quota), "aigw": extra}
    if api == "cohere":
        return {"id": request_id, "message": message, "aigw": extra}
    if api == "ollama":
        return {"error": message, "aigw": extra}
    return None


def native_headers(api: str, status: int, request_id: str | None, quota: bool = False) -> list[tuple[bytes, bytes]]:
    """The headers an error of ``api`` carries besides its body: Bedrock's exception name and
    request id (where botocore reads them first)."""
    if api != "bedrock":
        return []
    out = [(b"x-amzn-errortype", bedrock_exception(status, quota).encode())]
    if request_id is not None:
        out.append((b"x-amzn-requestid", request_id.encode("latin-1", "replace")))
    return out


def native_stream_error(api: str, message: str, framing: str) -> bytes | None:
    """The event that ends a stream of ``api`` cut after its first byte, in its ``framing``
    (``sse``, ``ndjson`` or ``eventstream``); None when ``api`` is none of these.

    - Bedrock (``converse-stream``, ``invoke-with-response-stream``): an event-stream message
      of type ``exception``, ``internalServerException`` (botocore raises ``EventStreamError``).
    - Cohere: v2's SSE ``message-end`` and v1's NDJSON ``stream-end``, finish reason ``ERROR``.
    - Ollama: a line ``{"error": "..."}`` (its client raises ``ResponseError``).
    """
    if framing == "eventstream" or api == "bedrock":
        return encode_message({":message-type": "exception", ":exception-type": "internalServerException",
                               ":content-type": "application/json"}, json.dumps({"message": message}).encode())
    if api == "cohere":
        if framing == "sse":
            data = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": message}}
            return b"event: message-end\ndata: " + json.dumps(data).encode() + b"\n\n"
        line = {"is_finished": True, "event_type": "stream-end", "finish_reason": "ERROR", "error": message}
        return json.dumps(line).encode() + b"\n"
    if api == "ollama":
        line = json.dumps({"error": message}).encode() + b"\n"
        return b"data: " + line + b"\n" if framing == "sse" else line
    return None
