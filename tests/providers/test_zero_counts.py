"""A provider's count of no input for a request that sent a prompt is a placeholder, not a count
(``data/zero_counts/<family>.json``, one file per family): the input is the request's estimate,
marked ``source: estimate`` with a note; so is a count of no output beside an answer's text (the
output is the text's estimate), and a usage of nothing at all is no usage. A cache read is
input: ``input_tokens: 0`` beside one is trusted. No model writes from nothing, and no text is
written without tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify, extract_usage, stream_usage
from aigw_policy.providers.usage import ZERO_INPUT, ZERO_OUTPUT, ZERO_USAGE

DATA = Path(__file__).parent / "data" / "zero_counts"
ROWS = [(f"{path.stem}/{row['id']}", row) for path in sorted(DATA.glob("*.json"))
        for row in json.loads(path.read_text())["rows"]]
NOTES = {"ZERO_INPUT": ZERO_INPUT, "ZERO_OUTPUT": ZERO_OUTPUT, "ZERO_USAGE": ZERO_USAGE}


def test_every_family_has_rows() -> None:
    assert {name.split("/")[0] for name, _ in ROWS} == {"anthropic", "openai", "gemini", "bedrock"}


@pytest.mark.parametrize(("name", "row"), ROWS, ids=[n for n, _ in ROWS])
def test_a_placeholder_count_is_estimated(name: str, row: dict[str, Any]) -> None:
    ai = classify({"method": "POST", "headers": {"content-type": "application/json"}, **row["request"]})
    assert ai.input_tokens > 0
    response = row["response"]
    answers = [response]
    if "sse" in response:  # and fed in pieces, as the gateway does
        answers.append(None)
    want = row["want"]
    for answer in answers:
        if answer is None:
            acc = stream_usage(ai)
            data = response["sse"].encode()
            for i in range(0, len(data), 7):
                acc.feed(data[i:i + 7])
            got = acc.finish()
        else:
            got = extract_usage(ai, answer)
        if want["input"] == "estimate":
            assert (got.input_tokens, got.source) == (ai.input_tokens, "estimate"), name
        else:
            assert (got.input_tokens, got.source) == (want["input"], want["source"]), name
        if "note" in want:
            assert NOTES[want["note"]] in got.notes, got.notes
        if want.get("output") == "estimate":
            assert got.output_tokens > 0, name  # the answer's text
        else:
            assert got.output_tokens == want["output_tokens"], name
        assert got.total_tokens == got.input_tokens + got.output_tokens


CHAT = {"url": "https://api.openai.com/v1/chat/completions",
        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say something about the sea."}]}}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inp=st.integers(0, 5000), cached=st.integers(0, 5000), out=st.integers(0, 5000), stream=st.booleans())
def test_any_openai_usage_charges_input_and_output_whenever_a_prompt_was_sent_and_text_came_back(
        inp: int, cached: int, out: int, stream: bool) -> None:
    """Whatever the counts, a request with a prompt is never charged 0 input tokens, nor an
    answer with text 0 output tokens, and a count above 0 is the provider's, as it said."""
    cached = min(cached, inp)
    ai = classify({**CHAT, "body": {**CHAT["body"], "stream": stream}})
    usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
             "prompt_tokens_details": {"cached_tokens": cached}}
    text = "The sea is wide."
    if stream:
        chunks = [{"model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": text}}]},
                  {"model": "gpt-4o", "choices": [], "usage": usage}]
        answer: dict[str, Any] = {"status_code": 200, "sse": "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
                                  + "data: [DONE]\n\n"}
    else:
        answer = {"status_code": 200, "body": {"model": "gpt-4o", "usage": usage, "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}}
    got = extract_usage(ai, answer)
    assert got.input_tokens > 0 and got.output_tokens > 0  # a prompt was sent, text came back
    if inp and out:
        assert (got.input_tokens, got.cached_input_tokens, got.output_tokens, got.source) == (inp, cached, out, "provider")
        return
    assert got.source == "estimate"
    assert got.input_tokens == (inp or ai.input_tokens)
    assert not out or got.output_tokens == out
