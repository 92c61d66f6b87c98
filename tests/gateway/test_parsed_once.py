"""Through ``serve``: the upstream's answer is parsed as JSON once, not once by the upstream
side's judgment and again by the middleware (aigw_policy/providers/parsed_json.py).

A whole JSON chat completion was parsed twice (``malformed``'s check that it is the API's
answer, then the response phase's read); each event of a stream three to four times (the
first event's judgment parsed every event it had read, the relay's JSON check each one, the
usage read each one again). Counted by the parses of the stub's answer texts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from aigw_policy.providers import parsed_json

AUTH = {"authorization": "Bearer sk-gw-research"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts of the stub's answers parsed with ``json.loads`` (every thread)."""
    seen: list[str] = []
    real = json.loads

    def counted(text: Any, *args: Any, **kwargs: Any) -> Any:
        if "chatcmpl-stub" in (text.decode("latin-1") if isinstance(text, (bytes, bytearray)) else str(text)):
            seen.append(text)
        return real(text, *args, **kwargs)

    parsed_json.clear()
    monkeypatch.setattr(json, "loads", counted)
    return seen


def test_a_json_answer_is_parsed_once(gateway: Any, parses: list[str]) -> None:
    answer = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, headers=AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == "chatcmpl-stub"  # (the test's own read, not counted: after)
    assert len(parses) == 2  # the gateway's one, and the line above


def test_a_streamed_answer_is_parsed_about_once_an_event(gateway: Any, parses: list[str]) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH, timeout=30) as answer:
        assert answer.status_code == 200
        text = answer.read().decode()
    events = [e for e in text.split("\n\n") if e.startswith("data: {")]
    assert len(events) >= 5 and text.rstrip().endswith("data: [DONE]")
    # each event once by the relay's check, the first once more by its judgment, and the last
    # (read from the end, whether the stream is whole) once more: never a parse by the usage read
    assert len(parses) <= len(events) + 2, len(parses)
