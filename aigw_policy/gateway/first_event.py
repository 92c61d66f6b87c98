"""How a routed stream is judged before it is served (SPEC §12): on its first event, not its
first byte.

:func:`opening` reads a stream up to the end of its first event, within the attempt's time:
keep-alives before it (SSE comments, ``: keep-alive`` or OpenRouter's ``: OPENROUTER
PROCESSING``, and blank lines; in NDJSON or a JSON array, blank lines) are read on, in every
framing the gateway reads (SSE, NDJSON, Gemini's JSON array, AWS's event stream). So a
stream that only kept alive and then dies or goes quiet has failed (nothing of it reached the
client), and the next candidate serves. :func:`stream_error` reads that first event: a
provider that answers 200 and then says it failed (Anthropic's ``event: error`` with
``overloaded_error``, which its docs warn of; OpenAI's and Gemini's ``data: {"error": ...}``;
an NDJSON line or a JSON array's first element ``{"error": ...}``; an event-stream
``exception`` message) has failed with the status its error type means, so the failover rules judge it as they
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
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from ..providers.eventstream import EventStreamParser
from ..providers.framing import JSONArrayParser, NDJSONParser, SSEParser
from ..providers.parsed_json import MISSING, keep, kept
from .captured import EVENT_STREAM

__all__ = ["MAX_OPENING", "NOT_JSON", "error_status", "first_said", "framing_of", "opening", "says_nothing", "sse_events",
           "stream_error"]

_OPENING_EVENTS = ("message_start", "ping", "response.created", "response.in_progress", "messageStart",
                   "message-start", "stream-start")
"""Anthropic's, the Responses API's, Bedrock Converse's and Cohere's (v2 ``message-start``, v1
``stream-start``) opening events, read on (the module's docstring)."""

MAX_OPENING = 64 * 1024
"""Bytes a stream may take to finish its first event (keep-alives included) before it is
judged started all the same."""

# the providers' error types (Anthropic's, OpenAI's) as the HTTP status they answer them with
_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
           "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "rate_limit_exceeded": 429,
           "insufficient_quota": 429, "overloaded_error": 529, "api_error": 500, "server_error": 500,
           # Bedrock's stream exceptions (an event-stream message of type `exception`)
           "throttlingException": 429, "serviceUnavailableException": 503, "internalServerException": 500,
           "modelStreamErrorException": 500, "validationException": 400, "modelTimeoutException": 408,
           "accessDeniedException": 403, "resourceNotFoundException": 404, "modelNotReadyException": 429,
           # Gemini's statuses (`{"error": {"status": "UNAVAILABLE"}}` without a numeric code)
           "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503, "INTERNAL": 500, "DEADLINE_EXCEEDED": 504}


async def opening(chunks: AsyncIterator[bytes], framing: str) -> bytes:
    """``chunks`` read up to the one that ends the stream's first event in its ``framing``
    (:func:`framing_of`: ``sse``, an SSE event up to its blank line; ``ndjson``, a line;
    ``array``, an element of a JSON array; ``eventstream``, an AWS event-stream message), or to
    the stream's end, or past :data:`MAX_OPENING` bytes. Keep-alives and the opening events
    that say nothing (:data:`_OPENING_EVENTS`) are read on."""
    if framing != "sse":
        return await _parsed_opening(chunks, framing)
    buf = bytearray()
    line = 0  # where the unfinished line starts: every line before it is a keep-alive
    looked = 0  # bytes already searched (for that line's end, then for the first event's end)
    first = -1  # where the first event starts, once seen
    async for chunk in chunks:
        buf += chunk
        while True:
            while first < 0 and (end := buf.find(b"\n", looked)) >= 0:
                if _idle(buf[line:end]):
                    line = looked = end + 1
                else:
                    first = line
            if first < 0 and not _idle(buf[line:line + 2]):
                first = looked = line
            end = _ended(buf, max(first, looked - 3)) if first >= 0 else -1
            if end >= 0 and buf.startswith(_PREAMBLE, first):  # Anthropic's opening: read on
                first, line = -1, end
                looked = end
                continue
            break
        if end >= 0 or len(buf) > MAX_OPENING:
            return bytes(buf)
        looked = len(buf)
    return bytes(buf)


async def _parsed_opening(chunks: AsyncIterator[bytes], framing: str) -> bytes:
    """:func:`opening` of a framing its parser reads (NDJSON, a JSON array, AWS's event stream)."""
    buf = bytearray()
    parser = _parser(framing)
    async for chunk in chunks:
        buf += chunk
        events = parser.feed(chunk)
        if any(not says_nothing(name, data) for name, data in events) or parser.dropped or len(buf) > MAX_OPENING:
            break
    return bytes(buf)


def framing_of(ctype: str) -> str:
    """A streamed answer's framing by its (lower-case) Content-Type: ``sse``, ``eventstream``
    (Bedrock's), ``array`` (Gemini's stream without ``alt=sse``, ``application/json``) or
    ``ndjson`` (Ollama's, Cohere v1's).

    >>> framing_of("text/event-stream"), framing_of("application/x-ndjson"), framing_of("application/json")
    ('sse', 'ndjson', 'array')
    """
    if "event-stream" in ctype:
        return "sse"
    if EVENT_STREAM in ctype:
        return "eventstream"
    return "array" if "application/json" in ctype else "ndjson"


def _parser(framing: str) -> Any:
    if framing == "eventstream":
        return EventStreamParser()
    return JSONArrayParser() if framing == "array" else NDJSONParser()


def says_nothing(name: str, data: str) -> bool:
    """Whether a parsed event is an opening one (Anthropic's ``message_start`` inside Bedrock's
    InvokeModel stream, Bedrock's ``messageStart``): read on as SSE's are."""
    return _said(name, data) is _NOTHING


NOT_JSON = object()
"""What :func:`first_said` gives as the data of an event that is not JSON."""

_NOTHING = object()


def _said(name: str, data: str) -> Any:
    """What an event says: ``_NOTHING`` for an opening one, else its data as JSON
    (:data:`NOT_JSON` when it is not)."""
    if name in _OPENING_EVENTS:
        return _NOTHING
    obj = kept(data)
    if obj is MISSING:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return NOT_JSON
        keep(data, obj)  # the relay's check and the usage read parse the same event again
    if isinstance(obj, dict) and (obj.get("type") in _OPENING_EVENTS or obj.get("event_type") in _OPENING_EVENTS):
        return _NOTHING
    return obj


def first_said(events: Iterable[tuple[str, str]]) -> tuple[str, str, Any] | None:
    """The first of ``events`` (name, data) that is no opening one (:func:`says_nothing`): its
    name, data and data read as JSON (:data:`NOT_JSON` when it is not), each event's data
    parsed once and none after it; None when every one is an opening one."""
    for name, data in events:
        obj = _said(name, data)
        if obj is not _NOTHING:
            return name, data, obj
    return None


_BLANK_LINE = re.compile(rb"\n\n")


def sse_events(prefix: bytes) -> Iterator[tuple[str, str]]:
    """The SSE events of ``prefix`` (as one :class:`~aigw_policy.providers.framing.SSEParser`
    feed of it gives them), parsed one at a time as they are asked for: the first event of a
    stream read whole does not cost the parse of every event after it."""
    parser = SSEParser()
    start = 0
    for blank in _BLANK_LINE.finditer(prefix):
        yield from parser.feed(prefix[start:blank.end()])
        start = blank.end()
    yield from parser.feed(prefix[start:])


_PREAMBLE = tuple(b"event:" + space + name.encode() + end for name in _OPENING_EVENTS for space in (b" ", b"")
                  for end in (b"\n", b"\r\n"))
"""The first lines of the opening events, which say nothing the client shows (the event name
whole: ``response.created`` is one, ``response.created_x`` would not be)."""


def _idle(line: bytearray) -> bool:
    """Whether an SSE line (or the start of an unfinished one) is a keep-alive."""
    return line in (b"", b"\r") or line[:1] == b":"


def _ended(buf: bytearray, start: int) -> int:
    """Where the first SSE event ends in ``buf`` (searched from ``start``), -1 while it is not
    whole (at its blank line)."""
    ends = [i + n for i, n in ((buf.find(b"\n\n", start), 2), (buf.find(b"\r\n\r\n", start), 4)) if i >= 0]
    return min(ends) if ends else -1


def stream_error(prefix: bytes, framing: str = "sse") -> tuple[int, Any] | None:
    """The status a stream's events held before it is served (``prefix``, in its ``framing``,
    :func:`framing_of`: its first event of content, and whatever came with it in the same
    reads) say it failed with, the first error among them, and that event's data; None when
    none is an error (events that are not whole or not JSON are no error here). An error after
    the first event of content fails the attempt too: nothing of the stream went out yet
    (route23; before, only the first event was read and the client got the words before the
    error, then the error).
    An NDJSON line or a JSON array's element with an ``error`` (Ollama's ``{"error": "..."}``,
    Cohere v1's ``stream-end`` with ``finish_reason: ERROR``, Gemini's ``{"error": {"code":
    503}}``) is one; an event-stream message of type ``exception`` is one, its status by the
    exception's name.

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
    >>> stream_error(b'data: {"choices":[{"delta":{"content":"hi"}}]}\\n\\ndata: {"error":{"code":503}}\\n\\n')[0]
    503
    >>> stream_error(b'{"error":"model is overloaded"}\\n', "ndjson")[0], stream_error(b'[{"error":{"code":503}}]', "array")[0]
    (500, 503)
    """
    events: Iterable[tuple[str, str]]
    if framing == "sse":
        if b"error" not in prefix and b"failed" not in prefix:  # no event says one (_event_error's words)
            return None
        events = sse_events(prefix)  # (read as far as the first error)
    else:
        parser = _parser(framing)
        events = parser.feed(prefix) + parser.finish()
    for name, data in events:
        if (failed := _event_error(name, data, framing)) is not None:
            return failed
    return None


def _event_error(name: str, data: str, framing: str) -> tuple[int, Any] | None:
    """The status one parsed event says its stream failed with, and its data (the caller's own
    parse: one kept for the relay and the usage read is only read); None when it is no error,
    or an opening one (:func:`says_nothing`)."""
    if "error" not in data and "error" not in name and "failed" not in data:  # most events: no parse
        return None
    if says_nothing(name, data):
        return None
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
    elif framing != "sse" and isinstance(error, str) and error:  # Ollama's, Cohere v1's: a message
        return 500, obj
    elif name != "error" and obj.get("type") != "error" and not isinstance(error, dict):
        return None
    return error_status(obj, error), obj


def error_status(obj: dict[str, Any], error: Any = None) -> int:
    """The HTTP status an error object (a stream's event, a whole answer) means: its ``error``'s
    (or ``error``, given) numeric ``code`` (a number, or three ASCII digits as text: LiteLLM's
    proxy writes ``"429"``), else its code or type or Gemini's ``status`` as a word the providers
    answer with a status (:data:`_STATUS`), else 500.

    >>> error_status({"error": {"code": 503}}), error_status({"error": {"type": "rate_limit_error"}}), error_status({"error": "x"})
    (503, 429, 500)
    >>> error_status({"error": {"code": "429"}}), error_status({"error": {"code": "200"}}), error_status({"error": {"code": "٤٢٩"}})
    (429, 500, 500)
    """
    error = obj.get("error") if error is None else error
    error = error if isinstance(error, dict) else obj
    code = error.get("code")
    if type(code) is str and len(code) == 3 and code.isascii() and code.isdigit():  # LiteLLM's (and its followers'): `"429"`
        code = int(code)
    if type(code) is int and 400 <= code <= 599:
        return code
    if isinstance(code, str) and code in _STATUS:  # the Responses API's error codes are words
        return _STATUS[code]
    kind = error.get("type") or error.get("status")
    return _STATUS.get(kind, 500) if isinstance(kind, str) else 500
