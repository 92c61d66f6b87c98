"""Anthropic's 1-hour cache writes: read from every usage shape (data/cache_1h/usage_shapes.json),
streamed or not, through the Messages API and Vertex AI, and priced at their own price.

Each case's object is read as one answer's ``usage`` and as a stream's (in ``message_start``,
and repeated, cumulative, in ``message_delta``); the 1-hour writes are a part of the writes,
never input twice, and cost ``(1h price - 5m price)`` each more than 5-minute writes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import PriceBook, ProviderError, Usage, classify, extract_usage, stream_usage
from aigw_policy.providers.prices import ModelPrice

DATA = json.loads((Path(__file__).parent / "data" / "cache_1h" / "usage_shapes.json").read_text())
CASES = DATA["cases"]
TRUSTED = [c for c in CASES if c["want"] is not None]
URLS = {"anthropic": "https://api.anthropic.com/v1/messages",
        "vertex_ai": "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/"
                     "anthropic/models/claude-sonnet-4-5@20250929:rawPredict"}
MODEL = "claude-sonnet-4-5-20250929"
#: Sonnet 4.5, USD per million tokens: 5-minute writes 3.75 (1.25x input), 1-hour writes 6 (2x)
STEP = (Decimal(6) - Decimal("3.75")) / 1_000_000


def _ai(where: str, stream: bool = False) -> Any:
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    if where == "vertex_ai":
        body = {"anthropic_version": "vertex-2023-10-16", **{k: v for k, v in body.items() if k != "model"}}
    if stream:
        body["stream"] = True
    return classify({"method": "POST", "url": URLS[where] if not stream else URLS[where].replace(
        ":rawPredict", ":streamRawPredict"), "headers": {"content-type": "application/json"}, "body": body})


def _counts(u: Usage) -> dict[str, Any]:
    return {"input_tokens": u.input_tokens, "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_creation_1h_input_tokens": u.cache_creation_1h_input_tokens, "notes": list(u.notes)}


def _sse(usage: dict[str, Any], *, repeated: bool) -> str:
    """A stream as the Messages API sends it: the input counts in ``message_start`` (output 1),
    the output in ``message_delta``, which newer versions make cumulative (``repeated``)."""
    start = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                  "model": MODEL, "content": [], "usage": {**usage, "output_tokens": 1}}}
    delta_usage = dict(usage) if repeated else {"output_tokens": usage.get("output_tokens")}
    events = [("message_start", start),
              ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
              ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "Hello there."}}),
              ("content_block_stop", {"type": "content_block_stop", "index": 0}),
              ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": delta_usage}),
              ("message_stop", {"type": "message_stop"})]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


@pytest.mark.parametrize("where", list(URLS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_an_answer_gives_the_counts_of_its_usage(case: dict[str, Any], where: str) -> None:
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "text", "text": "Hello there."}], "usage": case["usage"]}
    got = extract_usage(_ai(where), {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body})
    if case["want"] is None:  # a bad count: the object is not trusted, the usage estimated
        assert got.source == "estimate" and got.cache_creation_1h_input_tokens == 0
        return
    assert got.source == "provider"
    assert _counts(got) == case["want"]
    assert got.output_tokens == case["usage"]["output_tokens"]


@pytest.mark.parametrize("repeated", [False, True], ids=["start", "start+delta"])
@pytest.mark.parametrize("where", list(URLS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_a_stream_gives_the_same_counts(case: dict[str, Any], where: str, repeated: bool) -> None:
    acc = stream_usage(_ai(where, stream=True))
    sse = _sse(case["usage"], repeated=repeated).encode()
    for i in range(0, len(sse), 97):  # chunks that cut events anywhere
        acc.feed(sse[i:i + 97])
    got = acc.finish()
    if case["want"] is None:  # nothing of the untrusted object is read
        assert (got.cache_creation_input_tokens, got.cache_creation_1h_input_tokens) == (0, 0)
        return
    assert got.source == "provider"
    assert _counts(got) == case["want"]
    assert got.output_tokens == case["usage"]["output_tokens"]


@pytest.mark.parametrize("case", TRUSTED, ids=lambda c: c["name"])
def test_one_hour_writes_cost_their_price_difference_more(case: dict[str, Any]) -> None:
    """What a usage costs less what its writes would cost all at five minutes (the charge
    before the 1-hour writes were read): the 1-hour writes times (6 - 3.75) USD per MTok."""
    got = extract_usage(_ai("anthropic"), {"status_code": 200, "body": {"model": MODEL, "usage": case["usage"]}})
    five = Usage.of(got.input_tokens, got.output_tokens, cached_input_tokens=got.cached_input_tokens,
                    cache_creation_input_tokens=got.cache_creation_input_tokens)
    book = PriceBook()
    cost, before = book.cost("anthropic", MODEL, got), book.cost("anthropic", MODEL, five)
    assert cost.usd - before.usd == got.cache_creation_1h_input_tokens * STEP  # type: ignore[operator]
    assert cost.input_usd - before.input_usd == cost.usd - before.usd  # type: ignore[operator]


COUNT = st.integers(0, 10**7)


@settings(max_examples=150, deadline=None)
@given(COUNT, COUNT, COUNT, COUNT, st.one_of(st.none(), COUNT), st.integers(1, 400), st.booleans())
def test_any_usage_streamed_or_not_keeps_the_one_hour_writes_within_the_writes(
        inp: int, read: int, writes: int, out: int, one_hour: int | None, cut: int, repeated: bool) -> None:
    usage: dict[str, Any] = {"input_tokens": inp, "cache_read_input_tokens": read, "cache_creation_input_tokens": writes,
                             "output_tokens": out}
    if one_hour is not None:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": max(writes - one_hour, 0),
                                   "ephemeral_1h_input_tokens": one_hour}
    answer = extract_usage(_ai("anthropic"), {"status_code": 200, "body": {"model": MODEL, "usage": usage}})
    acc = stream_usage(_ai("anthropic", stream=True))
    sse = _sse(usage, repeated=repeated).encode()
    for i in range(0, len(sse), cut):
        acc.feed(sse[i:i + cut])
    streamed = acc.finish()
    if inp + read + writes == 0:  # no input counted for a prompt: a placeholder (usage.ZERO_INPUT, ZERO_USAGE)
        for got in (answer, streamed):
            assert (got.input_tokens, got.source) == (_ai("anthropic").input_tokens, "estimate")
        return
    for got in (answer, streamed):
        assert got.cache_creation_1h_input_tokens == min(one_hour or 0, writes)
        assert got.input_tokens == inp + read + writes  # the 1-hour writes are not input again
        assert bool(got.notes) == ((one_hour or 0) > writes)
    assert _counts(streamed) == _counts(answer)


USAGE = Usage.of(10_000, 1000, cached_input_tokens=2000, cache_creation_input_tokens=3000,
                 cache_creation_1h_input_tokens=1000)


@pytest.mark.parametrize(("price", "input_usd"), [
    # 5000 plain x 3 + 2000 read x 0.3 + 2000 5m writes x 3.75 + 1000 1h writes x 6
    ({"input": 3, "output": 15, "cached_input": 0.3, "cache_creation": 3.75, "cache_creation_1h": 6}, "0.0291"),
    # no 1h price: every write at the write price, as the library prices a model without one
    ({"input": 3, "output": 15, "cached_input": 0.3, "cache_creation": 3.75}, "0.02685"),
    # no write price at all: the input price, for both
    ({"input": 3, "output": 15, "cached_input": 0.3}, "0.0246"),
    # a 1h price alone: 5-minute writes at the input price
    ({"input": 3, "output": 15, "cache_creation_1h": 6}, "0.033"),
])
def test_an_override_prices_one_hour_writes_at_its_own_price_else_the_write_price(price: dict[str, Any],
                                                                                  input_usd: str) -> None:
    cost = PriceBook.from_mapping({"claude-*": price}).cost("anthropic", MODEL, USAGE)
    assert (cost.source, cost.input_usd, cost.output_usd) == ("override", Decimal(input_usd), Decimal("0.015"))


@pytest.mark.parametrize("bad", [-6, "six", True, float("nan")])
def test_a_bad_one_hour_override_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ProviderError, match="cache_creation_1h"):
        ModelPrice.from_mapping("claude-x", {"input": 3, "output": 15, "cache_creation_1h": bad})


def test_a_policy_reads_the_one_hour_writes() -> None:
    """``ai.usage.cache_creation_1h_input_tokens`` is declared and, in the response phase, the
    answer's count (the engine's ``usage_entries`` joins each ``Usage.to_dict`` key)."""
    import aigw_policy as ap

    policy = ap.loads('policy { on response {\n'
                      '  rule "one-hour" { when ai.usage.cache_creation_1h_input_tokens == 2500\n'
                      '    custom-response { status_code: 418, body: "seen" } } } }')
    body = {"model": MODEL, "usage": TRUSTED[2]["usage"]}
    request = {"id": "r1", "request": {"method": "POST", "url": URLS["anthropic"],
                                       "body": {"model": MODEL, "max_tokens": 64,
                                                "messages": [{"role": "user", "content": "hi"}]}},
               "response": {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body}}
    decision = ap.Engine(policy).evaluate(request)
    assert (decision.status_code, decision.rule, decision.to_dict()["errors"]) == (418, "one-hour", [])
