"""The base protocol's framing (``Content-Length: N\\r\\n\\r\\n`` then N bytes), read so that no
malformed message costs the next one.

pygls's reader kept a bad header's state: after a ``Content-Length`` it could not read (missing,
negative, not a number) the body was read as header lines, and since a body ends without a
newline its last line took the next message's ``Content-Length`` with it: that message was lost,
and so on while the stream stayed out of step. A huge ``Content-Length`` was read (and waited
for) whole, and a line without a newline grew without bound.

:class:`Framer` is fed bytes as they arrive, in any pieces, and gives back what it found: a
body to handle (with its charset) or a reason a message was skipped. It finds its way back by
the one thing that cannot occur inside a JSON body: ``Content-Length: <digits>`` followed by a
raw line break (JSON strings cannot hold a raw newline, and outside strings the name is no JSON
token). So garbage between messages, a body cut short or longer than its length, and a header
block that cannot be read skip up to the next such header, and that message is served. Memory
is bounded by ``MAX_BODY`` (a larger body is skipped as it streams by, never held) and by
``MAX_LINE`` per header line.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["MAX_BODY", "MAX_HEADERS", "MAX_LINE", "Body", "Framer", "Skipped"]

MAX_BODY = 64 * 1024 * 1024
"""The largest body read (a document of tens of megabytes is still served)."""
MAX_LINE = 8192
"""The longest header line (name, value and line break)."""
MAX_HEADERS = 32
"""The most header lines in one block."""

_HEADER = re.compile(rb"content-length[ \t]{0,16}:[ \t]{0,16}\d{1,20}[ \t]{0,16}\r?\n", re.IGNORECASE)
_TAIL = 96  # longer than any match of _HEADER: what a scan keeps so a header cut by a read is found
_FIELD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*?)[ \t]*")


@dataclass(frozen=True)
class Body:
    """A message's body as sent, and the charset its header named."""

    data: bytes
    charset: str = "utf-8"

    def text(self) -> str:
        """The body decoded (``UnicodeDecodeError`` or ``LookupError`` when it cannot be)."""
        name = codecs.lookup(self.charset).name
        return self.data.decode("utf-8-sig" if name == "utf-8" else name)


@dataclass(frozen=True)
class Skipped:
    """Bytes that were no readable message, and why (for the log: no content)."""

    reason: str
    size: int


