"""The Responses API's image generation tool runs on an image model of its own, and the Response
object reports that model's counts apart from ``usage`` (the Responses model's own), under
``tool_usage.image_gen``; the image model is the tool's ``model`` in the response's ``tools``,
``gpt-image-1`` when none is named (openai-python ``types/responses/tool.py``). Before
(payloads19), ``tool_usage`` was never read: a gpt-5.5 call that drew a 1024x1024 image with
gpt-image-2 was charged $0.0154 (its text) instead of $0.22612.

Provenance: the ``tool_usage`` shape (``image_gen`` and ``web_search.num_requests``) is
pydantic-ai's recorded cassette
``tests/models/cassettes/test_openai_responses/test_openai_responses_model_web_search_tool_without_external_access.yaml``
(trimmed); the gpt-5.5 + gpt-image-2 counts are those of a real upstream answer quoted in
Wei-Shaw/sub2api issue #1999. Prices: genai-prices' (``genai_prices.calc_price`` of each model,
summed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage

NOW = datetime(2026, 11, 1, tzinfo=UTC)
REQUEST = {"method": "POST", "url": "https://api.openai.com/v1/responses", "headers": {"content-type": "application/json"},
           "body": {"model": "gpt-5.5", "input": "Draw a lighthouse at dusk", "tools": [{"type": "image_generation"}]}}


def _image_gen(inp: int, out: int, *, image_in: int = 0) -> dict[str, Any]:
    return {"input_tokens": inp, "input_tokens_details": {"image_tokens": image_in, "text_tokens": inp - image_in},
            "output_tokens": out, "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
            "total_tokens": inp + out}


def _response(image_gen: dict[str, Any] | None, *, tool: dict[str, Any] | None = None, searches: int = 0,
              **extra: Any) -> dict[str, Any]:
    body = {"id": "resp_0c7d", "object": "response", "model": "gpt-5.5", "status": "completed",
            "output": [{"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "iVBORw0KGgo="},
                       {"type": "message", "content": [{"type": "output_text", "text": "Here it is."}]}],
            "tools": [tool or {"type": "image_generation", "model": "gpt-image-2", "quality": "auto", "size": "auto"}],
            "tool_usage": {"image_gen": image_gen, "web_search": {"num_requests": searches}},
            "usage": {"input_tokens": 1820, "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
                      "output_tokens": 210, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 2030},
            **extra}
    if image_gen is None:
        del body["tool_usage"]
    return body


def _json(body: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body}


def _sse(body: dict[str, Any]) -> dict[str, Any]:
    events = [{"type": "response.created", "response": {**body, "status": "in_progress", "usage": None, "output": []}},
              {"type": "response.image_generation_call.partial_image", "partial_image_b64": "iVBORw0KGgo="},
              {"type": "response.completed", "response": body}]
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


TEXT = Decimal("0.0154")  # gpt-5.5: 1820 * $5 + 210 * $30 per MTok
ROWS = [  # (id, stream, answer, the tool's (model, input, output) or None, the cost, a note)
    ("gpt-image-2, named by the tool", False, _json(_response(_image_gen(0, 7024))),
     ("gpt-image-2", 0, 7024), TEXT + Decimal("0.21072"), None),  # 7024 * $30
    ("the same, streamed", True, _sse(_response(_image_gen(0, 7024))),
     ("gpt-image-2", 0, 7024), TEXT + Decimal("0.21072"), None),
    ("no model named: gpt-image-1", False, _json(_response(_image_gen(50, 4160), tool={"type": "image_generation"})),
     ("gpt-image-1", 50, 4160), TEXT + Decimal("0.16665"), None),  # 50 * $5 + 4160 * $40
    ("gpt-image-1-mini, an image in the prompt", False,
     _json(_response(_image_gen(340, 1056, image_in=300), tool={"type": "image_generation", "model": "gpt-image-1-mini"})),
     ("gpt-image-1-mini", 340, 1056), TEXT + Decimal("0.009278"), None),  # 40 * $2 + 300 * $2.5 + 1056 * $8
    ("no image drawn: all zeros (the cassette's)", False, _json(_response(_image_gen(0, 0))), None, TEXT, None),
    ("no tool_usage at all", False, _json(_response(None)), None, TEXT, None),
    ("counts that are not counts", False, _json(_response({**_image_gen(0, 7024), "output_tokens": -1})), None, TEXT,
     "tool_usage.image_gen has no usable counts: not priced"),
]


@pytest.mark.parametrize(("stream", "answer", "tool", "usd", "note"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_image_generation_tool_is_priced_at_its_image_model(
        stream: bool, answer: dict[str, Any], tool: tuple[str, int, int] | None, usd: Decimal, note: str | None) -> None:
    ai = classify({**REQUEST, "body": {**REQUEST["body"], "stream": stream}})
    usage = extract_usage(ai, answer)
    # the Responses model's own counts, as before: the tool's are not added to them
    assert (usage.input_tokens, usage.output_tokens, usage.source, usage.model) == (1820, 210, "provider", "gpt-5.5")
    got = [(name, part.input_tokens, part.output_tokens) for name, part in usage.other_models]
    assert got == ([tool] if tool else [])
    if note is not None:
        assert note in usage.notes
    cost = PriceBook().cost("openai", usage.model, usage, at=NOW)
    assert (cost.usd, cost.source) == (usd, "genai-prices")
    assert cost.usd == cost.input_usd + cost.output_usd  # type: ignore[operator]


def test_an_image_model_without_a_price_is_an_unknown_cost_not_the_text_alone() -> None:
    usage = extract_usage(classify(REQUEST), _json(_response(
        _image_gen(0, 1000), tool={"type": "image_generation", "model": "gpt-image-9"})))
    cost = PriceBook().cost("openai", usage.model, usage, at=NOW)
    assert cost.usd is None and "gpt-image-9" in (cost.reason or "")


def test_an_override_prices_the_image_model_too() -> None:
    usage = extract_usage(classify(REQUEST), _json(_response(_image_gen(0, 1_000_000))))
    book = PriceBook.from_mapping({"gpt-5.5": {"input": 0, "output": 0}, "gpt-image-2": {"input": 1, "output": 2}})
    assert book.cost("openai", usage.model, usage, at=NOW).usd == Decimal(2)


def test_a_reported_cost_holds_the_tool_already() -> None:
    """OpenRouter's ``usage.cost`` is what it charged for the whole request: not added to."""
    body = _response(_image_gen(0, 7024))
    body["usage"] = {**body["usage"], "cost": 0.25}
    usage = extract_usage(classify({**REQUEST, "url": "https://openrouter.ai/api/v1/responses"}), _json(body))
    assert usage.other_models and PriceBook().cost("openrouter", usage.model, usage, at=NOW).usd == Decimal("0.25")
