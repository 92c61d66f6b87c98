"""A Responses API stream that fails after its opening events fails over (first_event.py).

A Responses stream opens with ``response.created`` and ``response.in_progress`` (the
response's id and status, no output), and a failure during generation comes next, as
``response.failed`` (or an ``error`` event). Judged on its first event, such a stream was
served at ``response.created``: the failure went to the client (the SDK raised) with no
failover, though nothing it shows had been sent, the same defect as Anthropic's
``message_start`` had (test_routing_anthropic_opening.py). The opening events are now read on:
the failure fails over and the next candidate's stream is served alone; an error after output
is served as it came. Each way the ledger has one record and the limits are charged once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import openai
import pytest

from aigw_policy.limits.model import Charge

from .conftest import policy_gateway, record_of, routed_policy, ledger_lines
from .raw_upstream import Peer, RawUpstream, chunked, serve

KEY = "sk-gw-responses-opening"
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
USAGE = {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9, "input_tokens_details": {"cached_tokens": 0},
         "output_tokens_details": {"reasoning_tokens": 0}}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()


def _response(rid: str, status: str, output: list[Any], usage: Any = None, error: Any = None) -> dict[str, Any]:
    return {"id": rid, "object": "response", "created_at": 1, "status": status, "model": "gpt-4o", "output": output,
            "usage": usage, "error": error, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}


def _stream(rid: str, text: str) -> list[bytes]:
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    return [_event("response.created", {"sequence_number": 0, "response": _response(rid, "in_progress", [])}),
            _event("response.in_progress", {"sequence_number": 1, "response": _response(rid, "in_progress", [])}),
            _event("response.output_text.delta", {"sequence_number": 2, "item_id": "msg_1", "output_index": 0,
                                                  "content_index": 0, "delta": text}),
            _event("response.completed", {"sequence_number": 3,
                                          "response": _response(rid, "completed", [item], USAGE)})]


OPENING = _stream("resp_first", "first")[:2]
FAILED = _event("response.failed", {"sequence_number": 2, "response": _response(
    "resp_first", "failed", [], error={"code": "server_error", "message": "The server had an error"})})
ERROR = _event("error", {"sequence_number": 2, "code": "server_error", "message": "The server had an error",
                         "param": None})
CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 1000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""


def _upstream(events: list[bytes], go: threading.Event | None = None) -> Any:
    """``events``, one chunk each, then the body's end; ``go``: the last event only once it is
    set (the client read bytes of the stream)."""
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(HEAD)
        for i, event in enumerate(events):
            if go is not None and i == len(events) - 1:
                await asyncio.to_thread(go.wait, 20)
            await peer.send(b"%x\r\n%s\r\n" % (len(event), event))
        await peer.send(b"0\r\n\r\n")
        await peer.wait_eof()
    return script


def _used(gw: Any) -> float:
    engine = gw.app.holder.current
    spec = engine.compiled.limits["tokens"][1].limit.spec
    return engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used


def _finals(gw: Any) -> list[dict[str, Any]]:
    return [r for r in ledger_lines(gw.ledger) if r["aigw.verdict"] != "pending"]


@pytest.mark.parametrize("failure", [FAILED, ERROR], ids=["response.failed", "error"])
def test_a_failure_after_the_opening_fails_over(failure: bytes) -> None:
    with RawUpstream(_upstream([*OPENING, failure])) as first, \
            RawUpstream(serve(HEAD + chunked(_stream("resp_second", "second")))) as other, \
            policy_gateway(CAP + routed_policy([first.url, other.url]).removeprefix("on_http_request:\n"), KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        raw = client.responses.with_raw_response.create(model="gpt-4o", input="hi", stream=True)
        events = list(raw.parse())
        assert [e.type for e in events] == ["response.created", "response.in_progress", "response.output_text.delta",
                                            "response.completed"]
        assert {e.response.id for e in events if hasattr(e, "response")} == {"resp_second"}  # one stream, whole
        rec = record_of(gw.ledger, raw.headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        assert len(_finals(gw)) == 1 and _used(gw) == USAGE["total_tokens"]


def test_a_failure_after_output_is_served_as_it_came() -> None:
    first_events = _stream("resp_first", "first")[:3] + [FAILED]
    go = threading.Event()  # the failure after output the client read (held with it, it fails over)
    with RawUpstream(_upstream(first_events, go)) as first, \
            RawUpstream(serve(HEAD + chunked(_stream("resp_second", "second")))) as other, \
            policy_gateway(CAP + routed_policy([first.url, other.url]).removeprefix("on_http_request:\n"), KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        raw = client.responses.with_raw_response.create(model="gpt-4o", input="hi", stream=True)
        events = []
        for event in raw.parse():
            events.append(event)
            go.set()
        assert [e.type for e in events][-1] == "response.failed"
        assert other.opened == 0
        assert record_of(gw.ledger, raw.headers["x-aigw-decision-id"])["aigw.attempts"] == 1
        assert len(_finals(gw)) == 1
