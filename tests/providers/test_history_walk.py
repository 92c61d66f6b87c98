"""The walk over a request's history (providers/history.py: ``text_of`` for the prompt,
``calls_of`` for the tool calls sent back) takes JSON's own types by exact type before the
Mapping ABC check, which cost ~0.2 us a value: an 83 KB Anthropic agent history (180
messages, 60 tool calls) is classified in about a third of the time. Held here to the general way
(the walk as it was, below) over any history, with mappings, strings and lists of other
types too; a call's arguments that are not a string are compact JSON, as the tool
definitions are (docs/providers.md, "Token estimates before the request")."""

from __future__ import annotations

import json
from collections import UserDict
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify
from aigw_policy.providers.history import calls_of as _calls_of, text_of as _text_of


def plain_text_of(content: object, out: list[str]) -> None:
    if isinstance(content, str):
        out.append(content)
    elif isinstance(content, list):
        for part in content:
            plain_text_of(part, out)
    elif isinstance(content, Mapping):
        for key in ("text", "input_text", "thinking"):
            if isinstance(content.get(key), str):
                out.append(content[key])
        if "content" in content and content.get("type") in ("tool_result", "message", None):
            plain_text_of(content["content"], out)
        if "parts" in content:
            plain_text_of(content["parts"], out)


def plain_calls_of(item: object, out: list[str]) -> None:
    if isinstance(item, list):
        for part in item:
            plain_calls_of(part, out)
        return
    if not isinstance(item, Mapping):
        return
    calls = item.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            fn = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(fn, Mapping):
                _plain_argument(fn.get("arguments"), out)
    legacy = item.get("function_call")
    if isinstance(legacy, Mapping):
        _plain_argument(legacy.get("arguments"), out)
    kind = item.get("type")
    if kind == "function_call":
        _plain_argument(item.get("arguments"), out)
    elif kind == "tool_use":
        _plain_argument(item.get("input"), out)
    for key in ("functionCall", "function_call", "functionResponse", "function_response"):
        part = item.get(key) if kind is None else None
        if isinstance(part, Mapping):
            _plain_argument(part.get("args", part.get("response")), out)
    for key in ("content", "parts"):
        inner = item.get(key)
        if isinstance(inner, (list, Mapping)):
            plain_calls_of(inner, out)


def _plain_argument(value: object, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif value is not None:
        try:  # a value that is not JSON (a UserDict inside) has no text: nothing is counted
            out.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
        except (TypeError, ValueError):
            pass


KEYS = st.sampled_from(["text", "input_text", "thinking", "content", "parts", "type", "tool_calls", "function",
                        "arguments", "function_call", "input", "functionCall", "functionResponse", "args", "response",
                        "role", "x"])
TYPES = st.sampled_from(["tool_result", "message", "tool_use", "function_call", "text", None])
SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8) | TYPES


class Text(str):
    """A str subclass, as a Python caller may pass."""


class Parts(list):  # type: ignore[type-arg]
    """A list subclass."""


def _wrapped(value: Any) -> st.SearchStrategy[Any]:
    """The value itself, or in the other types a Python caller may build (subclasses, UserDict)."""
    if isinstance(value, dict):
        return st.sampled_from([value, UserDict(value)])
    if isinstance(value, str):
        return st.sampled_from([value, Text(value)])
    if isinstance(value, list):
        return st.sampled_from([value, Parts(value)])
    return st.just(value)


HISTORY = st.recursive(SCALARS.flatmap(_wrapped), lambda inner: (st.lists(inner, max_size=4)
                                                                 | st.dictionaries(KEYS, inner, max_size=5)).flatmap(_wrapped),
                       max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(HISTORY)
def test_the_walks_find_what_the_general_way_finds(history: Any) -> None:
    got: list[str] = []
    want: list[str] = []
    _text_of(history, got)
    plain_text_of(history, want)
    assert got == want
    got, want = [], []
    _calls_of(history, got)
    plain_calls_of(history, want)
    assert got == want


def test_subclasses_and_other_mappings_are_walked() -> None:
    out: list[str] = []
    _text_of(Parts([Text("a"), UserDict({"text": "b"}), 3, None]), out)
    assert out == ["a", "b"]


def test_an_anthropic_agent_history_counts_its_calls_once() -> None:
    calls = [{"role": "assistant", "content": [{"type": "text", "text": "reading"},
                                                {"type": "tool_use", "id": f"t{i}", "name": "read",
                                                 "input": {"path": f"src/m{i}.py"}}]} for i in range(3)]
    body = {"model": "claude-sonnet-4", "max_tokens": 10, "messages": [{"role": "user", "content": "go"}, *calls]}
    out: list[str] = []
    _calls_of(body["messages"], out)
    assert out == ['{"path":"src/m0.py"}', '{"path":"src/m1.py"}', '{"path":"src/m2.py"}']
    ai = classify({"method": "POST", "url": "https://api.anthropic.com/v1/messages", "headers": {}, "body": body})
    assert "src/m1.py" not in ai.prompt  # arguments are input tokens, not the prompt's text


def test_arguments_that_are_not_json_count_nothing_either_way() -> None:
    """A call's arguments that hold a UserDict have no JSON text: both walks skip them (the
    general way's reference raised TypeError there, a CI flake of the property above)."""
    history = [{"type": "function_call", "arguments": {"x": UserDict({"a": 1})}},
               {"type": "function_call", "arguments": UserDict({"a": 1})}]
    got: list[str] = []
    want: list[str] = []
    _calls_of(history, got)
    plain_calls_of(history, want)
    assert got == want == []
