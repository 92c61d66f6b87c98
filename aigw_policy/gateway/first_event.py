"""How a routed stream is judged before it is served (SPEC §12): on its first event, not its
first byte.

:func:`opening` reads a stream up to the end of its first event, within the attempt's time:
keep-alives before it (SSE comments, ``: keep-alive`` or OpenRouter's ``: OPENROUTER
PROCESSING``, and blank lines; in NDJSON or a JSON array, blank lines) are read on. So a
stream that only kept alive and then dies or goes quiet has failed (nothing of it reached the
client), and the next candidate serves. :func:`stream_error` reads that first event: a
provider that answers 200 and then says it failed (Anthropic's ``event: error`` with
``overloaded_error``, which its docs warn of; OpenAI's and Gemini's ``data: {"error": ...}``)
has failed with the status its error type means, so the failover rules judge it as they
judge that status.

An Anthropic stream's opening events say nothing the client shows: ``message_start`` (the
message's id, model and input tokens) and ``ping``; nor do a Responses API stream's
``response.created`` and ``response.in_progress`` (the response's id and ``in_progress``
status, no output), whose failure comes next as ``response.failed`` (or an ``error`` event). Anthropic's overloaded or rate-limited
error comes as the next event (its docs' example: ``message_start``, then ``event: error``), so
those two are read on as keep-alives are: the stream is judged on its first event of content
(``content_block_start``, ...) or error, and a stream whose error follows its
``message_start`` fails over too (nothing of it reached the client). An error after content
is served as it came (bytes are out; the SDK raises on it) and the ledger charges the stream
once, as served.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ..providers.framing import SSEParser

__all__ = ["MAX_OPENING", "opening", "stream_error"]

_OPENING_EVENTS = ("message_start", "ping", "response.created", "response.in_progress")
"""Anthropic's and the Responses API's opening events, read on (the module's docstring)."""

MAX_OPENING = 64 * 1024
"""Bytes a stream may take to finish its first event (keep-alives included) before it is
judged started all the same."""

# the providers' error types (Anthropic's, OpenAI's) as the HTTP status they answer them with
_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
           "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "rate_limit_exceeded": 429,
           "insufficient_quota": 429, "overloaded_error": 529, "api_error": 500, "server_error": 500}


async def opening(chunks: AsyncIterator[bytes], sse: bool) -> bytes:
    """``chunks`` read up to the one that ends the stream's first event (``sse``: an SSE event
    up to its blank line; else the first byte that is no blank line), or to the stream's end,
    or past :data:`MAX_OPENING` bytes."""
    buf = bytearray()
    line = 0  # where the unfinished line starts: every line before it is a keep-alive
    looked = 0  # bytes already searched (for that line's end, then for the first event's end)
    first = -1  # where the first event starts, once seen
    async for chunk in chunks:
        buf += chunk
        while True:
            while first < 0 and (end := buf.find(b"\n", looked)) >= 0:
                if _idle(buf[line:end], sse):
                    line = looked = end + 1
                else:
                    first = line
            if first < 0 and not _idle(buf[line:line + 2], sse):
                first = looked = line
            end = _ended(buf, max(first, looked - 3), sse) if first >= 0 else -1
            if end >= 0 and sse and buf.startswith(_PREAMBLE, first):  # Anthropic's opening: read on
                first, line = -1, end
                looked = end
                continue
            break
        if end >= 0 or len(buf) > MAX_OPENING:
            return bytes(buf)
        looked = len(buf)
    return bytes(buf)


_PREAMBLE = tuple(b"event:" + space + name.encode() + end for name in _OPENING_EVENTS for space in (b" ", b"")
                  for end in (b"\n", b"\r\n"))
"""The first lines of the opening events, which say nothing the client shows (the event name
whole: ``response.created`` is one, ``response.created_x`` would not be)."""


def _idle(line: bytearray, sse: bool) -> bool:
    """Whether a line (or the start of an unfinished one) is a keep-alive."""
    return line in (b"", b"\r") or (sse and line[:1] == b":")


def _ended(buf: bytearray, start: int, sse: bool) -> int:
    """Where the first event ends in ``buf`` (searched from ``start``), -1 while it is not
    whole: an SSE event at its blank line; any other stream (NDJSON, a JSON array) at its
    first byte of content, since the end of its objects need not be a line's."""
    if not sse:
        return start
    ends = [i + n for i, n in ((buf.find(b"\n\n", start), 2), (buf.find(b"\r\n\r\n", start), 4)) if i >= 0]
    return min(ends) if ends else -1


def stream_error(prefix: bytes) -> tuple[int, Any] | None:
    """The status a stream's first event says it failed with, and that event's data; None
    when it is no error (or not a whole SSE event of JSON).

    >>> stream_error(b'event: error\\ndata: {"type":"error","error":{"type":"overloaded_error"}}\\n\\n')[0]
    529
    >>> stream_error(b'data: {"error":{"code":503,"status":"UNAVAILABLE"}}\\n\\n')[0]
    503
    >>> stream_error(b'data: {"choices":[{"delta":{"content":"hi"}}]}\\n\\n') is None
    True
    >>> stream_error(b'event: message_start\\ndata: {"type":"message_start"}\\n\\nevent: error\\n'
    ...              b'data: {"type":"error","error":{"type":"overloaded_error"}}\\n\\n')[0]
    529
    >>> stream_error(b'event: response.created\\ndata: {"type":"response.created"}\\n\\nevent: response.failed\\n'
    ...              b'data: {"type":"response.failed","response":{"error":{"code":"server_error"}}}\\n\\n')[0]
    500
    """
    events = [e for e in SSEParser().feed(prefix) if e[0] not in _OPENING_EVENTS]
    if not events:
        return None
    name, data = events[0]
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    error = obj.get("error")
    if name == "response.failed" or obj.get("type") == "response.failed":  # the Responses API's
        response = obj.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        error = error if isinstance(error, dict) else {}
    elif name != "error" and obj.get("type") != "error" and not isinstance(error, dict):
        return None
    error = error if isinstance(error, dict) else obj
    code = error.get("code")
    if type(code) is int and 400 <= code <= 599:
        return code, obj
    if isinstance(code, str) and code in _STATUS:  # the Responses API's error codes are words
        return _STATUS[code], obj
    kind = error.get("type")
    return _STATUS.get(kind, 500) if isinstance(kind, str) else 500, obj
