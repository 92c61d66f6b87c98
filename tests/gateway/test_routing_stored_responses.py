"""The OpenAI SDK's conversation through ``serve`` across a failover (SPEC §12): the first turn
is served by the second provider (the first is rate limited), and the next calls name the
response it made, ``responses.retrieve(id)`` and ``responses.create(previous_response_id=id)``,
which only that provider's key holds, as OpenAI does (another key's project answers 400
``previous_response_not_found``, a retrieve 404).

Before, the retrieve of a response served in the foreground was refused 404 by the gateway
(only background responses were remembered), and the next turn went to the first provider
again, whose 400 ended the conversation under ``failover_on: [429, 5xx, ...]``
(tests/routing/test_stored_responses.py for the rules)."""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-stored-responses"
USAGE = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}


def _answer(status: int, body: bytes, ctype: str = "application/json") -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body


def _response(rid: str) -> dict[str, Any]:
    return {"id": rid, "object": "response", "status": "completed", "model": "gpt-4o", "store": True,
            "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": "Otters.", "annotations": []}]}],
            "usage": USAGE}


class Provider:
    """An OpenAI project: it keeps the responses it made, and answers as OpenAI does for others."""

    def __init__(self, name: str, rate_limited: bool) -> None:
        self.name, self.rate_limited, self.kept, self.seen = name, rate_limited, set[str](), list[str]()

    def __call__(self, request: bytes) -> bytes:
        line = request.split(b"\r\n", 1)[0].decode()
        body = request.split(b"\r\n\r\n", 1)[1]
        self.seen.append(line)
        if line.startswith("GET /v1/responses/"):
            rid = line.split()[1].rsplit("/", 1)[1]
            if rid in self.kept:
                return _answer(200, json.dumps(_response(rid)).encode())
            return _answer(404, json.dumps({"error": {"message": f"Response with id '{rid}' not found.",
                                                      "type": "invalid_request_error", "param": None,
                                                      "code": None}}).encode())
        previous = json.loads(body).get("previous_response_id")
        if previous is not None and previous not in self.kept:
            return _answer(400, json.dumps({"error": {"message": f"Previous response with id '{previous}' not found.",
                                                      "type": "invalid_request_error", "param": "previous_response_id",
                                                      "code": "previous_response_not_found"}}).encode())
        if self.rate_limited and previous is None:
            return _answer(429, b'{"error": {"message": "Rate limit reached", "type": "requests", "code": null}}')
        rid = f"resp_{self.name}{len(self.kept)}"
        self.kept.add(rid)
        if re.search(rb'"stream":\s*true', body):
            events = [{"type": "response.created", "sequence_number": 0,
                       "response": {**_response(rid), "status": "in_progress", "output": [], "usage": None}},
                      {"type": "response.completed", "sequence_number": 1, "response": _response(rid)}]
            text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
            return _answer(200, text.encode(), "text/event-stream")
        return _answer(200, json.dumps(_response(rid)).encode())


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_sdk_conversation_stays_with_the_key_that_holds_it(stream: bool) -> None:
    first, second = Provider("a", rate_limited=True), Provider("b", rate_limited=False)
    config = "          failover_on: [429, 5xx, timeout, connect]\n"
    with RawUpstream(serve(first)) as p0, RawUpstream(serve(second)) as p1, \
            policy_gateway(routed_policy([p0.url, p1.url], config=config), KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        if stream:
            with client.responses.stream(model="gpt-4o", input="otters?") as events:
                made = events.get_final_response()
        else:
            made = client.responses.create(model="gpt-4o", input="otters?")
        assert made.id == "resp_b0" and made.output_text == "Otters."
        assert client.responses.retrieve(made.id).id == made.id
        turn = client.responses.with_raw_response.create(model="gpt-4o", input="and?", previous_response_id=made.id)
        assert turn.parse().id == "resp_b1"
        record = record_of(gw.ledger, turn.headers["x-aigw-decision-id"])
        assert record["aigw.route.key_id"] == "k1"
        assert record["aigw.usage.total_tokens"] == 7  # the turn's usage once
    assert not [line for line in first.seen if "resp_" in line]  # nothing of b's went to a
    assert len(first.seen) == 1  # the first turn's 429 only
