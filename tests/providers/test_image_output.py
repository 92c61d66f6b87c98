"""An image generation's output is image tokens (``data/images/answers.json``): the Images API's
answer, its stream's ``image_generation.completed`` / ``image_edit.completed``, the Responses API's
image tool (``tool_usage.image_gen``). Their ``output_tokens`` are the image's unless an
``output_tokens_details`` says how many are text. Models that price their image output apart from
their text output (gpt-image-1.5, chatgpt-image-latest: $32 against $10 per MTok) cost 3.2x less
than billed when the output was read as text, as it was before (payloads23) for every answer
without a breakdown, streamed or not; a model with one output price (gpt-image-1) is unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage, stream_usage

DATA = json.loads((Path(__file__).parent / "data" / "images" / "answers.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]
KEYS = {"id", "model", "request", "response", "tokens", "output_image_tokens", "usd_by_hand"}
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def test_the_table_is_spelt_right() -> None:
    assert len(CASES) >= 6
    for case in CASES:
        assert set(case) == KEYS, case.get("id")
        assert set(case["usd_by_hand"]) <= set("0123456789.*/+-() e")


def _usage(case: dict[str, Any]) -> Any:
    ai = classify(case["request"])
    return ai, extract_usage(ai, case["response"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_an_image_generations_output_is_priced_as_image(case: dict[str, Any]) -> None:
    ai, usage = _usage(case)
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (*case["tokens"], "provider")
    assert usage.unit("output_image_tokens") == case["output_image_tokens"]
    cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW)
    assert cost.usd is not None and cost.reason is None
    assert float(cost.usd) == pytest.approx(eval(case["usd_by_hand"]), rel=1e-9)  # noqa: S307 - digits and operators


@pytest.mark.parametrize("case", [c for c in CASES if "sse" in c["response"]],
                         ids=[c["id"] for c in CASES if "sse" in c["response"]])
@pytest.mark.parametrize("size", [1, 7, 64, 4096])
def test_a_streamed_image_is_read_the_same_in_any_pieces(case: dict[str, Any], size: int) -> None:
    ai, whole = _usage(case)
    acc = stream_usage(ai)
    raw = case["response"]["sse"].encode()
    for i in range(0, len(raw), size):
        acc.feed(raw[i:i + size])
    assert acc.finish() == whole
