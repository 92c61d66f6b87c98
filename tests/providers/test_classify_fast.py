"""classify's fast paths agree with the general code they stand in for (issue #15).

* ``_openai_fast``: an OpenAI-shaped body of the common shape; any other shape goes to the
  general functions. Compared with classify run with the fast path switched off.
* ``_headers2``: two header names in one pass, as two lookups of :func:`plain_header`.
* ``HeuristicCounter.count``: an ASCII text's byte size, and the words counted only when
  their bound (the whitespace bytes) could outnumber the bytes' tokens.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers.classify import _headers2, classify
from aigw_policy.providers.tokens import HeuristicCounter

classify_module = importlib.import_module("aigw_policy.providers.classify")  # the package exports the function


class Text(str):
    """A str subclass: only the general code takes it (as it takes any str)."""


counts = (st.none() | st.integers(-3, 5) | st.sampled_from([2**53 - 1, 2**53, 10**20, True, False])
          | st.floats(allow_nan=True) | st.sampled_from([3.0, "7", [1]]))
texts = st.text(max_size=6) | st.sampled_from(["héllo wörld", "a\udc80b", "two words", Text("sub")])
parts = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "input_text", "image_url"]),
                                        "text": texts}), max_size=2)
contents = st.none() | texts | parts | st.integers(0, 3)
messages = st.lists(
    st.fixed_dictionaries({}, optional={"role": st.sampled_from(["user", "system"]), "content": contents,
                                        "output": st.none() | texts | st.integers(0, 3),
                                        "type": st.sampled_from(["message", "function_call_output"])})
    | texts | st.integers(0, 9) | st.none(),
    max_size=4)
bodies = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from(["gpt-4o", "x" * 300, 5, None]),
    "messages": messages | texts | st.none() | st.integers(0, 2),
    "input": messages | texts | st.none(),
    "prompt": texts | st.lists(st.integers(0, 9), max_size=3) | st.none(),
    "instructions": texts | st.none() | st.integers(0, 2) | parts,
    "max_tokens": counts, "max_completion_tokens": counts, "max_output_tokens": counts,
    "n": counts, "best_of": counts,
    "stream": st.sampled_from([True, False, None, "yes"]),
    "stream_options": st.sampled_from([None, {"include_usage": True}, {}, "x"]),
    "tools": st.sampled_from([None, [], [{"type": "function", "function": {"name": "f"}}]]),
    "models": st.sampled_from([None, ["a", "b"], [1], "a"]),
})
# the common shape, which the fast path answers (the strategy above mostly leaves it)
good_counts = st.none() | st.integers(0, 5) | st.just(2**53 - 1)
good_items = st.lists(st.fixed_dictionaries({}, optional={"role": st.just("user"), "content": st.none() | st.text(max_size=4),
                                                          "output": st.none() | st.text(max_size=4)}), max_size=3)
common = st.fixed_dictionaries({"model": st.just("gpt-4o")}, optional={
    "messages": good_items | st.text(max_size=4), "input": good_items | st.text(max_size=4) | st.none(),
    "prompt": st.text(max_size=4), "instructions": st.none() | st.text(max_size=4),
    "max_tokens": good_counts, "max_completion_tokens": good_counts, "max_output_tokens": good_counts,
    "n": good_counts, "best_of": good_counts,
})
urls = st.sampled_from(["https://api.openai.com/v1/chat/completions", "/v1/completions", "/v1/responses",
                        "/v1/embeddings", "https://gw.example/other", "http://localhost:11434/v1/chat/completions"])


def _plain(request: Mapping[str, Any], **kwargs: Any) -> Any:
    saved = classify_module._openai_fast
    classify_module._openai_fast = lambda op, body: None
    try:
        return classify(request, **kwargs)
    finally:
        classify_module._openai_fast = saved


@settings(max_examples=600, deadline=None)
@given(bodies | common, urls, st.sampled_from([None, "chat", "responses", "completion", "embeddings", "other"]))
def test_the_openai_fast_path_classifies_as_the_general_code(body: dict[str, Any], url: str,
                                                             operation: str | None) -> None:
    request = {"method": "POST", "url": url, "headers": {}, "body": body}
    assert classify(request, operation=operation) == _plain(request, operation=operation)


def test_the_fast_path_takes_the_common_shape() -> None:
    """The shape the gateway sees most is answered by the fast path (not just passed on)."""
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                            {"role": "user", "content": "hi there"}], "max_tokens": 300, "n": 2}
    assert classify_module._openai_fast("chat", body) == (300, 2, "be brief\nhi there", 2)
    assert classify_module._openai_fast("chat", {**body, "max_tokens": "300"}) is None


def plain_header(headers: object, name: str) -> str | None:
    """The one-name lookup classify made twice before issue #15."""
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            if isinstance(value, list):
                value = value[0] if value else None
            return value if isinstance(value, str) else None
    return None


