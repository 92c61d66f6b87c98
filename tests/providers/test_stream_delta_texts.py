"""Text a model writes in a streamed chat delta, wherever its wire format puts it, counts in the
output estimate of a stream cut before its usage (``data/streams/delta_texts.json``: each row a
real delta shape and the text in it). Before (payloads28) only string ``content``,
``reasoning_content``, ``reasoning``, ``refusal`` and ``tool_calls`` arguments were read: a
Magistral stream (Mistral's ``content`` as a list of ``text`` and ``thinking`` chunks), a legacy
``function_call`` stream and an audio answer's ``transcript`` were estimated as 0 output tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify, extract_usage
from aigw_policy.providers.tokens import DEFAULT_COUNTER

ROWS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "data" / "streams" / "delta_texts.json").read_text())["rows"]


def _stream(row: dict[str, Any]) -> str:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1764158400, "model": row["model"]}
    return "".join(f"data: {json.dumps({**chunk, 'choices': [{'index': 0, 'delta': d, 'finish_reason': None}]})}\n\n"
                   for d in row["deltas"])


def _usage(row: dict[str, Any], stream: str) -> Any:
    ai = classify({"method": "POST", "url": row["url"], "body": {
        "model": row["model"], "stream": True, "max_tokens": 4000, "messages": [{"role": "user", "content": "Go on."}]}})
    return extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": stream})


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_a_cut_streams_output_estimate_counts_the_text_its_deltas_carry(row: dict[str, Any]) -> None:
    usage = _usage(row, _stream(row))
    assert usage.source == "estimate"
    audio = usage.unit("output_audio_tokens")  # an audio answer's base64 `data`: audio tokens, never text (cut_media)
    assert usage.output_tokens - audio == DEFAULT_COUNTER.count("".join(row["text"]), row["model"]) > 0


@settings(max_examples=60, deadline=None)
@given(row=st.sampled_from(ROWS), cut=st.floats(0, 1))
def test_more_of_a_stream_never_estimates_less(row: dict[str, Any], cut: float) -> None:
    """A stream cut anywhere estimates at most what the whole of it does, never negative."""
    whole = _stream(row)
    part = _usage(row, whole[: int(len(whole) * cut)])
    assert 0 <= part.output_tokens <= _usage(row, whole).output_tokens


def _message(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole message a stream's deltas make (strings joined, chunk lists and objects merged)."""
    message: dict[str, Any] = {}
    for delta in deltas:
        for key, value in delta.items():
            if isinstance(value, str) and key != "role":
                message[key] = message.get(key, "") + value
            elif isinstance(value, list):
                message[key] = [*message.get(key, []), *value]
            elif isinstance(value, dict):
                whole = message.setdefault(key, {})
                for k, v in value.items():
                    whole[k] = whole.get(k, "") + v if k in ("arguments", "transcript", "data") else v
            else:
                message[key] = value
    return message


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_a_json_answer_without_usage_estimates_the_same_text(row: dict[str, Any]) -> None:
    ai = classify({"method": "POST", "url": row["url"], "body": {
        "model": row["model"], "max_tokens": 4000, "messages": [{"role": "user", "content": "Go on."}]}})
    body = {"id": "c1", "object": "chat.completion", "created": 1764158400, "model": row["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", **_message(row["deltas"])}, "finish_reason": "stop"}]}
    usage = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body})
    assert usage.source == "estimate"
    audio = usage.unit("output_audio_tokens")  # an audio answer's base64 `data`: audio tokens, never text (cut_media)
    assert usage.output_tokens - audio == DEFAULT_COUNTER.count("".join(row["text"]), row["model"]) > 0
