r"""A request head's line ends and folded lines as h11 reads them, held to what llhttp refuses.

h11 (the protocol ``serve``'s server runs without httptools, and what embedders' servers may
run) ends a head's line at a bare LF as at a CRLF, and joins a line that begins with a space or
a tab (RFC 9112's obsolete line folding) to the field before it; llhttp refuses both ("Missing
expected CR after header value", "Unexpected whitespace after header value"). A proxy in front
that reads such a head the other way (its bare LF as part of a value, its folded line as a field
of its own or one it drops) and a gateway behind it then disagreed on the request's fields, its
framing among them: the root of request smuggling (serve30). RFC 9112 §5.2 lets a server refuse
a folded line with a 400, and §2.2 a bare LF. Of the same family, h11 took a field value with a
control character (``\x01``, ``\x7f``: :data:`_CONTROL`) and a ``Content-Length`` given twice
or as a list (``5, 5``) when the values agree, and whitespace after a chunk's size
(``13 \r\n``), all of which llhttp refuses. :class:`StrictLines`
refuses each, in a chunked body's trailer section (read by the same call) too: the 400
``invalid_http`` every other refusal of the parser gets, its text naming the fault and quoting
nothing.
"""

from __future__ import annotations

import re

import h11
from h11._receivebuffer import ReceiveBuffer
from h11._util import LocalProtocolError

__all__ = ["StrictLines", "strict"]

BARE_LF = "a bare LF ends a line of the request head (no CR before it)"
FOLDED = "a header line begins with whitespace (obsolete line folding)"
CONTROL = "a header value holds a control character"
LENGTHS = "Duplicate Content-Length"
CHUNK_SIZE = "Invalid character in chunk size"

_SIZE_ENDS = re.compile(rb"[0-9A-Fa-f]+(?:;|\r\n)")
r"""How a chunk-size line begins: its hex digits, then an extension or the line's end at once.
h11 took whitespace after the digits (``13 \r\n``, ``13\t;a``), which llhttp refuses: a
known request-smuggling spelling, read by some proxies as a size and by others not."""

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
r"""The control characters llhttp refuses in a field value, and h11 (which refuses only NUL, LF,
VT, FF and CR there) took and passed on: ``x-a: a\x01b`` went upstream as sent."""


class StrictLines(ReceiveBuffer):
    """h11's receive buffer whose heads (and trailer sections) end each line with CRLF and
    begin none after the first with a space or a tab, hold no control character but HT and
    name ``Content-Length`` once with one value. A head is looked at once, when h11 takes it
    whole: a lower-cased copy and seven searches of its bytes in C (~2 us for an SDK's head);
    a chunk-size line gets one regular expression match; a body's bytes are never looked at."""

    _lines: bytearray | None = None  # the bytes of the head h11 is taking whole, while it does

    def maybe_extract_lines(self) -> list[bytearray] | None:
        if self._data[:1] == b"\n":  # (h11 would take it for an empty head)
            raise LocalProtocolError(BARE_LF)
        self._lines = bytearray()
        try:
            lines = super().maybe_extract_lines()
            taken = self._lines
        finally:
            self._lines = None
        if lines is not None and taken:
            if taken.count(b"\n") != taken.count(b"\r\n"):
                raise LocalProtocolError(BARE_LF)
            if b"\n " in taken or b"\n\t" in taken:
                raise LocalProtocolError(FOLDED)
            if _CONTROL.search(taken):
                raise LocalProtocolError(CONTROL)
            if (at := (low := taken.lower()).find(b"\ncontent-length:")) >= 0 and (
                    low.find(b"\ncontent-length:", at + 16) >= 0 or b"," in low[at:low.find(b"\n", at + 16)]):
                raise LocalProtocolError(LENGTHS)
        return lines

    def maybe_extract_next_line(self) -> bytearray | None:
        # (h11 reads only a chunk-size line so)
        line = super().maybe_extract_next_line()
        if line is not None and not _SIZE_ENDS.match(line):
            raise LocalProtocolError(CHUNK_SIZE)
        return line

    def _extract(self, count: int) -> bytearray:
        out = super()._extract(count)
        if self._lines is not None:
            self._lines = out  # (h11 splits it into new lines: these bytes stay as they came)
        return out


def strict(conn: h11.Connection) -> None:
    """``conn`` reading through a :class:`StrictLines`. It replaces h11's private
    ``_receive_buffer``: a RuntimeError when ``conn`` holds none, or one with bytes in it (an h11
    that renamed or rebuilt it would have run without these refusals, silently: review30)."""
    if type(getattr(conn, "_receive_buffer", None)) is not ReceiveBuffer or conn._receive_buffer:
        raise RuntimeError("h11's Connection keeps no ReceiveBuffer in _receive_buffer: this h11 is not one "
                           "gateway/h11_lines.py knows (its head refusals would be skipped)")
    conn._receive_buffer = StrictLines()


def _self_check() -> None:
    """A head with a bare LF is refused through :func:`strict`: else this h11 reads heads by
    other calls than :class:`StrictLines` overrides, and the server must not start on it."""
    conn = h11.Connection(h11.SERVER)
    strict(conn)
    conn.receive_data(b"GET / HTTP/1.1\nhost: gw\n\n")
    try:
        conn.next_event()
    except h11.RemoteProtocolError as error:
        if str(error) == BARE_LF:
            return
    raise RuntimeError("h11 read a head past gateway/h11_lines.py's StrictLines: this h11 is not one it knows")


_self_check()  # (once, when the h11 server is first built: ~30 us)
