"""AWS's binary event-stream framing (``application/vnd.amazon.eventstream``), bytes -> events:
how Bedrock streams ``converse-stream`` and ``invoke-with-response-stream`` answers.

A message is a 12-byte prelude (total length, headers length, both big-endian 32-bit, and the
CRC-32 of those 8 bytes), its headers (a name of 1-byte length; a type byte; a value), its
payload and the CRC-32 of all before it. The ``:event-type`` header names the event
(``messageStart``, ``contentBlockDelta``, ``metadata``... of ConverseStream; ``chunk`` of
InvokeModel's stream, whose payload ``{"bytes": base64}`` holds the model's own event: given
as that event, Anthropic's for Claude). A message whose ``:message-type`` is ``exception`` (or
``error``) is given as ``{"type": "error", "error": {"type": <its :exception-type>}}``, the
shape the stream readers note an error by, without its message.

Incremental and sans-IO as the parsers of :mod:`.framing`: ``feed`` chunks split anywhere,
``finish`` at the end, the events do not depend on the splits. A message past
:data:`~.framing.MAX_EVENT_BYTES` or failing its CRC is dropped (``dropped``); a prelude that
fails its CRC leaves no length to trust: the rest of the stream is dropped with it.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib

from .framing import MAX_EVENT_BYTES

__all__ = ["EventStreamParser", "encode_message"]

_PRELUDE = 12
_VALUE_SIZES = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}  # fixed-size header value types
_STRINGS = (6, 7)  # byte array, string: a 2-byte length first


class EventStreamParser:
    """``feed`` -> list of (event type, JSON text) of AWS event-stream messages."""

    __slots__ = ("_buf", "_skip", "_broken", "dropped")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # bytes of an oversized message still to discard
        self._broken = False  # a prelude failed its CRC: nothing after it can be framed
        self.dropped = 0

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self._broken or not chunk:
            return out
        if self._skip:
            n = min(self._skip, len(chunk))
            self._skip -= n
            chunk = chunk[n:]
        self._buf += chunk
        buf = self._buf
        start = 0
        while len(buf) - start >= _PRELUDE:
            total, head_len, crc = struct.unpack_from(">III", buf, start)
            if zlib.crc32(buf[start:start + 8]) != crc or total < _PRELUDE + 4 + head_len:
                self._broken = True
                self.dropped += 1
                buf.clear()
                return out
            if total > MAX_EVENT_BYTES:
                self.dropped += 1
                have = len(buf) - start
                if have >= total:
                    start += total
                    continue
                self._skip = total - have
                start = len(buf)
                break
            if len(buf) - start < total:
                break
            message = bytes(buf[start:start + total])
            start += total
            event = _message(message, head_len)
            if event is None:
                self.dropped += 1
            elif event[1]:
                out.append(event)
        del buf[:start]
        return out

    def finish(self) -> list[tuple[str, str]]:
        if self._buf and not self._broken:
            self.dropped += 1  # a message cut off
        self._buf.clear()
        return []


def _message(message: bytes, head_len: int) -> tuple[str, str] | None:
    """(event type, JSON text) of one whole message; None when it fails its CRC or its
    headers do not parse; ("", "") for a message with nothing to read."""
    if zlib.crc32(message[:-4]) != struct.unpack_from(">I", message, len(message) - 4)[0]:
        return None
    headers = _headers(message[_PRELUDE:_PRELUDE + head_len])
    if headers is None:
        return None
    payload = message[_PRELUDE + head_len:-4]
    kind = headers.get(":message-type", "event")
    if kind != "event":
        name = headers.get(":exception-type") or headers.get(":error-code") or kind
        return "error", json.dumps({"type": "error", "error": {"type": name[:64]}})
    event = headers.get(":event-type", "")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return event, "\ufffd"  # unreadable: the reader counts it
    if event == "chunk":  # InvokeModel's stream: the model's own event, base64 in `bytes`
        try:
            inner = json.loads(text).get("bytes")
            return event, base64.b64decode(inner, validate=True).decode("utf-8")
        except (ValueError, AttributeError, TypeError, binascii.Error, RecursionError):
            return event, "\ufffd"
    return event, text


def _headers(raw: bytes) -> dict[str, str] | None:
    """The string headers of a message (other types skipped); None when they do not parse."""
    out: dict[str, str] = {}
    i, end = 0, len(raw)
    while i < end:
        n = raw[i]
        name = raw[i + 1:i + 1 + n]
        i += 1 + n
        if i >= end:
            return None
        typ = raw[i]
        i += 1
        if typ in _STRINGS:
            if i + 2 > end:
                return None
            size = struct.unpack_from(">H", raw, i)[0]
            value = raw[i + 2:i + 2 + size]
            i += 2 + size
            if i > end:
                return None
            if typ == 7:
                out[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        elif typ in _VALUE_SIZES:
            i += _VALUE_SIZES[typ]
            if i > end:
                return None
        else:
            return None
    return out


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with string ``headers`` (for tests and fixtures)."""
    head = b"".join(bytes([len(k.encode())]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
                    for k, v in headers.items())
    total = _PRELUDE + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))
