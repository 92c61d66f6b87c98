"""A stream's first event that says something is read once, and nothing after it is
(aigw_policy/gateway/first_event.py: ``first_said``, ``sse_events``).

The answer's judgment (``foreign_stream``: is it the API's stream; ``stream_error``: is its
first event an error) took every event of what was read (a short stream is read whole before
a byte goes out) through the SSE parser and ``json.loads``, and then parsed the first one
again: a 7-event OpenAI stream cost 8 JSON parses to judge one event. The judgments must be
the same as before, for any bytes; only the work is less."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aigw_policy.gateway import first_event
from aigw_policy.gateway.api_shape import foreign_stream
from aigw_policy.gateway.first_event import first_said, says_nothing, sse_events, stream_error
from aigw_policy.providers import parsed_json
from aigw_policy.providers.framing import SSEParser

PIECES = [b"data: ", b"data:", b"event: ", b"event: message_start", b"event: error", b": keep-alive", b"\n", b"\r",
          b"\r\n", b"\n\n", b"\xef\xbb\xbf", b"{", b"}", b'"type"', b":", b'"message_start"', b'"error"', b",",
          b'{"choices": []}', b'{"type": "ping"}', b'{"error": {"code": 503}}', b"[DONE]", b"x", b"\xff", b" ",
          b"event: response.failed", b'{"type": "response.failed", "response": {"status": "failed"}}']

streams = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)


def _reference_first(events: list[tuple[str, str]]) -> tuple[str, str, Any] | None:
    """How the first event was found before: every event filtered, the first parsed again."""
    said = [e for e in events if not says_nothing(*e)]
    if not said:
        return None
    name, data = said[0]
    try:
        obj: Any = json.loads(data)
    except (ValueError, RecursionError):
        obj = first_event.NOT_JSON
    return name, data, obj


@settings(max_examples=400, deadline=None)
@given(streams)
def test_the_events_one_at_a_time_are_the_parsers(prefix: bytes) -> None:
    assert list(sse_events(prefix)) == SSEParser().feed(prefix)


@settings(max_examples=400, deadline=None)
@given(streams)
def test_the_first_event_said_is_the_one_found_before(prefix: bytes) -> None:
    events = SSEParser().feed(prefix)
    assert first_said(sse_events(prefix)) == _reference_first(events)


@pytest.mark.parametrize("url", ["http://h/v1/chat/completions", "http://h/v1/messages", "http://h/v1/responses"])
@settings(max_examples=150, deadline=None)
@given(prefix=streams)
def test_the_judgments_are_unchanged(url: str, prefix: bytes) -> None:
    first = _reference_first(SSEParser().feed(prefix))
    error = stream_error(prefix)
    if first is None or not isinstance(first[2], dict):
        assert error is None
    verdict = foreign_stream(200, url, "sse", prefix)
    if first is None:
        assert verdict is None
    elif first[1].strip() == "[DONE]":
        assert verdict is not None and "without an event" in verdict
    elif first[2] is first_event.NOT_JSON:
        assert verdict is not None and "not JSON" in verdict


def test_nothing_after_the_first_event_said_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    content = b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
    stream = (b'event: message_start\ndata: {"type": "message_start"}\n\n' + content * 50 + b"data: [DONE]\n\n")
    parsed: list[str] = []
    real = json.loads

    def counted(text: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(text)
        return real(text, *args, **kwargs)

    parsed_json.clear()
    monkeypatch.setattr(first_event.json, "loads", counted)
    fed: list[bytes] = []
    feed = SSEParser.feed
    monkeypatch.setattr(SSEParser, "feed", lambda self, chunk: fed.append(chunk) or feed(self, chunk))
    assert foreign_stream(200, "http://h/v1/chat/completions", "sse", stream) is None
    assert sum(len(chunk) for chunk in fed) <= len(stream) - 49 * len(content)  # read up to the first it judges
    assert stream_error(stream) is None  # (every event held is read for an error: route23; none says one)
    assert len(parsed) == 1  # the one event, once; an event without "error" in it is not parsed for one
    # (the opening event goes by its name)


def test_the_error_a_stream_says_is_the_callers_own() -> None:
    """The parse kept for the relay and the usage read is only read: what ``stream_error``
    gives the router (an attempt's outcome, which may be changed) is a parse of its own."""
    data = '{"error": {"code": 503, "message": "busy"}}'
    prefix = f"data: {data}\n\n".encode()
    parsed_json.clear()
    assert foreign_stream(200, "http://h/v1/chat/completions", "sse", prefix) is None
    status, said = stream_error(prefix)
    assert status == 503
    said["error"]["message"] = "changed"
    assert parsed_json.kept(data) == json.loads(data)


@settings(max_examples=400, deadline=None)
@given(streams)
@example(b'data: {"type": "response.failed", "response": {"status": "failed"}}\n\n')  # "failed", no "error"
@example(b'event: error\ndata: {"type": "x"}\n\n')
def test_a_stream_error_is_found_whatever_the_shortcut(prefix: bytes) -> None:
    """``stream_error`` skips an SSE prefix with no ``error`` nor ``failed`` in its bytes (no
    event of it can say one): the same answer as reading every event."""
    expected = next((failed for name, data in SSEParser().feed(prefix)
                     if (failed := first_event._event_error(name, data, "sse")) is not None), None)
    assert stream_error(prefix) == expected
