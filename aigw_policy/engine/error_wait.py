"""What a failed attempt's error *body* says, where a provider says it there and not in a header.

Google's APIs (Gemini's native API, Vertex AI, and Google's OpenAI-compatible endpoint) say
when to come back in the body of a 429 (``RESOURCE_EXHAUSTED``): a ``google.rpc.RetryInfo``
among ``error.details``, its ``retryDelay`` a protobuf duration (``"37s"``, ``"0.5s"``), and
send no ``Retry-After``. Google's OpenAI-compatible endpoint wraps that error object in a
one-element list (``[{"error": {...}}]``). Before (route30), both were unread: a Gemini key
answered 429 did not cool down, an all-failed answer of Gemini 429s told the client no
``Retry-After`` (its SDK retried at once), and the list form's message was lost from the
all-failed message (``429`` alone).

>>> error_object([{"error": {"code": 429, "message": "quota"}}])
{'error': {'code': 429, 'message': 'quota'}}
>>> body_wait({"error": {"code": 429, "details": [
...     {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
...     {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37.5s"}]}})
37.5
>>> body_wait({"error": {"message": "no"}}), body_wait("text"), body_wait({"error": {"details": [
...     {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}]}})
(None, None, None)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["body_wait", "error_object"]

_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"\s*(\d{1,9}(?:\.\d{1,9})?)s\s*")  # protobuf Duration's JSON form


def error_object(body: Any) -> Any:
    """``body``, or the one error object Google's OpenAI-compatible endpoint wraps in a list."""
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], Mapping) and "error" in body[0]:
        return body[0]
    return body


def body_wait(body: Any) -> float | None:
    """Seconds an error body asks to wait (Google's ``RetryInfo.retryDelay``), else None."""
    body = error_object(body)
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, Mapping) and detail.get("@type") == _RETRY_INFO:
            found = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
            if found is not None and math.isfinite(seconds := float(found.group(1))):
                return seconds
    return None
