"""Events read by a learnt shape (shapes.py) give the usage ``json.loads`` of every event gives
(``sse.FAST_EVENTS`` off: the reference), for every provider's streams, hostile ones included:
usage keys inside text, escaped keys and quotes, numbers that only start like an integer,
events split at any byte, malformed and oversized events, models changing mid-stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify, sse, stream_usage
from aigw_policy.providers import framing as sse_framing
from aigw_policy.providers.shapes import cut, learn
from aigw_policy.providers.sse import StreamUsage
from aigw_policy.providers.usage import Usage

from .conftest import STREAM_CASES, Case

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = ["a", "b c", " ", '"', "\\", "/", "\n", "\t", "é", "中", "😀", "\ud800", "usage", "\\u0075sage", "\x00",
          '"usage": {"prompt_tokens": 9, "completion_tokens": 9}', '","usage":{"input_tokens":5},"x":"',
          '"content": "', "}", "{", "[", "\\u0022", "[DONE]", "data: x\n\n", "\r\n", "\x00aigw0", "\x00aigw1"]
text = st.lists(st.sampled_from(PIECES[:14]) | st.sampled_from(PIECES), max_size=6).map("".join)
"""Text: JSON escapes of all kinds, usage keys and JSON in it, a NUL now and then."""
models = st.sampled_from(["gpt-4o", "m2", "", "models/gemini-x"])
tiers = st.sampled_from([None, "default", "flex", "priority", ""])
num = st.sampled_from([0, 1, 2, 7, 1712000000] * 4 + [-1, 10**15, 10**16])  # past 15 digits: no hole


class Texts:
    """Builds one provider's events: content deltas most of the time, the rest at random."""

    @staticmethod
    def openai(d: Any, model: str, tier: str | None) -> dict[str, Any]:
        base: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": d(num),
                                "model": model, **({} if tier is None else {"service_tier": tier})}
        kind = d(st.sampled_from(["content"] * 20 + ["reasoning", "tool", "role", "stop", "usage", "error",
                                                         "completion", "usage_null"]))
        delta: dict[str, Any] = {"content": d(text)}
        if kind == "reasoning":
            delta = {"reasoning_content": d(text)}
        elif kind == "tool":
            delta = {"tool_calls": [{"index": d(num), "function": {"arguments": d(text)}}]}
        elif kind == "role":
            delta = {"role": "assistant", "content": ""}
        elif kind == "stop":
            delta = {}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None,
                                  "finish_reason": "stop" if kind == "stop" else None}
        if kind == "completion":
            choice = {"index": 0, "text": d(text)}
        out = {**base, "choices": [] if kind == "usage" else [choice]}
        if kind == "usage":
            out["usage"] = {"prompt_tokens": d(num), "completion_tokens": d(num), "total_tokens": d(num)}
        elif kind == "usage_null":
            out["usage"] = None
        elif kind == "error":
            out = {"error": {"message": d(text)}}
        if d(st.integers(0, 9)) == 0:  # (OpenAI's padding: on every chunk or on none)
            out["obfuscation"] = d(text)
        return out

    @staticmethod
    def responses(d: Any, model: str, tier: str | None) -> dict[str, Any]:
        kind = d(st.sampled_from(["delta"] * 20 + ["args", "created", "completed", "incomplete", "failed", "error"]))
        seq = d(num)
        if kind in ("delta", "args"):
            typ = "response.output_text.delta" if kind == "delta" else "response.function_call_arguments.delta"
            return {"type": typ, "sequence_number": seq, "item_id": "msg_1", "output_index": 0, "content_index": 0,
                    "delta": d(text), "obfuscation": d(text)}
        if kind == "error":
            return {"type": "error", "sequence_number": seq, "message": d(text)}
        usage = None if kind == "created" else {"input_tokens": d(num), "output_tokens": d(num)}
        return {"type": f"response.{kind}", "sequence_number": seq,
                "response": {"id": "resp_1", "model": model, "usage": usage, "service_tier": tier,
                             "text": {"format": {"type": "text"}}}}

    @staticmethod
    def anthropic(d: Any, model: str, tier: str | None) -> dict[str, Any]:
        kind = d(st.sampled_from(["text"] * 20 + ["thinking", "json", "start", "block", "ping", "stop",
                                                      "delta", "end", "error"]))
        index = d(num)
        if kind in ("text", "thinking", "json"):
            key = {"text": "text", "thinking": "thinking", "json": "partial_json"}[kind]
            return {"type": "content_block_delta", "index": index,
                    "delta": {"type": f"{kind}_delta", key: d(text)}}
        if kind == "start":
            return {"type": "message_start", "message": {"model": model, "content": [],
                                                         "usage": {"input_tokens": d(num), "output_tokens": 1}}}
        if kind == "block":
            return {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        if kind == "delta":
            return {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": d(num)}}
        return {"type": {"ping": "ping", "stop": "content_block_stop", "end": "message_stop", "error": "error"}[kind],
                "index": index}

    @staticmethod
    def gemini(d: Any, model: str, tier: str | None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"parts": [{"text": d(text)}], "role": "model"}, "index": 0}
        if d(st.integers(0, 5)) == 0:
            cand["finishReason"] = "STOP"
        out: dict[str, Any] = {"candidates": [cand], "modelVersion": model}
        if d(st.booleans()):
            out["usageMetadata"] = {"promptTokenCount": d(num), "candidatesTokenCount": d(num)}
        return out

    @staticmethod
    def ollama(d: Any, model: str, tier: str | None) -> dict[str, Any]:
        kind = d(st.sampled_from(["chat"] * 12 + ["generate", "done"]))
        base = {"model": model, "created_at": d(text)}
        if kind == "done":
            return {**base, "done": True, "prompt_eval_count": d(num), "eval_count": d(num)}
        if kind == "generate":
            return {**base, "response": d(text), "done": False}
        thinking = {"thinking": d(text)} if d(st.integers(0, 3)) == 0 else {}
        return {**base, "message": {"role": "assistant", "content": d(text), **thinking}, "done": False}


MUTATIONS = ['"', "\\", ".5", "e5", "0", "1", "-", "}", ",", " ", '"content": "q", ', '"index": 1, ',
             ',"usage":{"prompt_tokens":1,"completion_tokens":2}', "\\u0075"]


@st.composite
def event_text(draw: Any, api: str, style: dict[str, Any]) -> str:
    """One event's JSON text as a provider writes it, now and then made hostile."""
    build = getattr(Texts, api)
    other = draw(st.integers(0, style["switch"])) == 0  # another model, another service tier
    obj = build(draw, style["other"] if other else style["model"], draw(tiers) if other else style["tier"])
    raw = json.dumps(obj, ensure_ascii=style["ascii"], separators=style["seps"])
    how = draw(st.integers(0, style["calm"]))
    if how == 0:  # a piece put anywhere: a bad escape, a number that goes on, a second key, ...
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(MUTATIONS)) + raw[at:]
    elif how == 1:  # cut short
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == 2:  # keys spelt with an escape
        raw = raw.replace('"usage"', '"\\u0075sage"').replace('"content"', '"\\u0063ontent"')
    elif how == 3:
        raw = raw.replace('"type"', '"\\u0074ype"', 1)
    return raw


