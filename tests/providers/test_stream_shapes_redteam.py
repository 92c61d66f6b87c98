"""Adversarial lookalikes for the event shapes of shapes.py: each case teaches a stream a shape
(its ``teach`` events, read once as JSON and then by their shape), then sends events built to
be read wrongly by it: a hole key whose value changes type or meaning, duplicate and escaped
keys, numbers that only start like an integer, markers, usage and ``[DONE]`` inside holes, a
shape's prefix on an event that does more, events near :data:`shapes.MAX_LEARN_CHARS`, split
``data:`` lines. The usage must be the one ``json.loads`` of every event gives."""

from __future__ import annotations

import json

import pytest

from aigw_policy.providers import sse
from aigw_policy.providers import shapes
from aigw_policy.providers.sse import StreamUsage
from aigw_policy.providers.usage import Usage


class ModelCounter:
    """An estimate that depends on the model each text is counted for."""

    name = "model-counter"

    def count(self, text: str, model: str | None = None) -> int:
        return len(text) + sum(map(ord, model or ""))


def _chat(content: str = "a", *, model: str = "m", extra: str = "", index: str = "0") -> str:
    return ('{"id":"c","created":1,"model":"%s","choices":[{"index":%s,"delta":{"content":%s}}]%s}'
            % (model, index, json.dumps(content), extra))


def _tool(args: str = "{", index: str = "0") -> str:
    return ('{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":'
            '[{"index":%s,"function":{"arguments":%s}}]}}]}' % (index, json.dumps(args)))


def _claude(text: str = "a", *, kind: str = "text_delta", key: str = "text", extra: str = "") -> str:
    return ('{"type":"content_block_delta","index":0,"delta":{"type":"%s","%s":%s}%s}'
            % (kind, key, json.dumps(text), extra))


def _resp(delta: str = '"a"', typ: str = "response.output_text.delta") -> str:
    return ('{"type":"%s","sequence_number":1,"item_id":"i","output_index":0,"content_index":0,"delta":%s}'
            % (typ, delta))


def _gemini(part: str = '{"text":"a"}', *, model: str = "models/g", extra: str = "") -> str:
    return ('{"candidates":[{"content":{"parts":[%s],"role":"model"},"index":0}],"modelVersion":"%s"%s}'
            % (part, model, extra))


def _ollama(content: str = "a", *, model: str = "l", extra: str = "") -> str:
    return ('{"model":"%s","created_at":"t","message":{"role":"assistant","content":%s},"done":false%s}'
            % (model, json.dumps(content), extra))


BIG = shapes.MAX_LEARN_CHARS - len(_chat(""))  # a content this long makes an event MAX_LEARN_CHARS long