names = st.sampled_from(["X-AIGW-Provider", "x-aigw-provider", "Anthropic-Version", "anthropic-version",
                         "content-type", 5, "X-Aigw-Provider "])
values = st.sampled_from(["openai", "2023-06-01", "", 3, None]) | st.lists(st.sampled_from(["vllm", "", 4]),
                                                                          max_size=2)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, values, max_size=5) | st.sampled_from([None, "x", ["a"]]))
def test_two_headers_in_one_pass_are_two_lookups(headers: Any) -> None:
    want = (plain_header(headers, "x-aigw-provider"), plain_header(headers, "anthropic-version"))
    assert _headers2(headers, "x-aigw-provider", "anthropic-version") == want


SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
"""Every character ``str.split`` splits on."""


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40) | st.text(st.sampled_from(["a", "b", "\u00e9", "\u4e2d"] + SPACES), max_size=60)
       | st.lists(st.sampled_from(["word", "a", " ", "\n", "\u3000", "\u00a0", "\ud800", "\x1f"]), max_size=80).map("".join),
       st.sampled_from([4.0, 3.5, 1.0, 8.0]))
def test_the_heuristic_counts_bytes_and_words_as_the_plain_way(text: str, per_token: float) -> None:
    """The byte size without encoding ASCII, and the words counted only when they could
    outnumber the bytes' tokens: the same count as encoding and splitting every time."""
    counter = HeuristicCounter(per_token)
    want = max(int(len(text.encode("utf-8", "replace")) / per_token + 0.999), len(text.split()), 1) if text else 0
    assert counter.count(text) == want


def test_every_whitespace_character_has_a_counted_byte() -> None:
    """The word bound counts one byte of each character ``str.split`` splits on."""
    from aigw_policy.providers.tokens import _SPACE

    for c in SPACES:
        data = c.encode("utf-8")
        assert sum(1 for b in data if b in _SPACE) == 1, repr(c)


@pytest.mark.parametrize("body", [{"messages": [{"content": Text("a")}]}, {"prompt": [1, 2]},
                                  {"input": [{"content": [{"type": "input_text", "text": "x"}]}]},
                                  {"max_tokens": 5.0}, {"n": 0}])
def test_other_shapes_go_to_the_general_code(body: dict[str, Any]) -> None:
    assert classify_module._openai_fast("chat", body) is None


def test_of_builds_what_the_constructor_builds() -> None:
    from dataclasses import fields

    from aigw_policy.providers import AiRequest

    values = ("openai", "chat", "gpt-4o", True, 300, 12, 2, ("f",), "hi", "openai", True, 3, ("n",),
              (("request.body.n", "bad"),), ("a",), False, True, 2)
    assert len(values) == len(fields(AiRequest))
    built, want = AiRequest._of(*values), AiRequest(*values)
    assert built == want and hash(built) == hash(want) and repr(built) == repr(want)
    assert [getattr(built, f.name) for f in fields(AiRequest)] == list(values)
    with pytest.raises(ValueError):
        AiRequest._of(*values[:-1])