@st.composite
def streams(draw: Any) -> tuple[str, str | None, bytes]:
    """(api, framing, the stream's bytes)."""
    api = draw(st.sampled_from(["openai", "responses", "anthropic", "gemini", "gemini-array", "ollama"]))
    style = {"ascii": draw(st.booleans()), "seps": draw(st.sampled_from([None, (",", ":"), (", ", ": ")])),
             "model": draw(models), "other": draw(models), "tier": draw(tiers), "calm": draw(st.sampled_from([15, 200])),
             "switch": draw(st.sampled_from([1, 100]))}  # how often the other model is named
    kind = {"responses": "openai", "gemini-array": "gemini"}.get(api, api)
    n = draw(st.integers(0, 30))
    events = [draw(event_text(api if api != "gemini-array" else "gemini", style)) for _ in range(n)]
    if api == "ollama":
        data = "".join(e + draw(st.sampled_from(["\n", "\r\n", "\n\n"])) for e in events)
    elif api == "gemini-array":
        data = "[" + ",\r\n".join(events) + "]"
    else:
        end = draw(st.sampled_from(["\n", "\r\n"]))
        out = []
        for e in events:
            if draw(st.integers(0, 9)) == 0:  # a comment, a blank line
                out.append(": keep-alive" + end + end)
            if draw(st.integers(0, 9)) == 0:  # data on two lines
                at = draw(st.integers(0, len(e)))
                out.append(f"data: {e[:at]}{end}data: {e[at:]}{end}{end}")
            else:
                name = json.loads(e).get("type", "message") if kind == "anthropic" and _is_object(e) else None
                out.append((f"event: {name}{end}" if isinstance(name, str) and "\n" not in name else "")
                           + f"data: {e}{end}{end}")
        if draw(st.booleans()):
            out.append(f"data: [DONE]{end}{end}")
        data = "".join(out)
    raw = data.encode("utf-8", "replace")
    raw = raw[: draw(st.integers(0, len(raw)))] if draw(st.integers(0, 4)) == 0 else raw  # cut off
    return kind, "json-array" if api == "gemini-array" else None, raw


