"""The relay's check cuts a stream at its blank lines exactly where ``rb"\\r?\\n\\r?\\n"`` does
(aigw_policy/gateway/stream_end.py: ``_events``), found by a faster search.

The pattern opening with an optional ``\\r`` made ``re`` try a match at every byte: 780 us to
cut a 200-event stream of 40 KB, more than parsing its events' JSON. The blank line is now found
at its first ``\\n`` and moved back over a ``\\r`` before it; the events, and so every judgment,
must be the same for any bytes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.gateway.stream_end import StreamCheck, _events, _split, unfinished

OLD = re.compile(rb"\r?\n\r?\n")

streams = st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b"data: {}", b"data: [DONE]", b"data: {x",
                                    b'data: {"choices": [{"finish_reason": "stop"}]}', b": ping"]),
                   max_size=30).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(streams)
def test_the_events_are_cut_where_the_old_pattern_cut_them(data: bytes) -> None:
    assert list(_events(data)) == [(m.start(), m.end()) for m in OLD.finditer(data)]
    assert _split(data) == OLD.split(data)


@settings(max_examples=300, deadline=None)
@given(streams)
def test_the_judgments_are_the_old_patterns(data: bytes) -> None:
    def old_feed(check: StreamCheck, events: bytes) -> int:
        start = 0
        for end in OLD.finditer(events):
            if check._event(events[start:end.start()], True):
                return start
            start = end.end()
        return -1

    url = "http://h/v1/chat/completions"
    new, old = StreamCheck.of(url, "sse"), StreamCheck.of(url, "sse")
    assert new is not None and old is not None
    assert new.feed(data) == old_feed(old, data)
    assert new.unfinished == old.unfinished
    ended = StreamCheck.of(url, "sse")
    assert ended is not None
    for event in reversed(OLD.split(data)):  # the old read of a whole stream, from its end
        if event.strip():
            ended._event(event, False)
            if ended.ended:
                break
    assert (unfinished(200, url, "sse", data) is None) == ended.ended


# -- the shapes of a long stream's events (stream_end.StreamCheck: read without json.loads) --

_TEXTS = st.lists(st.sampled_from(['a', ' ', '"', '\\', '\n', '\x01', 'é', '\U0001f600', '{', '}', ':', ',',
                                   'finish_reason', '"stop"', 'error', '\ud800']), max_size=12).map("".join)


def _json_text(value: str) -> str:
    """A JSON string of ``value`` as a server writes it (escaped), or raw and so maybe broken."""
    import json
    return json.dumps(value)


@st.composite
def _chat_events(draw: st.DrawFn) -> bytes:
    events = []
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(["delta", "delta", "delta", "raw", "int", "finish", "error", "usage", "done",
                                     "ping", "float"]))
        text = draw(_TEXTS)
        if kind == "delta":
            body = '{"id":"c","created":%d,"choices":[{"index":%d,"delta":{"content":%s},"finish_reason":null}]}' % (
                draw(st.integers(0, 10**12)), draw(st.integers(0, 3)), _json_text(text))
        elif kind == "raw":  # the text written without escaping: a quote, a control character break the JSON
            body = '{"id":"c","created":1,"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}' % text
        elif kind == "int":  # a hole's integer that is no integer JSON reads the same way
            body = '{"id":"c","created":%s,"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}' % (
                draw(st.sampled_from(["01", "1e3", "-0", "1.5", "99999999999999999999", "-", "1_0"])))
        elif kind == "finish":
            body = '{"id":"c","created":1,"choices":[{"index":0,"delta":{"content":%s},"finish_reason":"stop"}]}' % (
                _json_text(text))
        elif kind == "error":
            body = '{"error":{"message":%s}}' % _json_text(text)
        elif kind == "usage":
            body = '{"id":"c","created":1,"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}'
        elif kind == "float":
            body = '{"id":"c","created":1.0,"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}'
        elif kind == "done":
            events.append(b"data: [DONE]\n\n")
            continue
        else:
            events.append(b": ping\n\n")
            continue
        events.append(b"data: " + body.encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"\n\n", b"\r\n\r\n"])))
    return b"".join(events)


@settings(max_examples=400, deadline=None)
@given(_chat_events(), st.lists(st.integers(1, 400), max_size=6))
def test_a_long_streams_shapes_judge_as_parsing_every_event_does(data: bytes, cuts: list[int]) -> None:
    url = "http://h/v1/chat/completions"
    learning, parsing = StreamCheck.of(url, "sse"), StreamCheck.of(url, "sse")
    assert learning is not None and parsing is not None
    parsing.tries = 0  # never learns: every event through json.loads
    pieces, start = [], 0
    for at in sorted(cuts):  # whole events, as the relay's framer gives them, in a few pieces
        end = data.find(b"\n\n", min(at + start, len(data)))
        if end < 0:
            break
        pieces.append(data[start:end + 2])
        start = end + 2
    pieces.append(data[start:])
    for piece in pieces:
        bad = learning.feed(piece)
        assert bad == parsing.feed(piece)
        assert learning.ended == parsing.ended
        if bad >= 0:
            break
    else:
        learning.finish(b"")
        parsing.finish(b"")
    assert learning.unfinished == parsing.unfinished


def test_a_long_stream_is_read_by_its_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    parsed: list[str] = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: parsed.append(s) or real(s, *a, **k))
    events = [b'data: {"id":"c","created":%d,"choices":[{"index":0,"delta":{"content":"w%d"},"finish_reason":null}]}\n\n'
              % (i, i) for i in range(200)]
    check = StreamCheck.of("http://h/v1/chat/completions", "sse")
    assert check is not None
    assert check.feed(b"".join(events) + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n') == -1
    assert not check.unfinished
    assert len(parsed) <= 20, len(parsed)  # 9 before learning, the learnt shape's marked text, the finish
