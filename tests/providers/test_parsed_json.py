"""A served stream's events are parsed once for the relay's check and the usage read
(aigw_policy/providers/parsed_json.py).

The usage read took the same text the relay had just parsed and parsed it again, every event
of every stream. Now it takes the relay's parse of the very same text; the usage must be what
it was without it, for every stream payload we hold, and the kept parses stay bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.gateway.stream_end import StreamCheck
from aigw_policy.providers import classify, extract_usage, parsed_json
from aigw_policy.providers.parsed_json import MAX_KEPT, MAX_TEXT, MISSING, keep, take

from .test_stream_repeats import STREAMS


@pytest.fixture(autouse=True)
def _nothing_kept() -> Any:
    parsed_json.clear()
    yield
    parsed_json.clear()


def _relayed(url: str, text: str) -> None:
    """What the relay does with a stream it passes on: each event checked (and its parse kept)."""
    check = StreamCheck.of(url, "sse")
    if check is not None:
        check.feed(text.encode("utf-8"))
        check.finish(b"")


def _seen(usage: Any) -> tuple[Any, ...]:
    return usage.counts(), usage.units, usage.other_models, usage.reported_usd, usage.source, usage.model, usage.notes


@pytest.mark.parametrize("name,request_,response,key", STREAMS, ids=[s[0] for s in STREAMS])
def test_the_usage_read_after_the_relay_is_the_usage_read_alone(name: str, request_: dict[str, Any],
                                                                 response: dict[str, Any], key: str) -> None:
    decision = classify(request_)
    alone = extract_usage(decision, response)
    _relayed(request_["url"], response[key])
    assert _seen(extract_usage(decision, response)) == _seen(alone)


def test_a_relayed_stream_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [
        {"index": 0, "delta": {"content": "word"}, "finish_reason": None}]}
    events = [dict(chunk, choices=[{**chunk["choices"][0], "delta": {"content": f"w{i}"}}]) for i in range(6)]
    events += [dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
               dict(chunk, choices=[], usage={"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15})]
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    request = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
               "headers": {"content-type": "application/json"},
               "body": {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}}
    response = {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}
    _relayed(request["url"], text)
    parsed: list[Any] = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: parsed.append(s) or real(s, *a, **k))
    usage = extract_usage(classify(request), response)
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (9, 6, "provider")
    assert [s for s in parsed if "chat.completion.chunk" in s] == []


def test_a_text_not_kept_is_missing_and_taken_once() -> None:
    assert take('{"a": 1}') is MISSING
    keep('{"a": 1}', {"a": 1})
    assert take('{"a": 1}') == {"a": 1}
    assert take('{"a": 1}') is MISSING
    keep("x" * (MAX_TEXT + 1), [1])
    assert take("x" * (MAX_TEXT + 1)) is MISSING


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, MAX_KEPT * 2)), max_size=MAX_KEPT * 3))
def test_what_is_taken_is_what_was_kept_for_that_text_and_the_kept_stay_bounded(steps: list[tuple[bool, int]]) -> None:
    parsed_json.clear()
    model: dict[str, Any] = {}
    for keeping, n in steps:
        text = f'{{"n": {n}}}'
        if keeping:
            keep(text, {"n": n})
            model[text] = {"n": n}
        else:
            got = take(text)
            assert got is MISSING or got == model.pop(text)  # an entry may have been dropped, never changed
            model.pop(text, None)
        assert len(parsed_json._kept) <= MAX_KEPT