def _is_object(e: str) -> bool:
    try:
        return isinstance(json.loads(e), dict)
    except ValueError:
        return False


class ModelCounter:
    """Counts the text and the model it is counted for: an estimate that depends on the order
    in which the model and the text of an event are taken."""

    def count(self, text: str, model: str | None = None) -> int:
        return len(text) + sum(map(ord, model or ""))


def _usage(kind: str, framing: str | None, chunks: list[bytes], fast: bool, mp: pytest.MonkeyPatch) -> Usage:
    mp.setattr(sse, "FAST_EVENTS", fast)
    mp.setattr(sse, "LEARN_AFTER", 0)  # short streams learn too
    acc = StreamUsage(kind, input_estimate=11, counter=ModelCounter(), model="asked", framing=framing)
    for chunk in chunks:
        acc.feed(chunk)
    return acc.finish()


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@SETTINGS
@given(streams(), st.lists(st.integers(0, 10**5), max_size=8), st.sampled_from([4 * 1024 * 1024, 30]),
       st.sampled_from([8 * 1024 * 1024, 400]))
def test_shapes_give_the_usage_json_loads_gives(stream: tuple[str, str | None, bytes], cuts: list[int],
                                                text_chars: int, event_bytes: int) -> None:
    kind, framing, data = stream
    chunks = _chunks(data, cuts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sse, "MAX_TEXT_CHARS", text_chars)  # small: the text past it counted as it comes
        mp.setattr(sse_framing, "MAX_EVENT_BYTES", event_bytes)  # small: oversized events dropped
        assert _usage(kind, framing, chunks, True, mp) == _usage(kind, framing, chunks, False, mp)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_a_stream_fed_a_byte_at_a_time(stream: tuple[str, str | None, bytes]) -> None:
    kind, framing, data = stream
    chunks = [data[i : i + 1] for i in range(len(data))]
    with pytest.MonkeyPatch.context() as mp:
        assert _usage(kind, framing, chunks, True, mp) == _usage(kind, framing, [data], False, mp)


def _chunk(model: str, text: str, extra: str = "") -> str:
    return ('{"id":"c","created":1,"model":"%s","choices":[{"index":0,"delta":{"content":"%s"}}]%s}'
            % (model, text, extra))


