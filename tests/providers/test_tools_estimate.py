"""The tool definitions' share of a request's token estimate (docs/providers.md, "Token
estimates before the request"): the count of their compact JSON, written by pydantic-core's
serializer rather than ``json.dumps`` (an agent's 40 tools: ~50 us instead of ~160)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify
from aigw_policy.providers.tokens import HeuristicCounter

URL = "https://api.openai.com/v1/chat/completions"

# what JSON gives, without floats (their shortest forms differ between serializers: `1e+16`, `1e16`)
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=30)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=20)
TOOL = st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=20)}, optional={"description": st.text(max_size=60), "parameters": JSON})})


def _request(tools: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
    if tools is not None:
        body["tools"] = tools
    return {"method": "POST", "url": URL, "headers": {}, "body": body}


@settings(max_examples=200, deadline=None)
@given(st.lists(TOOL, min_size=1, max_size=5))
def test_the_tools_add_the_count_of_their_compact_json(tools: list[dict[str, Any]]) -> None:
    counter = HeuristicCounter()
    text = json.dumps(tools, ensure_ascii=False, separators=(",", ":"))
    added = classify(_request(tools)).input_tokens - classify(_request()).input_tokens
    assert added == counter.count(text)


def test_tools_that_are_not_json_leave_a_note_not_an_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    for tools in ([{"type": "function", "function": {"name": "f", "x": object()}}],
                  [{"type": "function", "function": {"name": "f", "parameters": loop}}]):
        ai = classify(_request(tools))
        assert "tools not serializable" in ai.notes
        assert ai.input_tokens == classify(_request()).input_tokens


def test_deep_tools_leave_a_note_not_an_error() -> None:
    deep: Any = {}
    for _ in range(2_000):
        deep = {"a": deep}
    ai = classify(_request([{"type": "function", "function": {"name": "f", "parameters": deep}}]))
    assert "tools not serializable" in ai.notes
