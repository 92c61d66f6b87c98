"""Google names its models as resources (``models/gemini-2.5-flash``: what its model list
answers, what google-genai accepts), and its OpenAI-compatible endpoint takes them so. The name
is the model's on every Gemini surface: ``ai.model`` is the plain name and the price is the
model's. Before, only the native API's bodies dropped the prefix: a chat completion naming
``models/gemini-2.5-flash`` had no price (a usd cap refused it) and an answer echoing the
resource name was unpriced too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
COMPAT = "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
USAGE = {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}


def _answer(model: str) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"},
            "body": {"id": "x", "object": "chat.completion", "created": 1, "model": model, "usage": USAGE,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]}}


@pytest.mark.parametrize("sent", ["models/gemini-2.5-flash", "gemini-2.5-flash"])
@pytest.mark.parametrize("echoed", ["models/gemini-2.5-flash", "gemini-2.5-flash", None])
def test_a_resource_name_is_the_models_name(sent: str, echoed: str | None) -> None:
    ai = classify({"method": "POST", "url": COMPAT, "headers": {},
                   "body": {"model": sent, "messages": [{"role": "user", "content": "hi"}]}})
    assert (ai.provider, ai.model) == ("gemini", "gemini-2.5-flash")
    answer = _answer(echoed) if echoed else _answer("x")
    if echoed is None:
        del answer["body"]["model"]
    usage = extract_usage(ai, answer)
    cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW)
    plain = PriceBook().cost("gemini", "gemini-2.5-flash", usage, at=NOW)
    assert cost.usd is not None and cost.usd == plain.usd and cost.reason is None
