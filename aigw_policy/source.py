"""Source text and spans: where every node and diagnostic comes from."""

from __future__ import annotations

import re
from bisect import bisect_right
from operator import itemgetter

__all__ = ["Source", "Span", "line_end", "line_start", "split_lines"]

_BREAK = re.compile(r"\r\n|\r|\n")


# Lines end at `\r\n`, `\n` or a lone `\r` and nowhere else (not at U+2028, NEL or a form
# feed, where `str.splitlines` ends them): as LSP's editors, YAML and the DSL count lines.
def line_start(text: str, offset: int) -> int:
    """The offset where the line holding ``offset`` starts."""
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def line_end(text: str, offset: int) -> int:
    """The offset of the line break that ends the line holding ``offset`` (or ``len(text)``)."""
    ends = [i for i in (text.find("\n", offset), text.find("\r", offset)) if i != -1]
    return min(ends) if ends else len(text)


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` without their breaks, as ``str.splitlines`` but at CR and LF only."""
    lines = _BREAK.split(text)
    return lines[:-1] if lines and not lines[-1] else lines


_tuple_new = tuple.__new__
_FIELDS = ("start", "end", "line", "column", "end_line", "end_column", "file")


class Span(tuple):  # type: ignore[type-arg]
    """A half-open range ``[start, end)`` of character offsets in a source text.

    Lines and columns are 1-based, as editors show them. Spans never take part in the
    equality of the nodes that carry them, and ``file`` takes no part in a span's own.

    An immutable value: a tuple of its seven fields, so that making one (a parse makes one per
    node and token, a cached policy's record holds 50,000 at 10,000 rules) is one tuple, not
    seven attribute stores.
    """

    __slots__ = ()

    def __new__(cls, start: int, end: int, line: int, column: int, end_line: int, end_column: int,
                file: str | None = None) -> Span:
        return _tuple_new(cls, (start, end, line, column, end_line, end_column, file))

    start: int = property(itemgetter(0))  # type: ignore[assignment]
    end: int = property(itemgetter(1))  # type: ignore[assignment]
    line: int = property(itemgetter(2))  # type: ignore[assignment]
    column: int = property(itemgetter(3))  # type: ignore[assignment]
    end_line: int = property(itemgetter(4))  # type: ignore[assignment]
    end_column: int = property(itemgetter(5))  # type: ignore[assignment]
    file: str | None = property(itemgetter(6))  # type: ignore[assignment]

    def __getnewargs__(self) -> tuple:  # type: ignore[override]
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Span:  # a plain tuple of the same items is no span (tuple's own
            return False if isinstance(other, tuple) else NotImplemented  # answer would say equal)
        return self[:6] == other[:6]  # type: ignore[index]

    def __ne__(self, other: object) -> bool:
        if type(other) is not Span:
            return True if isinstance(other, tuple) else NotImplemented
        return self[:6] != other[:6]  # type: ignore[index]

    def __hash__(self) -> int:
        return hash(self[:6])

    def __repr__(self) -> str:
        return "Span(" + ", ".join(f"{n}={v!r}" for n, v in zip(_FIELDS, self)) + ")"

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}"
        return f"{self.file}:{where}" if self.file else where

    def replace(self, **changes: object) -> Span:
        """This span with some fields changed (as ``dataclasses.replace`` did)."""
        values = dict(zip(_FIELDS, self))
        unknown = set(changes) - values.keys()
        if unknown:
            raise TypeError(f"Span has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return Span(**values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "start": self.start,
            "end": self.end,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


class Source:
    """A named source text with fast offset -> line:column lookups."""

    __slots__ = ("text", "name", "_line_starts")

    def __init__(self, text: str, name: str | None = None) -> None:
        self.text = text
        self.name = name
        starts = [0]
        if "\r" in text:  # lines end at \r\n, \n or \r, as YAML, the DSL and LSP's editors read them
            starts.extend(m.end() for m in _BREAK.finditer(text))
        else:
            find = text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
        self._line_starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        """Return the 1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def offset(self, line: int, column: int) -> int:
        """Return the character offset of a 1-based (line, column)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + column - 1, len(self.text))

    def span(self, start: int, end: int | None = None) -> Span:
        # position() twice, inlined: compilers make a span per node and token
        if end is None or end < start:
            end = start
        starts = self._line_starts
        size = len(self.text)
        at = start if 0 <= start <= size else (0 if start < 0 else size)
        index = bisect_right(starts, at) - 1
        line, column = index + 1, at - starts[index] + 1
        if end != start:
            at = end if 0 <= end <= size else (0 if end < 0 else size)
            following = index + 1
            if at < starts[index] or (following < len(starts) and at >= starts[following]):
                index = bisect_right(starts, at) - 1  # not on the start's line
        return Span(start, end, line, column, index + 1, at - starts[index] + 1, self.name)

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        stop = self._line_starts[line] if line < len(self._line_starts) else len(self.text)
        return self.text[start:stop].rstrip("\r\n")