CASES: dict[str, tuple[str, str | None, list[str], list[str]]] = {
    # (api, framing, teach, probes)
    "tool-call index changes (arguments grouped by it?)": ("openai", None, [_tool("{", "0")], [
        _tool('"a":', "1"), _tool("1}", "-0"), _tool("x", "01"), _tool("x", "1e2"), _tool("x", "2.0"),
        _tool("x", str(10**15)), _tool("x", str(10**16)), _tool("x", "NaN"), _tool("x", "-Infinity")]),
    "choice index changes": ("openai", None, [_chat("a")], [_chat("b", index="1"), _chat("c", index="-1"),
                                                           _chat("d", index='"0"'), _chat("e", index="null")]),
    "delta a string, then an object": ("openai", None, [_resp()], [
        _resp('{"text":"x"}'), _resp('{"content":"y"}'), _resp("null"), _resp("7"), _resp('"z"')]),
    "delta an object (Anthropic), then a string": ("anthropic", None, [_claude()], [
        '{"type":"content_block_delta","index":0,"delta":"s"}', _claude("t")]),
    "text, thinking, partial_json: one shape each": ("anthropic", None, [
        _claude("a"), _claude("b", kind="thinking_delta", key="thinking"),
        _claude("{", kind="input_json_delta", key="partial_json")], [
        _claude("c", kind="signature_delta", key="signature"), _claude("d", key="thinking"),
        _claude("e", kind="citations_delta", key="citation")]),
    "response a string (Ollama's), then an object naming a model": ("openai", None, [
        '{"type":"response.in_progress","sequence_number":1,"response":"x"}',
        '{"type":"response.in_progress","sequence_number":2,"response":{"model":"a","created_at":1}}'], [
        '{"type":"response.in_progress","sequence_number":3,"response":{"model":"b","created_at":2}}',
        '{"type":"response.in_progress","sequence_number":4,"response":"y"}',
        '{"type":"response.completed","sequence_number":5,"response":{"model":"c","created_at":3,'
        '"usage":{"input_tokens":4,"output_tokens":6},"service_tier":"flex"}}']),
    "Ollama generate: response text, then the done line": ("ollama", None, [
        '{"model":"l","created_at":"t","response":"a","done":false}'], [
        '{"model":"l","created_at":"t","response":"b","done":true}',
        '{"model":"l","created_at":"t","response":"c","done":true,"eval_count":9}']),
    "a duplicate hole key, the later one null": ("openai", None, [
        _chat("a").replace('{"content"', '{"content":"z","content"'),
        _chat("a").replace('"a"}', '"a","content":null}')], [
        _chat("b").replace('{"content"', '{"content":"y","content"'),
        _chat("b").replace('"b"}', '"b","content":null}'), _chat("c").replace('"c"}', '"c","content":"d"}')]),
    "a duplicate delta: an object, then a string": ("openai", None, [
        '{"type":"response.output_text.delta","delta":{"text":"a"},"delta":"b"}'], [
        '{"type":"response.output_text.delta","delta":{"text":"c"},"delta":"d"}',
        '{"type":"response.output_text.delta","delta":{"text":"e"},"delta":{"x":1}}']),
    "a duplicate non-hole key (model, type) after the holes": ("openai", None, [_chat("a", extra=',"model":"m"')], [
        _chat("b", extra=',"model":"n"'), _chat("c", extra=',"type":"response.x.delta","delta":"q"')]),
    "a duplicate type in an Anthropic delta": ("anthropic", None, [
        _claude("a", extra=',"type":"content_block_delta"')], [
        _claude("b", extra=',"type":"message_stop"'), _claude("c", extra=',"type":"content_block_delta"')]),
    "escaped and lookalike keys": ("openai", None, [_chat("a")], [
        _chat("b").replace('"content"', '"\\u0063ontent"'), _chat("c").replace('"content"', '"\\"content"'),
        _chat("d").replace('"content"', '"content "'), _chat("e").replace('"content":', '"content" : ')]),
    "markers, usage and [DONE] in holes": ("openai", None, [_chat("a", extra=',"obfuscation":"o"')], [
        _chat("\x00aigw0", extra=',"obfuscation":"\x00aigw0"'), _chat("\x00aigw1", extra=',"obfuscation":"p"'),
        _chat("[DONE]", extra=',"obfuscation":"[DONE]"'),
        _chat('","usage":{"prompt_tokens":3,"completion_tokens":1},"x":"'),
        _chat('"}]}', extra=',"obfuscation":"\\"}]},\\"usage\\":{}"')]),
    "a marker as a fixed text, beside a hole": ("openai", None, [
        '{"type":"response.x.delta","\\u0064elta":"\\u0000aigw0","obfuscation":"q","model":"\\u0000aigw0"}'], [
        '{"type":"response.x.delta","\\u0064elta":"\\u0000aigw0","obfuscation":"r","model":"\\u0000aigw0"}']),
    "a delta's prefix on a usage chunk": ("openai", None, [_chat("a")], [
        _chat("b", extra=',"usage":{"prompt_tokens":3,"completion_tokens":2}'),
        _chat("c", extra=',"usage":null'), _chat("d", extra=',"error":{"code":"x"}'), _chat("e")]),
    "a delta's prefix on message_delta usage": ("anthropic", None, [
        '{"type":"message_start","message":{"model":"c","usage":{"input_tokens":5}}}', _claude("a")], [
        _claude("b", extra=',"usage":{"output_tokens":9}'),
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"c"},"type":"message_delta",'
        '"usage":{"output_tokens":7}}']),
    "the model and tier change mid-stream": ("openai", None, [
        _chat("a", extra=',"service_tier":"flex"'), _chat("a", model="")], [
        _chat("b", model="n", extra=',"service_tier":"flex"'), _chat("c", extra=',"service_tier":"priority"'),
        _chat("d", model="", extra=',"service_tier":"default"'), _chat("e", model="")]),
    "Gemini: function call args with hole keys, the model changing": ("gemini", None, [
        _gemini(), _gemini('{"functionCall":{"name":"f","args":{"text":"a","index":1}}}')], [
        _gemini('{"functionCall":{"name":"f","args":{"text":"b","index":2}}}'),
        _gemini('{"text":"c","thought":true}'), _gemini(model="models/h"), _gemini(model="models/"),
        _gemini(extra=',"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}')]),
    "Gemini as a JSON array": ("gemini", "json-array", [_gemini()], [
        _gemini('{"text":"}]"}'), _gemini(extra=',"promptFeedback":{"blockReason":"SAFETY"}')]),
    "Ollama: thinking and the model changing": ("ollama", None, [_ollama()], [
        _ollama("b", model="k"), _ollama("c").replace('"content"', '"thinking":"t","content"'),
        _ollama("d", extra=',"error":"x"'), _ollama("e", extra=',"done":true,"eval_count":3')]),
    "events near MAX_LEARN_CHARS": ("openai", None, [_chat("x" * (BIG - 1)), _chat("x" * BIG)], [
        _chat("y" * (BIG + 1)), _chat("é" * BIG), _chat("z"), _chat("\\" * BIG)]),
    "more holes than a shape takes": ("openai", None, [_chat("a", extra="".join(
        ',"index":%d' % i for i in range(shapes.MAX_HOLES)))], [_chat("b", extra="".join(
            ',"index":%d' % i for i in range(shapes.MAX_HOLES))), _chat("c", extra=',"index":1')]),
}


