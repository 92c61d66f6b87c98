"""A request's media (images, documents, audio, video) count in its input estimate
(``data/media/requests.json``: every wire format's media parts, as the providers' references
write them). They counted nothing before, so twenty images passed a `max-tokens` input cap of
1,000, a token limit reserved their words only, and a stream cut before its usage was charged
as if no image had been sent. The share of each part is :mod:`aigw_policy.providers.media`'s
documented figure; the text of each body adds its own few tokens."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.providers import classify
from aigw_policy.providers.media import media_tokens

DATA = json.loads((Path(__file__).parent / "data" / "media" / "requests.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]
IDS = [c["id"] for c in CASES]
TEXT_SHARE = 40
"""At most what the text, the messages' overhead and a model's name add in these bodies."""


def test_the_table_is_spelt_right() -> None:
    assert len(CASES) >= 15 and len(set(IDS)) == len(IDS)
    for case in CASES:
        assert set(case) == {"id", "media_tokens", "request"}, case.get("id")
        assert set(case["request"]) == {"method", "url", "headers", "body"}, case["id"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_requests_media_count_in_its_input_estimate(case: dict[str, Any]) -> None:
    ai = classify(case["request"])
    want = case["media_tokens"]
    assert media_tokens(ai.api, case["request"]["body"]) == want
    assert want <= ai.input_tokens <= want + TEXT_SHARE, (ai.input_tokens, want)
    assert "base64" not in ai.prompt and not any(len(w) > 200 for w in ai.prompt.split())  # no bytes as text


@pytest.mark.parametrize("case", [c for c in CASES if c["media_tokens"]], ids=[c["id"] for c in CASES if c["media_tokens"]])
def test_each_part_more_adds_its_share(case: dict[str, Any]) -> None:
    """Sending the same messages twice counts their media twice: the estimate grows with the parts."""
    body = case["request"]["body"]
    key = next(k for k in ("messages", "contents", "input") if k in body) if "images" not in body else "images"
    doubled = {**body, key: [*body[key], *copy.deepcopy(body[key])]}
    ai = classify({**case["request"], "body": doubled})
    assert media_tokens(ai.api, doubled) == 2 * case["media_tokens"]
    assert ai.input_tokens >= 2 * case["media_tokens"]


def test_an_input_cap_sees_the_images() -> None:
    """A `max-tokens` input cap cannot be passed by sending pictures instead of words."""
    engine = ap.Engine(ap.loads('policy { on request { rule "cap" { max-tokens { input: 1000, mode: "reject" } } } }'))
    one = CASES[0]["request"]
    part = one["body"]["messages"][0]["content"][1]
    many = {**one, "body": {**one["body"], "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                                                     *[part] * 20]}]}}
    assert engine.evaluate({"request": one}, expect_response=False).verdict == "allow"
    assert engine.evaluate({"request": many}, expect_response=False).status_code == 413


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                         st.sampled_from(["type", "content", "parts", "image", "inlineData", "mimeType", "data",
                                          "source", "images", "detail", "image_url", "input_audio", "bytes"]),
                         inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["openai", "anthropic", "gemini", "bedrock", "ollama", "cohere"]), _JSON)
def test_any_json_counts_a_whole_number_and_never_raises(api: str, messages: object) -> None:
    n = media_tokens(api, {"messages": messages, "contents": messages})
    assert type(n) is int and n >= 0
