"""Charged once when an event arrives twice: every stream payload of ``data/spec/`` and
``data/recorded/`` whose usage is the provider's, with any one of its events repeated (a
proxy's retry of a write, an SDK's reconnect replaying the last event, a server that sends
its usage chunk twice), gives the same counts, priced units, other models and reported cost.
Stream usage is cumulative in every wire format: each count keeps its largest value
(``usage.merge_counts``, ``sse._largest``), never a sum. Seen failing (payloads22) under a
mutation that adds a repeated chunk's counts: 14 of the payloads with ``merge_counts`` summing, 18 with
the OpenAI-shaped reader summing its usage chunks.

JSON-array streams (Gemini without ``alt=sse``) are left out: a repeated element is a framing
of its own, not a repeated event."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.providers import classify, extract_usage

from .conftest import STREAM_CASES

SPEC = Path(__file__).parent / "data" / "spec"


def _streams() -> list[tuple[str, dict[str, Any], dict[str, Any], str]]:
    found = []
    for path in sorted(SPEC.glob("*/*.json")):
        if path.name.endswith(".expected.json"):
            continue
        case = json.loads(path.read_text())
        response = case["response"]
        for key in ("body", "sse"):
            text = response.get(key)
            if isinstance(text, str) and not text.lstrip().startswith("[") and ("data:" in text or text.count("\n") > 1):
                found.append((f"{path.parent.name}/{path.stem}", case["request"], response, key))
    for case in STREAM_CASES:
        response = case.response()
        key = "sse" if "sse" in response else "body"
        if not response[key].lstrip().startswith("["):
            found.append((case.id, case.expected["request"], response, key))
    return found


STREAMS = [s for s in _streams() if extract_usage(classify(s[1]), s[2]).source == "provider"]
"""Those whose usage is the provider's (an estimated one counts the streamed text: a repeated
text event is more text)."""


def _events(text: str) -> list[str]:
    """The events of an SSE stream (each with its blank line) or the lines of an NDJSON one."""
    parts = re.split(r"(?<=\n\n)", text) if "data:" in text else [line + "\n" for line in text.split("\n")]
    return [p for p in parts if p.strip()]


def _seen(usage: Any) -> tuple[Any, ...]:
    return usage.counts(), usage.units, usage.other_models, usage.reported_usd, usage.source


def test_there_are_streams_of_every_framing() -> None:
    assert len(STREAMS) >= 30
    assert any("data:" not in response[key] for _, _, response, key in STREAMS)  # NDJSON: Ollama, Cohere v1


@pytest.mark.parametrize(("name", "request_", "response", "key"), STREAMS, ids=[s[0] for s in STREAMS])
def test_an_event_repeated_is_charged_once(name: str, request_: dict[str, Any], response: dict[str, Any],
                                            key: str) -> None:
    ai = classify(request_)
    once = extract_usage(ai, response)
    events = _events(response[key])
    assert events, name
    for i, event in enumerate(events):
        twice = extract_usage(ai, {**response, key: "".join([*events[: i + 1], event, *events[i + 1:]])})
        assert _seen(twice) == _seen(once), (i, event[:200])
