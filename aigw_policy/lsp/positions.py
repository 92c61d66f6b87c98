"""Character offsets (what spans hold) <-> LSP positions (line, and a column in the code
units the client and server agreed on: UTF-16 unless it asked for UTF-8 or UTF-32).

Lines end at ``\\r\\n``, ``\\n`` or ``\\r``, as the protocol says.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from lsprotocol import types

from ..source import Span

__all__ = ["Lines"]

_BREAK = re.compile(r"\r\n|\r|\n")
_UNIT_BYTES = {"utf-8": 1, "utf-16": 2, "utf-32": 4}
_CODEC = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}


class Lines:
    """One text's line starts, to convert offsets and positions in ``encoding``."""

    __slots__ = ("encoding", "starts", "text")

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        self.encoding = encoding if encoding in _CODEC else "utf-16"

    def _units(self, chars: str) -> int:
        if self.encoding == "utf-32":
            return len(chars)
        if chars.isascii():
            return len(chars)
        return len(chars.encode(_CODEC[self.encoding], "surrogatepass")) // _UNIT_BYTES[self.encoding]

    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.starts, offset) - 1
        return types.Position(line, self._units(self.text[self.starts[line]:offset]))

    def range(self, span: Span | None) -> types.Range:
        if span is None:
            return types.Range(types.Position(0, 0), types.Position(0, 0))
        return types.Range(self.position(span.start), self.position(span.end))

    def offset(self, position: types.Position) -> int:
        """The offset of a position; past a line's end: the line's end, past the text: its end."""
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        end = self.starts[position.line + 1] if position.line + 1 < len(self.starts) else len(self.text)
        line = self.text[start:end].rstrip("\r\n")
        if self.encoding == "utf-32" or line.isascii():
            return start + min(position.character, len(line))
        units = 0
        for i, char in enumerate(line):
            if units >= position.character:
                return start + i
            units += self._units(char)
        return start + len(line)

    def whole(self) -> types.Range:
        return types.Range(types.Position(0, 0), self.position(len(self.text)))
