"""The status an error object says, however its ``code`` is written (gateway/first_event.py
``error_status``).

A 200 whose body (or a stream's event) is an error object fails the attempt with the status the
error says (docs/routing.md, "A 200 that is an error object"). LiteLLM's proxy, and servers
following it, write the status as a *string* (`"code": "429"`: the OpenAI SDK types `code` as a
string, LiteLLM issue #4970), which was read as no status at all: 500. So under
``failover_on: [429]`` a rate-limited upstream behind such a router did not fail over (its 500
was served), and its attempt counted as a server error. Each row: how the error comes; each
code written as a number and as a string."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import WAIT, policy_gateway, record_of, routed_policy
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-codes"
CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
         "choices": [{"index": 0, "delta": {"content": "second"}, "finish_reason": "stop"}]}
GOOD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n"
        % (len(json.dumps(CHUNK)) + 22)) + b"data: " + json.dumps(CHUNK).encode() + b"\n\ndata: [DONE]\n\n"
GOOD_JSON = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "second"}}]}).encode()


def _error(code: Any) -> bytes:
    return json.dumps({"error": {"message": "rate limited", "type": None, "param": None, "code": code}}).encode()


def _answer(how: str, code: Any) -> tuple[bytes, bool]:
    """The failing upstream's whole answer, and whether the request streams."""
    if how == "a 200 error object":
        body = _error(code)
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body) + body, False
    first = b"data: " + _error(code) + b"\n\n"
    if how == "an error event after content":
        first = b"data: " + json.dumps({**CHUNK, "choices": [{"index": 0, "delta": {"content": "first"},
                                                               "finish_reason": None}]}).encode() + b"\n\n" + first
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(first) + first, True


ROWS = [(how, code, status) for how in ("a 200 error object", "a first error event", "an error event after content")
        for code, status in ((429, 429), ("429", 429), ("503", 503), (" 429", 500), ("4290", 500), ("200", 500))]


@pytest.mark.parametrize(("how", "code", "status"), ROWS)
def test_the_status_an_error_says_is_read_from_a_code_written_as_text(how: str, code: Any, status: int) -> None:
    answer, stream = _answer(how, code)
    good = GOOD if stream else (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                                % len(GOOD_JSON) + GOOD_JSON)
    with RawUpstream(serve(answer)) as failing, RawUpstream(serve(good)) as other:
        policy = routed_policy([failing.url, other.url], config="          failover_on: [429, 503]\n")
        with policy_gateway(policy, KEY) as gw:
            got = httpx.post(gw.url + "/v1/chat/completions", timeout=WAIT, headers={"authorization": f"Bearer {KEY}"},
                             json={"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
            rec = record_of(gw.ledger, got.headers["x-aigw-decision-id"])
            if status in (429, 503):  # a trigger: the next candidate serves
                assert got.status_code == 200 and b"second" in got.content, got.text
                assert rec["aigw.attempts"] == 2
            else:  # no status in it (a code that is no HTTP status): 500, no trigger: served as it came
                assert rec["aigw.attempts"] == 1
                assert b"second" not in got.content
