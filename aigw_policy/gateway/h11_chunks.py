"""A chunked request body's size lines as h11 reads them, held to what llhttp refuses at once.

h11 (the protocol ``serve``'s server runs without httptools, and what embedders' servers may
run) reads a chunk-size line only once its CRLF has come, and reads up to 20 hex digits into a
Python int; llhttp reads the line as it comes, refuses a size past 64 bits ("Chunk size
overflow") and any character a size line cannot hold ("Invalid character in chunk size"). So
under h11 ``fffffffffffffffffff`` was a chunk to wait for, and a line ended by a bare LF, or
beginning with no hex digit, a line never ended: each held its connection until
``body_timeout`` (30 s) for a 408 (serve28 left the first; serve29's battery found the others).
:func:`chunk_fault` says why such a body is refused, read after each read h11 took in.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MAX_CHUNK_SIZE", "chunk_fault"]

MAX_CHUNK_SIZE = 2 ** 64 - 1
"""The largest chunk size a request's chunked body may declare: llhttp's (a 64-bit count). Under
h11 a size within one read's length of it counts as past it (h11 says only what is left of a
chunk once its line is read)."""

_LOOKED_AT = 40
"""Bytes of a size line still unfinished that are looked at (20 hex digits and the character
after them, with room): a slow line costs a slice of this, never a copy of h11's buffer."""

_SIZE = re.compile(rb"[0-9A-Fa-f]*")
_AFTER_SIZE = frozenset(b"; \t\r")  # an extension, whitespace before it (llhttp lenient), the CR


def chunk_fault(conn: Any, read: int) -> str | None:
    """Why the body h11's ``conn`` (an ``h11.Connection``) is reading is refused now, or None:
    a chunk declared past :data:`MAX_CHUNK_SIZE` (``read``: the bytes h11 just took in, some of
    which it may have counted off the chunk already), or a size line still unfinished that no
    CRLF can make a size line (a bare LF, a first character that is no hex digit, a character
    after the digits that neither an extension nor the CR begins, a size past 64 bits).
    None for any other body, and at once when h11 reads none (~0.2 us)."""
    reader = getattr(conn, "_reader", None)
    left = getattr(reader, "_bytes_in_chunk", None)
    if left is None:  # not a chunked body (h11's ChunkedReader) being read
        return None
    if left + read > MAX_CHUNK_SIZE:
        return "Chunk size overflow"
    if left or reader._reading_trailer or reader._bytes_to_discard:  # within a chunk, its CRLF, the trailer
        return None
    head = bytes(getattr(getattr(conn, "_receive_buffer", None), "_data", b"")[:_LOOKED_AT])
    line = head.split(b"\r\n", 1)[0]
    if not line:
        return None
    if b"\n" in line:
        return "Invalid character in chunk size: a bare LF ends its line"
    digits = _SIZE.match(line).group()  # type: ignore[union-attr] - `*` always matches
    if not digits or (len(digits) < len(line) and line[len(digits)] not in _AFTER_SIZE):
        return "Invalid character in chunk size"
    return "Chunk size overflow" if int(digits, 16) > MAX_CHUNK_SIZE else None
