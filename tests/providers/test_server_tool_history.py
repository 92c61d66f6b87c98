"""What the server-side tools, MCP and custom tools put in a history a client sends back is
read by the model and billed as input (``data/history/server_tools.json``, from the SDKs'
request types): a result's text is prompt text (``ai.prompt``, what content rules read), a
call's arguments are counted as the other calls' are. Before, each of these counted nothing:
Anthropic's ``*_tool_result`` blocks of its server tools and MCP, their ``server_tool_use`` /
``mcp_tool_use`` calls, the Responses API's custom, MCP, shell, patch and code interpreter
items, and a stored prompt's variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify
from aigw_policy.providers.tokens import DEFAULT_COUNTER

DATA = json.loads((Path(__file__).parent / "data" / "history" / "server_tools.json").read_text())
CASES = DATA["cases"]
WORDS = "the launch code is SECRET and the plan is set " * 40


def _fill(value: Any, words: str) -> Any:
    if value == "WORDS":
        return words
    if isinstance(value, list):
        return [_fill(v, words) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, words) for k, v in value.items()}
    return value


def _classify(case: dict[str, Any], words: str) -> Any:
    headers = {"anthropic-version": "2023-06-01"} if "anthropic.com" in case["url"] else {}
    return classify({"method": "POST", "url": case["url"], "headers": headers, "body": _fill(case["body"], words)})


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_what_a_tool_gave_back_is_counted(case: dict[str, Any]) -> None:
    ai = _classify(case, WORDS)
    without = _classify(case, "")
    words = DEFAULT_COUNTER.count(WORDS)
    assert words - 5 <= ai.input_tokens - without.input_tokens <= words + 10, (ai.input_tokens, without.input_tokens)
    assert ("SECRET" in ai.prompt) is case["prompt"]
    assert ai.problems == ()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_twice_the_text_counts_twice(case: dict[str, Any]) -> None:
    one = _classify(case, WORDS).input_tokens - _classify(case, "").input_tokens
    two = _classify(case, WORDS * 2).input_tokens - _classify(case, "").input_tokens
    assert abs(two - 2 * one) <= 5


_KEYS = st.sampled_from(["text", "input_text", "thinking", "refusal", "content", "parts", "type", "stdout", "stderr",
                         "logs", "output", "source", "data", "document"])
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.sampled_from(["a b", "c", "text", "document",
                                                                                  "tool_result", "x_tool_result"]),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
                     max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_a_result_holds_at_least_the_text_any_content_does(value: Any) -> None:
    """What a tool gave back is read as any content is, and its own shapes besides: never less
    (a function's output parts were read by ``text_of`` before)."""
    from collections import Counter

    from aigw_policy.providers.history import result_text, text_of

    plain: list[str] = []
    text_of(value, plain)
    result: list[str] = []
    result_text(value, result)
    assert not Counter(plain) - Counter(result)
