"""Stream framing, bytes -> events: Server-Sent Events (OpenAI, Anthropic, Gemini ``alt=sse``),
newline-delimited JSON (Ollama's native API) and a streamed JSON array (Gemini without
``alt=sse``). Each parser is incremental and sans-IO: ``feed`` chunks split anywhere (inside a
line, a ``\\r\\n`` pair, a UTF-8 character), ``finish`` at the end; the events do not depend on
the splits. An event past :data:`MAX_EVENT_BYTES` is dropped and counted in ``dropped``."""

from __future__ import annotations

import re

__all__ = ["BOM", "FAST_FRAMING", "MAX_EVENT_BYTES", "JSONArrayParser", "NDJSONParser", "SSEParser"]

MAX_EVENT_BYTES = 8 * 1024 * 1024  # an event larger than this is dropped (hostile or broken)
FAST_FRAMING = True
"""A chunk with no CR, after a chunk that did not end with one (a whole stream captured by
``serve``, or the 4 KiB reads of one too long to keep), is split into lines at once with the
start of a line held back before it (:meth:`SSEParser._lines`); False: line by line, the
general way (tests/providers/test_sse_framing.py compares the two)."""
BOM = b"\xef\xbb\xbf"


class SSEParser:
    """Byte-level incremental Server-Sent Events parser: ``feed`` -> list of (event, data)."""

    __slots__ = ("_buf", "_cr", "_event", "_data", "_size", "_poison", "_skip", "_bom", "dropped")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._cr = False  # the previous chunk ended with \r: a following \n belongs to it
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._poison = False  # the current event had an oversized line: drop it at dispatch
        self._skip = False  # inside an oversized line: discard bytes until its end
        self._bom = True  # at the start of the stream: one UTF-8 BOM is dropped (WHATWG)
        self.dropped = 0

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if not chunk:
            return out
        if (FAST_FRAMING and not self._cr and not self._skip and b"\r" not in chunk
                and (not self._bom or not self._buf and chunk[:1] != b"\xef")):
            if self._buf:  # a line's start held back from the chunk before (never a CR in it)
                chunk = bytes(self._buf) + chunk
                self._buf.clear()
            self._bom = False  # the chunk does not start with one (or it is not the stream's start)
            self._lines(chunk, out)
            return out
        if self._bom:
            head = bytes(self._buf) + chunk
            if len(head) < len(BOM) and BOM.startswith(head):
                self._buf[:] = head  # not enough bytes yet to tell
                return out
            self._bom = False
            self._buf.clear()
            chunk = head.removeprefix(BOM)
            if not chunk:
                return out
        if self._cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._cr = False
        buf = self._buf
        buf += chunk
        start = 0
        n = len(buf)
        while start < n:
            i_n = buf.find(b"\n", start)
            i_r = buf.find(b"\r", start, i_n if i_n >= 0 else n)
            if i_r >= 0:
                end, nxt = i_r, i_r + 1
                if nxt < n and buf[nxt] == 0x0A:
                    nxt += 1
                elif nxt == n:
                    self._cr = True
            elif i_n >= 0:
                end, nxt = i_n, i_n + 1
            else:
                break
            if self._skip:
                self._skip = False
            else:
                self._line(bytes(buf[start:end]), out)
            start = nxt
        del buf[:start]
        if len(buf) > MAX_EVENT_BYTES:  # an endless line: poison the event, skip to line end
            buf.clear()
            self._skip = True
            self._poison = True
        return out

    def _lines(self, chunk: bytes, out: list[tuple[str, str]]) -> None:
        """:meth:`feed` of a chunk with no CR (the held-back start of a line put before it):
        its lines split at once (the loop of ``feed`` finds them one by one), and the usual
        lines read here as :meth:`_line` reads them: ``data: `` (the text after the space, the
        event's size counted), the blank line that ends an event, ``event: ``."""
        lines = chunk.split(b"\n")
        rest = lines.pop()  # after the last LF: a line not yet whole
        line = self._line
        data = self._data
        for raw in lines:
            if raw[:6] == b"data: ":  # (a poisoned event's data is dropped with it at dispatch)
                size = self._size + len(raw)
                if size <= MAX_EVENT_BYTES:
                    self._size = size
                    data.append(raw[6:].decode("utf-8", "replace"))
                    continue
            elif not raw:
                self._dispatch(out)
                data = self._data
                continue
            elif raw[:7] == b"event: " and len(raw) <= MAX_EVENT_BYTES:
                self._event = raw[7:].decode("utf-8", "replace")
                continue
            line(raw, out)
            data = self._data  # a dispatch starts a new list
        if rest:
            self._buf += rest
            if len(self._buf) > MAX_EVENT_BYTES:  # as feed: poison the event, skip to the line's end
                self._buf.clear()
                self._skip = True
                self._poison = True

    def _dispatch(self, out: list[tuple[str, str]]) -> None:
        if self._poison:
            self.dropped += 1
        elif self._data:
            out.append((self._event or "message", "\n".join(self._data)))
        self._data = []
        self._size = 0
        self._event = ""
        self._poison = False

    def _line(self, raw: bytes, out: list[tuple[str, str]]) -> None:
        if not raw:
            self._dispatch(out)
            return
        if len(raw) > MAX_EVENT_BYTES:
            self._poison = True
            return
        if raw[:1] == b":":
            return
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._size += len(raw)
            if self._size > MAX_EVENT_BYTES:
                self._poison = True
            if not self._poison:
                self._data.append(value)
        elif name == "event":
            self._event = value

    def finish(self) -> list[tuple[str, str]]:
        """Flush a final event that lacks its blank line (servers that close right away)."""
        out: list[tuple[str, str]] = []
        if self._buf and not self._skip:
            self._line(bytes(self._buf), out)
        self._buf.clear()
        self._skip = False
        if self._data or self._poison:
            self._dispatch(out)
        return out