def _frame(api: str, framing: str | None, events: list[str], split: bool) -> bytes:
    if framing == "json-array":
        return ("[" + ",\r\n".join(events) + "]").encode("utf-8", "replace")
    if api == "ollama":
        return "".join(e + "\n" for e in events).encode("utf-8", "replace")
    out = []
    for e in events:
        at = e.find('":"') + 2 if split else -1  # split at a hole's opening quote: two data: lines
        out.append(f"data: {e[:at]}\ndata: {e[at:]}\n\n" if at > 1 else f"data: {e}\n\n")
    return "".join(out).encode("utf-8", "replace")


def _usage(api: str, framing: str | None, data: bytes, fast: bool, mp: pytest.MonkeyPatch) -> tuple[Usage, int]:
    mp.setattr(sse, "FAST_EVENTS", fast)
    mp.setattr(sse, "LEARN_AFTER", 0)
    calls: list[str] = []
    real = sse.loads

    def loads(data: str) -> tuple[object, str | None]:
        calls.append(data)
        return real(data)

    mp.setattr(sse, "loads", loads)
    acc = StreamUsage(api, input_estimate=11, counter=ModelCounter(), model="asked", framing=framing)
    acc.feed(data)
    return acc.finish(), len(calls)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("text_chars", [3, 4 * 1024 * 1024])
def test_lookalikes_give_the_usage_json_loads_gives(name: str, split: bool, text_chars: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    api, framing, teach, probes = CASES[name]
    events = teach * 3 + [p for probe in probes for p in (probe, *teach)]
    data = _frame(api, framing, events, split)
    monkeypatch.setattr(sse, "MAX_TEXT_CHARS", text_chars)
    fast, loaded = _usage(api, framing, data, True, monkeypatch)
    slow, _ = _usage(api, framing, data, False, monkeypatch)
    assert fast == slow
    if name not in ("more holes than a shape takes", "a marker as a fixed text, beside a hole"):
        assert loaded < len(events)  # not vacuous: some events were read by a shape
