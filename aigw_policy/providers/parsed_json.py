"""An answer's JSON parsed once for the two readers that parse it.

The gateway reads an upstream's answer twice. Its upstream side judges it before a byte goes
out: a whole JSON answer is parsed to see it is the API's (gateway/malformed.py), and each
event of a stream as it is passed on (gateway/stream_end.py: one that is not JSON ends the
stream there). The middleware then parses the same text again for the response phase and the
usage read (gateway/exchange.py, and :class:`~.sse.StreamUsage` for a stream's events). On a
short answer that second parse was a sixth of the gateway's own work on a stream.

:func:`keep` records what the first reader parsed, by the exact text it parsed; :func:`take`
gives it to the second, once, in place of ``json.loads`` of the very same text. Only a text
that ``json.loads`` parsed is kept, and it is taken only for an equal text, so what the
second reader gets is what its own ``json.loads`` would give (the objects are read, never
changed): a miss (another text, an entry already dropped) costs the parse it would have done
anyway, and no answer is read differently for a hit. :func:`loads` is ``json.loads`` of bytes
that keeps what it parsed when the bytes are ASCII (the text is then the same whichever way a
reader decodes them).

Bounded: at most :data:`MAX_KEPT` entries and :data:`MAX_CHARS` characters of text, the oldest
dropped first, none longer than :data:`MAX_TEXT`. A long stream's first events are gone by
its end, where the usage read has learned their shapes and no longer parses them (sse.py,
``LEARN_AFTER``); its last ones, the finish and the usage, are the latest kept.
"""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["MAX_CHARS", "MAX_KEPT", "MAX_TEXT", "MISSING", "keep", "loads", "take"]

MAX_KEPT = 256
"""Parsed texts kept at most (across every answer of the process)."""

MAX_TEXT = 64 * 1024
"""Characters of one text at most for its parse to be kept (a longer one is parsed again)."""

MAX_CHARS = 1024 * 1024
"""Characters of the texts kept, together, at most."""

MISSING = object()
"""What :func:`take` gives for a text that was not kept."""

_kept: dict[str, Any] = {}
_chars = 0
_lock = threading.Lock()  # the middleware's reader may run in a worker thread (a costly completion)


def keep(text: str, obj: Any) -> None:
    """Record ``obj``, what ``json.loads(text)`` gave, for :func:`take`."""
    global _chars
    size = len(text)
    if size > MAX_TEXT:
        return
    with _lock:
        if text in _kept:
            return  # (the same text again: the same parse)
        while _kept and (len(_kept) >= MAX_KEPT or _chars + size > MAX_CHARS):
            oldest = next(iter(_kept))
            del _kept[oldest]
            _chars -= len(oldest)
        _kept[text] = obj
        _chars += size


def take(text: str) -> Any:
    """What ``json.loads(text)`` gave when ``text`` was kept (and forget it), else :data:`MISSING`."""
    global _chars
    if not _kept:
        return MISSING
    with _lock:
        obj = _kept.pop(text, MISSING)
        if obj is not MISSING:
            _chars -= len(text)
        return obj


def loads(body: bytes) -> Any:
    """``json.loads(body)`` (raising as it does), its parse kept for a reader of the same text
    when ``body`` is ASCII with no NUL in its first 4 bytes (``json.loads`` of such bytes reads
    them as UTF-8: the same text as any reader's)."""
    if body.isascii() and b"\x00" not in body[:4]:
        text = body.decode("ascii")
        obj = json.loads(text)
        keep(text, obj)
        return obj
    return json.loads(body)


def clear() -> None:
    """Forget every kept text (tests)."""
    global _chars
    with _lock:
        _kept.clear()
        _chars = 0