class NDJSONParser:
    """Incremental newline-delimited JSON framing (Ollama's native streams)."""

    __slots__ = ("_buf", "_skip", "dropped")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = False
        self.dropped = 0

    def _line(self, raw: bytes, out: list[tuple[str, str]]) -> None:
        if self._skip:
            self._skip = False
            return
        if len(raw) > MAX_EVENT_BYTES:
            self.dropped += 1
            return
        line = raw.strip()
        if line:
            out.append(("message", line.decode("utf-8", "replace")))

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self._buf += chunk
        out: list[tuple[str, str]] = []
        start = 0
        while (i := self._buf.find(b"\n", start)) >= 0:
            self._line(bytes(self._buf[start:i]), out)
            start = i + 1
        del self._buf[:start]
        if len(self._buf) > MAX_EVENT_BYTES:
            self._buf.clear()
            if not self._skip:
                self.dropped += 1
            self._skip = True
        return out

    def finish(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        self._line(bytes(self._buf), out)
        self._buf.clear()
        self._skip = False
        return out


class JSONArrayParser:
    """Incremental framing of a streamed JSON array of objects: Gemini's
    ``streamGenerateContent`` without ``alt=sse`` sends ``[{...},\r\n{...}]`` as it goes.
    Each complete top-level object is an event, so a cut-off array still gives the chunks
    that arrived. The scan jumps between structural characters (a regex, not a byte loop)."""

    __slots__ = ("_buf", "_pos", "_depth", "_start", "_in_str", "dropped")

    _OUTSIDE = re.compile(rb'[{}"]')
    _INSIDE = re.compile(rb'["\\]')

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # where the scan resumes
        self._depth = 0  # object nesting (arrays inside objects need no tracking)
        self._start = 0  # where the current top-level object began
        self._in_str = False
        self.dropped = 0

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buf = self._buf
        buf += chunk
        pos = self._pos
        while True:
            if self._in_str:
                m = self._INSIDE.search(buf, pos)
                if m is None:
                    pos = len(buf)
                    break
                if m.group() == b"\\":
                    if m.end() >= len(buf):  # the escaped byte has not arrived yet
                        pos = m.start()
                        break
                    pos = m.end() + 1
                    continue
                self._in_str = False
                pos = m.end()
                continue
            m = self._OUTSIDE.search(buf, pos)
            if m is None:
                pos = len(buf)
                break
            c = m.group()
            pos = m.end()
            if c == b'"':
                self._in_str = True
            elif c == b"{":
                if self._depth == 0:
                    self._start = m.start()
                self._depth += 1
            elif self._depth > 0:
                self._depth -= 1
                if self._depth == 0:
                    out.append(("message", buf[self._start:pos].decode("utf-8", "replace")))
        if self._depth == 0:  # nothing pending: drop what was read
            del buf[:pos]
            pos = 0
        else:  # keep the pending object only
            del buf[: self._start]
            pos -= self._start
            self._start = 0
            if pos > MAX_EVENT_BYTES:  # an endless object: drop it, rescan after it
                self.dropped += 1
                buf.clear()
                pos = self._depth = 0
                self._in_str = False
        self._pos = pos
        return out

    @property
    def held(self) -> int:
        """Bytes of the unfinished top-level object the last ``feed`` ended in (0: none)."""
        return len(self._buf) if self._depth > 0 else 0

    def finish(self) -> list[tuple[str, str]]:
        self._buf.clear()
        self._pos = self._depth = 0
        self._in_str = False
        return []
