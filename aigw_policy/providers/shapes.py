"""Event shapes: the repeated events of one stream, read without ``json.loads``.

A stream repeats a few event shapes hundreds of times with only a few values changing: the
text of a delta, a sequence number, OpenAI's ``obfuscation`` padding. :func:`learn` cuts the
raw text of an event that ``json.loads`` read at the values of the keys in :data:`HOLE_KEYS`
into fixed segments and holes: a :class:`Shape`. :meth:`Shape.read` matches a later event to
it: the same segments, each hole one JSON string (read by ``json``'s own ``scanstring``, as
``json.loads`` reads it) or one integer.

Why a match is the JSON value of the shape but for the holes' values (of the same types): in
valid JSON, ``"key"`` followed by ``:`` is a key (its closing quote is unescaped, so it ends a
string: one that opened a string would leave ``key`` outside any, which valid JSON never has),
so each hole starts where a value starts; a string ends at its closing quote whatever it
holds, and an integer hole is followed by a delimiter, checked when the shape is cut.

What a shape means for the usage is found once, by the stream's own reader (``effect``, in
sse.py) run on the event with a marker in each string hole: what it names (the served model,
a service tier), and which holes it takes as text, in its order. That this holds for every
match rests on the readers taking the values of :data:`HOLE_KEYS` whole as text or not at all,
never comparing them; tests/providers/test_stream_shapes.py compares the two ways on
generated hostile streams.
"""

from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["HOLE_KEYS", "Cut", "Shape", "cut", "learn"]

HOLE_KEYS = (
    # The rule: a key is here only if no reader compares its value (``type``, ``model``,
    # ``finishReason``, ``done``, an error's ``code``, the usage counts never are), whatever
    # object holds it: the readers take it whole as text, or look only at its type, or not at all.
    # text the readers take whole (OpenAI chat, completions, responses; Anthropic; Gemini; Ollama)
    "content", "reasoning_content", "reasoning", "refusal", "arguments", "text", "delta",
    "thinking", "partial_json", "response",
    # values no reader looks at, that change from one event to the next
    "obfuscation", "sequence_number", "created", "created_at", "index", "output_index",
    "content_index",
)
scanstring: Callable[[str, int, bool], tuple[str, int]] = getattr(json.decoder, "scanstring")
"""The string reader of ``json.loads`` (C), which typeshed does not declare: ``scanstring(s,
i, strict)`` is the string whose opening quote is at ``i - 1``, and the index after its end."""
_KEY = re.compile('"(?:' + "|".join(HOLE_KEYS) + ')"[ \t\n\r]*:[ \t\n\r]*')
_INT = re.compile("-?(?:0|[1-9][0-9]{0,14})")  # no fraction, no exponent, no 4,300-digit int
_AFTER_INT = frozenset(",}] \t\n\r")
_MARK = "\x00aigw%d"  # a string hole's marker: learn() skips an event with a NUL (\u0000) in it
MAX_HOLES = 8
MAX_LEARN_CHARS = 64 * 1024  # a larger event is read by json.loads, never cut

Named = tuple[tuple[str, str], ...]
Effect = Callable[[dict[str, object]], "tuple[Named, list[str]] | None"]
"""What the stream's reader does with an event: what it names ((attribute, value) pairs: the
model, ...) and the text it adds; None when it does more (usage, an error, the stream's end)."""


class Cut(NamedTuple):
    """An event's raw text cut at its holes: (segment, the hole after it is a string) pairs,
    then the tail."""

    parts: tuple[tuple[str, bool], ...]
    tail: str


class Shape:
    """A learnt event shape: ``parts`` are (segment, the hole after it is a string) pairs, then
    ``tail``; ``texts`` the string holes read as text, in order; ``named`` what it names."""

    __slots__ = ("parts", "tail", "texts", "named")

    def __init__(self, parts: tuple[tuple[str, bool], ...], tail: str, texts: tuple[int, ...],
                 named: Named) -> None:
        self.parts = parts
        self.tail = tail
        self.texts = texts
        self.named = named

    def read(self, data: str) -> list[str] | None:
        """The values of the string holes of ``data``, in order, or None when it has another
        shape (or is no JSON)."""
        pos = 0
        values: list[str] = []
        try:
            for segment, string in self.parts:
                if not data.startswith(segment, pos):
                    return None
                pos += len(segment)
                if string:  # the segment ends with the opening quote
                    value, pos = scanstring(data, pos, True)
                    values.append(value)
                else:
                    m = _INT.match(data, pos)
                    if m is None:
                        return None
                    pos = m.end()
        except ValueError:  # an unterminated string, a bad escape, a control character
            return None
        if len(data) - pos != len(self.tail) or not data.endswith(self.tail):
            return None
        return values


def learn(cut: Cut, effect: Effect) -> Shape | None:
    """The shape of an event :func:`cut`, or None when it means more to the reader than names
    and text."""
    parts, tail = cut
    marked: list[str] = []
    n = 0
    for segment, string in parts:
        marked.append(segment)
        if string:  # the segment has the opening quote
            marked.append('\\u0000aigw%d"' % n)
            n += 1
        else:
            marked.append("0")
    marked.append(tail)
    try:
        obj = json.loads("".join(marked))
    except (ValueError, RecursionError):
        return None
    if type(obj) is not dict:
        return None
    found = effect(obj)
    if found is None:
        return None
    named, texts = found
    holes = {_MARK % i: i for i in range(n)}
    plan = [holes.get(text, -1) for text in texts]
    if -1 in plan or any("\x00" in value for _, value in named):
        return None  # text from no hole (a fixed value), or a name from one
    return Shape(parts, tail, tuple(plan), named)


def cut(data: str) -> Cut | None:
    """The raw text of an event ``json.loads`` read as an object, cut at its holes; None when
    it has none, or too many."""
    if len(data) > MAX_LEARN_CHARS or "\\u0000" in data:
        return None
    parts: list[tuple[str, bool]] = []
    start = pos = 0
    while (m := _KEY.search(data, pos)) is not None:
        at = m.end()
        if data.startswith('"', at):
            try:
                end = scanstring(data, at + 1, True)[1]
            except ValueError:
                return None
            parts.append((data[start : at + 1], True))
        else:
            n = _INT.match(data, at)
            if n is None or data[n.end() : n.end() + 1] not in _AFTER_INT:
                pos = at  # an object, a list, null, a float: a fixed value
                continue
            end = n.end()
            parts.append((data[start:at], False))
        if len(parts) > MAX_HOLES:
            return None
        start = pos = end
    return Cut(tuple(parts), data[start:]) if parts else None