HOSTILE = {  # (api, events): shapes learnt, then events that look like them but are not
    "model changes while text is counted": ("openai", [_chunk("a", "x"), _chunk("a", "y"), _chunk("bb", "z"),
                                                       _chunk("a", "w"), _chunk("", "v"), _chunk("a", "u")]),
    "usage after a delta's text": ("openai", [_chunk("a", "x"), _chunk("a", 'y"},"usage":{"prompt_tokens":3}}'),
                                              _chunk("a", "y", ',"usage":{"prompt_tokens":3,"completion_tokens":1}')]),
    "usage in the text": ("openai", [_chunk("a", "x"), _chunk("a", r'\"usage\":{\"prompt_tokens\":3}')]),
    "an escaped key": ("openai", [_chunk("a", "x"), _chunk("a", "y").replace('"content"', r'"\u0063ontent"')]),
    "a duplicate key": ("openai", [_chunk("a", "x"), _chunk("a", "y").replace('{"content"', '{"content":"z","content"')]),
    "a float where an integer was": ("openai", [_chunk("a", "x"), _chunk("a", "y").replace('"index":0', '"index":0.5')]),
    "a marker in a fixed value": ("openai", [
        '{"obfuscation":"q","\\u0064elta":"\\u0000aigw0","model":"a","type":"response.x.delta"}',
        '{"obfuscation":"r","\\u0064elta":"\\u0000aigw0","model":"a","type":"response.x.delta"}']),
    "text from a fixed value": ("openai", [
        '{"obfuscation":"q","\\u0064elta":"fixed","model":"a","type":"response.x.delta"}',
        '{"obfuscation":"r","\\u0064elta":"fixed","model":"a","type":"response.x.delta"}']),
    "a bad escape": ("anthropic", ['{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}',
                                   '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\\q"}}']),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("text_chars", [0, 4 * 1024 * 1024])
def test_hostile_lookalikes(name: str, text_chars: int, monkeypatch: pytest.MonkeyPatch) -> None:
    api, events = HOSTILE[name]
    data = "".join(f"data: {e}\n\n" for e in events).encode()
    monkeypatch.setattr(sse, "MAX_TEXT_CHARS", text_chars)
    assert _usage(api, None, [data], True, monkeypatch) == _usage(api, None, [data], False, monkeypatch)


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda c: c.id)
def test_recorded_streams_give_the_same_usage(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    ai = classify(case.expected["request"])
    monkeypatch.setattr(sse, "LEARN_AFTER", 0)
    got = []
    for fast in (True, False):
        monkeypatch.setattr(sse, "FAST_EVENTS", fast)
        acc = stream_usage(ai)
        acc.feed(case.payload)
        got.append(acc.finish())
    assert got[0] == got[1]


STREAMS = {  # (api, events): most read by a shape, the few that carry usage as JSON
    "openai": ("openai", ['{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o",'
                          '"service_tier":"priority","choices":'
                          '[{"index":0,"delta":{"content":"w%d"},"finish_reason":null}],"usage":null,'
                          '"obfuscation":"x%d"}' % (i, i) for i in range(50)]
               + ['{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":50}}']),
    "responses": ("openai", ['{"type":"response.output_text.delta","sequence_number":%d,"item_id":"m",'
                             '"output_index":0,"content_index":0,"delta":"w%d"}' % (i, i) for i in range(50)]
                  + ['{"type":"response.completed","response":{"model":"gpt-4o","usage":'
                     '{"input_tokens":5,"output_tokens":50}}}']),
    "anthropic": ("anthropic", ['{"type":"message_start","message":{"model":"claude","usage":{"input_tokens":5}}}']
                  + ['{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w%d"}}' % i
                     for i in range(50)]
                  + ['{"type":"message_delta","delta":{},"usage":{"output_tokens":50}}', '{"type":"message_stop"}']),
    "ollama": ("ollama", ['{"model":"l","created_at":"t%d","message":{"role":"assistant","content":"w%d"},'
                          '"done":false}' % (i, i) for i in range(50)]
               + ['{"model":"l","done":true,"prompt_eval_count":5,"eval_count":50}']),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_most_events_skip_json_loads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The property above is not vacuous: a usual stream's deltas are read by their shape."""
    api, events = STREAMS[name]
    calls: list[str] = []
    real = sse.loads
    monkeypatch.setattr(sse, "loads", lambda data: (calls.append(data), real(data))[1])
    framed = "".join(e + "\n" for e in events) if api == "ollama" else "".join(f"data: {e}\n\n" for e in events)
    acc = StreamUsage(api)
    acc.feed(framed.encode())
    usage = acc.finish()
    assert usage.source == "provider" and usage.output_tokens == 50
    assert len(calls) <= sse.LEARN_AFTER + 3, calls


def test_a_stream_of_events_without_holes_stops_looking(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event with nothing to cut costs a search of its whole text: a stream of such events
    looks at a bounded number of them, then reads them as JSON alone (a stream of 60 KB events
    without holes paid the search on every one: ~1.6x json.loads)."""
    looked: list[int] = []
    real = sse.cut
    monkeypatch.setattr(sse, "cut", lambda data: (looked.append(len(data)), real(data))[1])
    event = json.dumps({"object": "chat.completion.chunk", "model": "gpt-4o", "choices": [],
                        "pad": "x" * 1000})
    acc = StreamUsage("openai")
    acc.feed("".join(f"data: {event}\n\n" for _ in range(500)).encode())
    acc.finish()
    assert 0 < len(looked) <= sse._LEARNING


@pytest.mark.parametrize("data,holes", [
    ('{"content":"a"}', [("{\"content\":\"", True)]),
    ('{"index": 3, "text": "x"}', [('{"index": ', False), (', "text": "', True)]),
    ('{"index": 3.5, "text": "x"}', [('{"index": 3.5, "text": "', True)]),  # a float is fixed
    ('{"index": 10000000000000000}', None),  # an integer past 15 digits: fixed, so no hole
    ('{"x\\"content": "a"}', [('{"x\\"content": "', True)]),  # a key ending in "content: its value
    ('{"a": "\\"content\\": \\"b"}', None),  # inside a string: no key
    ('{"\\u0063ontent": "a"}', None),  # an escaped key is never a hole
    ('{"content": {"text": "a"}}', [('{"content": {"text": "', True)]),
    ('{"text": "a\\u0000"}', None),  # a NUL: never learnt (the markers have one)
])
def test_cut(data: str, holes: list[tuple[str, bool]] | None) -> None:
    got = cut(data)
    assert (None if got is None else list(got.parts)) == holes


def test_a_shape_reads_only_its_own_json() -> None:
    """A match is the learnt event with other hole values; anything else is no match."""
    holes = cut('{"index":0,"delta":{"text":"a"}}')
    assert holes is not None
    shape = learn(holes, lambda obj: ((), [obj["delta"]["text"]]))  # type: ignore[index]
    assert shape is not None and shape.texts == (0,)
    assert shape.read('{"index":12,"delta":{"text":"b\\"c\\u00e9"}}') == ['b"cé']
    for other in ['{"index":1.5,"delta":{"text":"b"}}', '{"index":01,"delta":{"text":"b"}}',
                  '{"index":1,"delta":{"text":"b"}} ', '{"index":1,"delta":{"text":"b\\x"}}',
                  '{"index":1,"delta":{"text":"b\n"}}', '{"index":1,"delta":{"text":"b"},"usage":{}}',
                  '{"index":1,"delta":{"text":"b', '{"index":-,"delta":{"text":"b"}}']:
        assert shape.read(other) is None, other


def test_an_event_that_does_more_than_text_is_not_learnt() -> None:
    holes = cut('{"type":"message_delta","index":0,"usage":{"output_tokens":3}}')
    acc = StreamUsage("anthropic")
    assert holes is not None and learn(holes, acc._effect) is None
