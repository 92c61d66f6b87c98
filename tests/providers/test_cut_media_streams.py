"""A stream of images or audio cut before its usage estimates what was made, not 0
(``data/streams/cut_media.json``): a partial image means the image was being drawn (its output
tokens, by the size and quality its events or the request's tool name, OpenAI's table for
gpt-image-1, and 100 for each partial image), a chat answer's audio deltas are audio output (pcm16
at 24 kHz, 20 tokens a second). Before (payloads29) both were 0 output tokens: a cut gpt-image-1
high 1536x1024 edit, $0.25 of output, was charged its input alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import PriceBook, classify, extract_usage
from aigw_policy.providers.tokens import DEFAULT_COUNTER

DATA = json.loads((Path(__file__).parent / "data" / "streams" / "cut_media.json").read_text())
ROWS: list[dict[str, Any]] = DATA["rows"]
KEYS = {"id", "source", "request", "sse", "output_image_tokens", "output_audio_tokens", "text"}


def test_the_rows_are_spelt_right() -> None:
    for row in ROWS:
        assert KEYS <= set(row) <= KEYS | {"tool_model"}, row["id"]


def _usage(row: dict[str, Any], sse: str) -> Any:
    ai = classify(row["request"])
    return ai, extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": sse})


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_a_cut_stream_of_media_estimates_what_was_made(row: dict[str, Any]) -> None:
    ai, usage = _usage(row, row["sse"])
    assert usage.source == "estimate"
    text = DEFAULT_COUNTER.count(row["text"], usage.model or ai.model) if row["text"] else 0
    if "tool_model" in row:  # the Responses API's image tool: its model's usage, apart from the text model's
        (model, part), = usage.other_models
        assert (model, part.output_tokens, part.unit("output_image_tokens")) == (
            row["tool_model"], row["output_image_tokens"], row["output_image_tokens"])
        assert usage.output_tokens == text
        return
    assert usage.output_tokens == text + row["output_image_tokens"] + row["output_audio_tokens"]
    assert usage.unit("output_image_tokens") == row["output_image_tokens"]
    assert usage.unit("output_audio_tokens") == row["output_audio_tokens"]
    cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage)
    assert cost.usd is not None and float(cost.output_usd) > 0, cost


@settings(max_examples=60, deadline=None)
@given(row=st.sampled_from(ROWS), cut=st.floats(0, 1))
def test_more_of_a_media_stream_never_estimates_less(row: dict[str, Any], cut: float) -> None:
    def made(usage: Any) -> int:
        return usage.output_tokens + sum(u.output_tokens for _, u in usage.other_models)

    whole = row["sse"]
    assert 0 <= made(_usage(row, whole[: int(len(whole) * cut)])[1]) <= made(_usage(row, whole)[1])
