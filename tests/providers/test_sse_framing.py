"""SSEParser's fast framing (a chunk with no CR, nothing held back: lines split at once) gives
the events the general line-by-line way gives, whatever the stream and however it is cut."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import framing
from aigw_policy.providers.framing import SSEParser

FIELDS = [b"data: ", b"data:", b"data", b"event: ", b"event:", b": ", b":", b"id: ", b"retry: ", b"", b"\xef\xbb\xbf"]
VALUES = [b"", b"[DONE]", b'{"a": 1}', b"message_delta", b"x" * 70, b"y" * 12, "é中".encode(), b"\xff\xfe", b" "]


def _stream(ends: list[bytes]) -> st.SearchStrategy[bytes]:
    """Lines (a field, a value, an end of line), the last one perhaps without its end."""
    line = st.tuples(st.sampled_from(FIELDS), st.sampled_from(VALUES) | st.binary(max_size=8), st.sampled_from(ends))
    return st.tuples(st.lists(line, max_size=30), st.booleans()).map(
        lambda t: b"".join(f + v + e for f, v, e in t[0])[: None if t[1] else -1])


streams = _stream([b"\n"]) | _stream([b"\n", b"\n", b"\r\n", b"\r"])
"""Streams with LF ends only (what the fast framing takes, as serve captures them), and with
any ends."""


def _run(data: bytes, cuts: list[int], fast: bool, monkeypatch: Any) -> tuple[list[tuple[str, str]], int]:
    monkeypatch.setattr(framing, "FAST_FRAMING", fast)
    parser = SSEParser()
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out += parser.feed(data[prev:p])
        prev = p
    return out + parser.finish(), parser.dropped


@settings(max_examples=600, deadline=None)
@given(streams, st.lists(st.integers(0, 400), max_size=6), st.sampled_from([16, 64, 8 * 1024 * 1024]))
def test_fast_framing_gives_the_general_ways_events(data: bytes, cuts: list[int], bound: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(framing, "MAX_EVENT_BYTES", bound)  # small: the oversized lines and events too
        assert _run(data, cuts, True, mp) == _run(data, cuts, False, mp)


def test_a_whole_clean_stream_takes_the_fast_framing(monkeypatch: Any) -> None:
    """The captured stream of ``serve`` (whole, LF only) is framed without the line loop."""
    calls: list[int] = []
    real = SSEParser._lines
    monkeypatch.setattr(SSEParser, "_lines", lambda self, chunk, out: (calls.append(1), real(self, chunk, out))[1])
    parser = SSEParser()
    events = parser.feed(b'data: {"a": 1}\n\nevent: x\ndata: 2\n\n') + parser.finish()
    assert events == [("message", '{"a": 1}'), ("x", "2")] and calls == [1]


def test_a_stream_read_in_pieces_takes_the_fast_framing(monkeypatch: Any) -> None:
    """A stream too long to keep, fed as read (pieces cut inside lines): each piece is framed
    without the line loop, the line it cut carried into the next."""
    calls: list[int] = []
    real = SSEParser._lines
    monkeypatch.setattr(SSEParser, "_lines", lambda self, chunk, out: (calls.append(1), real(self, chunk, out))[1])
    data = b"".join(b'data: {"n": %d}\n\n' % i for i in range(40))
    parser = SSEParser()
    events = [e for i in range(0, len(data), 7) for e in parser.feed(data[i : i + 7])] + parser.finish()
    assert events == [("message", '{"n": %d}' % i) for i in range(40)]
    assert len(calls) == -(-len(data) // 7)


@pytest.mark.parametrize("fast", [True, False])
def test_an_endless_line_is_not_kept(fast: bool, monkeypatch: Any) -> None:
    """A line that never ends is dropped past the bound, not held in memory, either way."""
    monkeypatch.setattr(framing, "FAST_FRAMING", fast)
    monkeypatch.setattr(framing, "MAX_EVENT_BYTES", 64)
    parser = SSEParser()
    parser.feed(b'data: {"a": 1}\n\ndata: ' + b"x" * 100)
    assert len(parser._buf) <= 64
    for _ in range(5):
        parser.feed(b"x" * 100)
        assert len(parser._buf) <= 64
    assert parser.feed(b"\n\n") == [] and parser.dropped == 1