class Framer:
    """Bytes in, messages out; see the module's docstring."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.state = "headers"
        self.length = 0  # body: bytes wanted; discard: bytes still to skip
        self.scanned = 0  # body: bytes already searched for a header (each byte is searched once)
        self.charset = "utf-8"
        self.fields: dict[bytes, bytes] = {}
        self.lines = 0
        self.skipped = 0  # bytes dropped since the last message, reported once found again
        self.why = ""
        self.found: list[Body | Skipped] = []

    def feed(self, data: bytes) -> list[Body | Skipped]:
        self.buffer += data
        self.found = []
        while self._step():
            pass
        return self.found

    # -- states ------------------------------------------------------------------------------
    def _step(self) -> bool:
        """One step of the current state; False when it needs more bytes."""
        if self.state == "headers":
            return self._header_line()
        if self.state == "body":
            return self._body()
        if self.state == "discard":
            return self._discard()
        return self._resync()

    def _header_line(self) -> bool:
        end = self.buffer.find(b"\n", 0, MAX_LINE)
        if end < 0:
            if len(self.buffer) >= MAX_LINE:
                return self._lost("a header line longer than %d bytes" % MAX_LINE)
            return False
        line = bytes(self.buffer[:end + 1])
        header = _HEADER.search(line)
        if header is not None and header.start() > 0:  # the end of something, then a header
            del self.buffer[:header.start()]
            self._reset_headers()
            self._drop(header.start(), "bytes that are no message before a header")
            return True
        del self.buffer[:end + 1]
        content = line.rstrip(b"\r\n")
        if not content:
            if not self.fields:
                return True  # a blank line between messages
            return self._headers_done()
        field = _FIELD.fullmatch(content)
        self.lines += 1
        if field is None or self.lines > MAX_HEADERS:
            self._reset_headers()
            return self._lost("a header block that cannot be read", len(line))
        name, value = field.group(1).lower(), field.group(2)
        if name in self.fields and self.fields[name] != value:
            self._reset_headers()
            return self._lost("two different %s headers" % name.decode(), len(line))
        self.fields[name] = value
        return True

    def _headers_done(self) -> bool:
        fields, self.fields, self.lines = self.fields, {}, 0
        length = fields.get(b"content-length")
        self.charset = _charset(fields.get(b"content-type", b""))
        if length is None or not length.isdigit():
            why = "no Content-Length" if length is None else "a Content-Length that is no count of bytes"
            return self._lost(why)
        self.length = int(length)
        if self.length > MAX_BODY:
            self._report()
            self.state, self.why = "discard", "a body of %d bytes, more than %d" % (self.length, MAX_BODY)
            return True
        self.state = "body"
        return True

    def _body(self) -> bool:
        cut = _HEADER.search(self.buffer, max(0, self.scanned - _TAIL), self.length + _TAIL)
        if cut is not None and cut.start() < self.length:  # the next message began inside this one
            del self.buffer[:cut.start()]
            self.state, self.scanned = "headers", 0
            self._drop(cut.start(), "a body shorter than its Content-Length")
            return True
        if len(self.buffer) < self.length:
            self.scanned = len(self.buffer)
            return False
        if _header_begins(self.buffer, self.length):
            return False  # the body's last bytes may be the next header's first: read on
        self.scanned = 0
        data = bytes(self.buffer[:self.length])
        del self.buffer[:self.length]
        self.state = "headers"
        self._report()
        self.found.append(Body(data, self.charset))
        return True

    def _discard(self) -> bool:
        cut = _HEADER.search(self.buffer, 0, self.length + _TAIL)
        if cut is not None and cut.start() < self.length:
            self.skipped += cut.start()
            del self.buffer[:cut.start()]
            self.state = "headers"
            return True
        gone = min(self.length, max(0, len(self.buffer) - _TAIL))
        del self.buffer[:gone]
        self.skipped += gone
        self.length -= gone
        if self.length == 0 or (self.length <= len(self.buffer)):
            self.skipped += self.length
            del self.buffer[:self.length]
            self.length = 0
            self.state = "headers"
            self._report()
            return True
        return False

    def _resync(self) -> bool:
        header = _HEADER.search(self.buffer)
        if header is None:
            gone = max(0, len(self.buffer) - _TAIL)
            del self.buffer[:gone]
            self.skipped += gone
            return False
        del self.buffer[:header.start()]
        self.skipped += header.start()
        self.state = "headers"
        return True

    # -- what was dropped --------------------------------------------------------------------
    def _lost(self, why: str, size: int = 0) -> bool:
        """Skip to the next header: what is here cannot be read as a message."""
        self._report()
        self.state, self.why, self.skipped = "resync", why, size
        return True

    def _drop(self, size: int, why: str) -> None:
        if not self.why:
            self.why = why
        self.skipped += size
        self._report()

    def _report(self) -> None:
        if self.why or self.skipped:
            self.found.append(Skipped(self.why or "bytes that are no message", self.skipped))
        self.why, self.skipped = "", 0

    def _reset_headers(self) -> None:
        self.fields, self.lines = {}, 0


_NAME = b"content-length"
_REST = re.compile(rb"[ \t]{0,16}(?::[ \t]{0,16}(?:\d{1,20}[ \t]{0,16}\r?)?)?")


def _header_begins(buffer: bytearray, length: int) -> bool:
    """Whether what the buffer holds from some offset before ``length`` to its end could be
    the start of a ``Content-Length`` header (a JSON body ends in ``}``, never in one)."""
    for start in range(max(0, len(buffer) - _TAIL), min(length, len(buffer))):
        tail = bytes(buffer[start:])
        if _NAME.startswith(tail[:len(_NAME)].lower()) and (
                len(tail) <= len(_NAME) or _REST.fullmatch(tail[len(_NAME):]) is not None):
            return True
    return False


def _charset(content_type: bytes) -> str:
    """The charset a Content-Type names (LSP: utf-8, with ``utf8`` read as it)."""
    match = re.search(rb";\s*charset\s*=\s*\"?([^\";\s]+)", content_type, re.IGNORECASE)
    return match.group(1).decode("ascii", "replace") if match else "utf-8"
