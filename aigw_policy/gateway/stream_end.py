"""Whether a served stream of a known API (:mod:`.api_shape`) is whole: every event JSON, and
the stream's last event one that ends it (SPEC §12: a short answer never passes for a whole one).

Each API's stream says when it is done: OpenAI's chat completions and completions send
``data: [DONE]`` (after a choice's ``finish_reason``), the Responses API
``response.completed`` / ``.incomplete`` / ``.failed``, Anthropic ``message_stop`` (after a
``message_delta`` with its ``stop_reason``), Gemini a chunk with a candidate's
``finishReason`` (and its JSON array its closing ``]``), Cohere v2 ``message-end``. A stream
that ends cleanly before (the upstream finished its body, or closed a body read to the close)
is a short answer: the SDKs read it as a whole one with no error (the OpenAI SDK ends its
iteration; Anthropic's ``get_final_message()`` returns what came). Judged here by the event
that says the answer is whole, the lenient way: a ``finish_reason`` (``stop_reason``) ends it
as ``[DONE]`` (``message_stop``) does, since the text is whole by then and some
OpenAI-compatible servers send no ``[DONE]``; an error event ends it too (the SDK raises it).

A background response's stream (``response.created`` says ``background: true``) is not judged:
its cut is resumed by the response's id, which the client has (docs/routing.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..providers.framing import JSONArrayParser
from ..providers.parsed_json import MISSING, keep, kept
from ..providers.shapes import Shape, cut, learn
from ..providers.sse import LEARN_AFTER, MAX_SHAPES
from .api_shape import known

__all__ = ["StreamCheck", "not_json", "unfinished"]

_BLANK_LINE = re.compile(rb"\n\r?\n")
"""A blank line, found at its first ``\\n`` (a search for one byte, ~30x faster than one
opening with an optional ``\\r``, which tries every position: :func:`_events`)."""
_DECODER = json.JSONDecoder()
_LINE = re.compile(rb"\r\n|\r|\n")


def _chat_ends(obj: dict[str, Any]) -> bool:
    choices = obj.get("choices")
    if type(choices) is list:
        for choice in choices:
            if type(choice) is dict and choice.get("finish_reason"):
                return True
    return "error" in obj  # an error chunk: the SDK raises it


_RESPONSE_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


def _response_ends(obj: dict[str, Any]) -> bool:
    typ = obj.get("type")
    if typ in _RESPONSE_ENDS:
        return True
    response = obj.get("response")
    return typ == "response.created" and type(response) is dict and response.get("background") is True


def _message_ends(obj: dict[str, Any]) -> bool:
    typ = obj.get("type")
    if typ == "message_stop" or typ == "error":
        return True
    delta = obj.get("delta")
    return typ == "message_delta" and type(delta) is dict and bool(delta.get("stop_reason"))


def _gemini_ends(obj: dict[str, Any]) -> bool:
    candidates = obj.get("candidates")
    if type(candidates) is list:
        for candidate in candidates:
            if type(candidate) is dict and candidate.get("finishReason"):
                return True
    feedback = obj.get("promptFeedback")
    return "error" in obj or type(feedback) is dict and bool(feedback.get("blockReason"))


def _cohere_ends(obj: dict[str, Any]) -> bool:
    return obj.get("type") == "message-end"


_ENDS: tuple[tuple[re.Pattern[str], Callable[[dict[str, Any]], bool], bool, str], ...] = (
    # the path's end -> what ends its stream, whether `[DONE]` does, the end's name for a message
    (re.compile(r"/chat/completions$"), _chat_ends, True, "no `data: [DONE]`, no `finish_reason`"),
    (re.compile(r"/v\d+/completions$"), _chat_ends, True, "no `data: [DONE]`, no `finish_reason`"),
    (re.compile(r"/responses$"), _response_ends, False, "no `response.completed`, `.incomplete` or `.failed`"),
    (re.compile(r"/messages$"), _message_ends, False, "no `message_stop`, no `stop_reason`"),
    (re.compile(r":streamGenerateContent$"), _gemini_ends, False, "no `finishReason`"),
    (re.compile(r"/v2/chat$"), _cohere_ends, False, "no `message-end`"),
)


def _ends_of(url: str) -> tuple[Callable[[dict[str, Any]], bool], bool, str] | None:
    path = url.split("?", 1)[0].rstrip("/")
    for pattern, ends, done, name in _ENDS:
        if pattern.search(path):
            return ends, done, name
    return None


def _data(event: bytes) -> bytes | None:
    """The data of one SSE event (its ``data:`` lines' values, one leading space off each,
    joined by newlines); None when it has none."""
    if event.startswith(b"data:") and b"\n" not in event and b"\r" not in event:  # the usual one line
        value = event[5:]
        return value[1:] if value[:1] == b" " else value
    values = [line[6:] if line[5:6] == b" " else line[5:] for line in _LINE.split(event) if line.startswith(b"data:")]
    return b"\n".join(values) if values else None


def _events(data: bytes) -> Iterator[tuple[int, int]]:
    """Where each event of ``data`` ends and the next starts: at each blank line (``\\n\\n``,
    ``\\r\\n\\r\\n``, ``\\r\\n\\n``, ``\\n\\r\\n``), the ends ``rb"\\r?\\n\\r?\\n"`` finds.

    >>> list(_events(b"a\\n\\nb\\r\\n\\r\\nc"))
    [(1, 3), (4, 8)]
    """
    start = 0
    for blank in _BLANK_LINE.finditer(data):
        at = blank.start()
        yield (at - 1 if at > start and data[at - 1] == 13 else at), blank.end()  # (13: the \\r before it)
        start = blank.end()


def _split(data: bytes) -> list[bytes]:
    """``data`` cut at its blank lines (:func:`_events`), as ``re.split`` cuts it."""
    parts, start = [], 0
    for end, after in _events(data):
        parts.append(data[start:end])
        start = after
    parts.append(data[start:])
    return parts


class StreamCheck:
    """A served stream's events as they are passed on (whole events, :class:`~.relay.Framer`'s
    pieces): :meth:`feed` says where the first event whose data is not JSON starts (the stream
    ends there: its SDK fails to parse it), :meth:`finish` takes what was held at the end, and
    :attr:`unfinished` says whether it ended before the event that ends it. ``StreamCheck.of``
    gives one for a stream of an API judged here (None for any other)."""

    __slots__ = ("array", "ends", "done_ends", "name", "ended", "state", "lost", "shapes", "parsed", "tries")

    def __init__(self, array: bool, ends: Callable[[dict[str, Any]], bool] | None, done_ends: bool,
                 name: str) -> None:
        self.array = array  # Gemini's JSON array: its elements objects, its end its `]`
        self.state = "open"  # where a JSON array is: `open` (its `[` due), `first`, `element`, `after`, `closed`
        self.lost = False  # an element longer than the relay holds came in pieces: no longer read
        self.ends = ends
        self.done_ends = done_ends
        self.name = name
        self.ended = ends is None  # an API whose end is not known here is never unfinished
        # the shapes of its events learnt (providers/shapes.py): an event of one is JSON, read
        # without json.loads, and ends the stream as the one it was learnt from did (no end reads
        # a hole's value), which is already noted (`ended` never goes back)
        self.shapes: list[Shape] = []
        self.parsed = 0  # events parsed: past LEARN_AFTER (as the usage read), their shapes are learnt
        self.tries = LEARN_TRIES

    @classmethod
    def of(cls, url: str, framing: str) -> StreamCheck | None:
        """The check of a stream to ``url`` in ``framing`` (``sse``, ``array``, ...): for an API
        whose events are JSON (:func:`~.api_shape.known`), else None."""
        if framing not in ("sse", "array") or not known(url):
            return None
        found = _ends_of(url)
        if framing == "array":
            return cls(True, found[0], False, "no closing `]`") if found is not None else None
        if found is None:
            return cls(False, None, False, "")
        return cls(False, *found)

    @property
    def unfinished(self) -> bool:
        """Whether the stream so far has not come to the event that ends it."""
        return not self.ended

    def feed(self, events: bytes) -> int:
        """Where the first SSE event of ``events`` (whole events) whose data is not a JSON object
        or array starts (OpenAI's ``[DONE]`` and events without data are fine); -1 when there is
        none. Parsed with ``json.loads`` of its UTF-8 text, as the SDKs read it; an event that
        does not open with ``{`` or ``[`` is not parsed.

        >>> check = StreamCheck.of("http://h/v1/chat/completions", "sse")
        >>> check.feed(b'data: {"a": 1}\\n\\n: keep-alive\\n\\n'), check.unfinished
        (-1, True)
        >>> check.feed(b'data: {"a": 1}\\n\\ndata: {not json}\\n\\n')
        16
        >>> check.feed(b'event: x\\ndata: {"a":\\ndata: 1}\\n\\ndata: [DONE]\\n\\n'), check.unfinished
        (-1, False)
        >>> StreamCheck.of("http://h/v1/chat/completions", "sse").feed(b'data: <html>\\r\\n\\r\\n')
        0
        """
        if self.array:
            return self._elements(events)
        start = 0
        for end, after in _events(events):
            if self._event(events[start:end], True):
                return start
            start = after
        return -1

    def _elements(self, chunk: bytes) -> int:
        """:meth:`feed` of a JSON array's whole elements (the relay's framer passes them whole,
        with what lies between them): where what is not the array's begins (an element that is
        not a JSON object, ``{not json}``, ``null``, ``42``; two objects with no comma; anything
        after its ``]``), as the end of what may go out: right after the last good element (or
        the ``[``), so that the error element follows with its comma; -1 when all is the
        array's. Its end is its ``]``."""
        if self.lost:
            if last := chunk.rstrip():
                self.ended = last.endswith(b"]")
            return -1
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            return 0
        i, good, n, state = 0, 0, len(text), self.state
        while True:
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n:
                self.state = state
                return -1
            c = text[i]
            if state == "open" and c == "[":
                state, i, good = "first", i + 1, i + 1
            elif state in ("first", "after") and c == "]":
                state, i, good = "closed", i + 1, i + 1
                self.ended = True
            elif state == "after" and c == ",":
                state, i = "element", i + 1
            elif state in ("first", "element"):
                try:
                    obj, end = _DECODER.raw_decode(text, i)
                except (ValueError, RecursionError):
                    if c == "{" and not JSONArrayParser().feed(chunk[len(text[:i].encode()):]):
                        self.lost = True  # no whole object by its braces: a piece of one too long to hold
                        return -1
                    return len(text[:good].encode())
                if type(obj) is not dict:
                    return len(text[:good].encode())
                state, i, good = "after", end, end
            else:
                return len(text[:good].encode())

    def finish(self, tail: bytes) -> None:
        """At the stream's clean end, what was held back (whole events, and an unfinished one
        with no blank line after it: read as the SDKs read it at the end, as an event); events
        that are not JSON are left unread."""
        if self.array:
            self.feed(tail)
            return
        for event in _split(tail):
            if event.strip():
                self._event(event, False)

    def _event(self, event: bytes, strict: bool) -> bool:
        """Read one event (whether it ends the stream noted); whether its data is not JSON
        (``strict``; else such an event is only left unread)."""
        if event.startswith(b"data: {") and b"\n" not in event and b"\r" not in event:
            data = event[6:]  # the usual event: one line of an object (_data's, without its call)
        else:
            data = _data(event)
            if data is None:
                return False
            if data.strip() == b"[DONE]":
                self.ended = self.ended or self.done_ends
                return False
            if data.lstrip()[:1] not in (b"{", b"["):
                return strict
        try:
            text = data.decode("utf-8")
            for i, shape in enumerate(self.shapes):
                if shape.read(text) is not None:
                    if i:  # the latest matched first: a stream's deltas, not its one finish
                        self.shapes.insert(0, self.shapes.pop(i))
                    return False
            obj = kept(text)  # judged before (the answer's first event), or parsed here
            if obj is MISSING:
                obj = json.loads(text)  # as the SDKs read it: UTF-8 text (faster than bytes)
                keep(text, obj)  # the usage read parses the same event again: it takes this instead
        except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
            return strict
        if not self.ended and type(obj) is dict and self.ends is not None and self.ends(obj):
            self.ended = True
        self.parsed += 1
        if self.parsed > LEARN_AFTER and self.tries and type(obj) is dict:
            self.tries -= 1
            holes = cut(text)
            shape = learn(holes, _reads_nothing) if holes is not None else None
            if shape is not None:
                self.shapes.insert(0, shape)
                del self.shapes[MAX_SHAPES:]
        return False


def _reads_nothing(obj: dict[str, object]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """What the check takes of an event besides its being JSON and its end: nothing."""
    return (), []


LEARN_TRIES = 8
"""Shapes a stream's check tries to learn at most (an event with no hole to cut counts)."""


def not_json(status: int, url: str, framing: str, held: bytes) -> str | None:
    """Why a streamed success to ``url`` whose ``held`` bytes (what was read before a byte went
    to the client) hold a whole event that is not JSON cannot be served: the relay would end it
    there with the provider's error event, a failure known before anything went out (so it
    fails over, or is the proxy's 502). None when every whole event held is JSON (or the stream
    is not judged).

    >>> not_json(200, "http://h/v1/chat/completions", "sse", b'data: {"choices": []}\\n\\ndata: {not json}\\n\\n')
    'a 200 stream with an event that is not JSON'
    >>> not_json(200, "http://h/v1/chat/completions", "sse", b'data: {"choices": []}\\n\\ndata: {not') is None
    True
    >>> not_json(200, "http://h/v1beta/models/g:streamGenerateContent", "array", b'[{"candidates": []},\\r\\nnull,')
    'a 200 stream with an element that is not a JSON object'
    """
    if not 200 <= status < 300:
        return None
    if framing == "sse":
        ends = _events(held)
        if next(ends, None) is None or next(ends, None) is None:
            return None  # one event at most: the first, which api_shape judged already
    check = StreamCheck.of(url, framing)
    if check is None or check.feed(held) < 0:
        return None
    if check.array:
        return f"a {status} stream with an element that is not a JSON object"
    return f"a {status} stream with an event that is not JSON"


def unfinished(status: int, url: str, framing: str, whole: bytes) -> str | None:
    """Why a streamed success to ``url`` that the gateway read whole (``whole``: every byte of
    it, before a byte went to the client) is a short answer: it ended cleanly before the event
    that ends it. None when it did not (or is not judged). Such a stream fails over as a
    malformed answer does (the proxy: its 502 ``upstream_malformed``); once a byte went out it
    ends with the provider's error event instead (:mod:`.relay`). (An event that is not JSON
    is :func:`not_json`'s.)

    >>> unfinished(200, "http://h/v1/chat/completions", "sse", b'data: {"choices": [{"delta": {"content": "hi"}}]}\\n\\n')
    'a 200 stream that ended before its end (no `data: [DONE]`, no `finish_reason`)'
    >>> unfinished(200, "http://h/v1/messages", "sse", b'data: {"type": "message_stop"}\\n\\n') is None
    True
    >>> unfinished(200, "http://h/v1beta/models/g:streamGenerateContent", "array", b'[{"candidates": []}')
    'a 200 stream that ended before its end (no closing `]`)'
    """
    if not 200 <= status < 300 or status == 204:
        return None
    check = StreamCheck.of(url, framing)
    if check is None:
        return None
    if check.array:
        check.feed(whole)
    else:  # from the last event back: the one that ends a stream is at its end (one parse, when whole)
        for event in reversed(_split(whole)):
            if event.strip():
                check._event(event, False)
                if check.ended:
                    break
    return None if check.ended else f"a {status} stream that ended before its end ({check.name})"
