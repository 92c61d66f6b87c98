"""A failure the gateway already holds before a byte went to the client fails over
(aigw_policy/gateway/first_event.py ``held_failure``, answer_read.judge).

A routed stream is judged on what was read before it is served: its first event, and whatever
else came in the same reads (a short answer is often there whole). An error event or an event
that is not JSON *after* the first event of content, in those bytes, was served all the same:
the client got the first words, then the provider's error (or the gateway's "not JSON" error
event), although nothing had gone out and the next candidate could answer whole. Now every
event held is judged: an error event fails the attempt with the status it says, an event that
is not JSON makes it malformed, and the next candidate serves alone.

Each row: one API's stream, the opening of ``test_routing_stream_end`` (an event of content)
and then a failure, sent in one piece, either whole (the body's end with it) or held (the
upstream keeps the stream open); the second candidate's whole stream serves."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from .conftest import WAIT, policy_gateway, record_of
from .raw_upstream import Peer, RawUpstream, serve
from .test_routing_stream_end import ARRAY, KEY, ROWS, _head, _headers, _policy, _whole

_OAI_ERROR = b'data: {"error": {"message": "overloaded", "type": "server_error", "code": 503}}\n\n'
_ANT_ERROR = (b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
              b'"message": "Overloaded"}}\n\n')
_RESP_FAILED = (b'event: response.failed\ndata: {"type": "response.failed", "response": {"id": "resp_1", '
                b'"status": "failed", "error": {"code": "server_error", "message": "boom"}}}\n\n')
_GEM_ERROR = b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\n\n'
NOT_JSON = b"data: {not json}\n\n"

# row of ROWS -> the error event its provider sends mid-stream
ERRORS = {"openai chat": _OAI_ERROR, "openai responses": _RESP_FAILED, "anthropic": _ANT_ERROR,
          "gemini sse": _GEM_ERROR,
          "gemini array": b',\r\n{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}'}

CASES = [(row, kind, whole) for row in sorted(ROWS) for kind in ("error", "not json")
         for whole in (True, False) if (kind == "error" and row in ERRORS) or (kind == "not json" and ROWS[row][4] != ARRAY)]


def _held(ctype: bytes, body: bytes) -> Any:
    """``body`` as one chunk of a stream the upstream keeps open (its end never comes)."""
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(_head(ctype) + b"%x\r\n%s\r\n" % (len(body), body))
        await peer.wait_eof()
    return script


@pytest.mark.parametrize(("row", "kind", "whole"), CASES)
def test_a_failure_held_before_a_byte_went_out_fails_over(row: str, kind: str, whole: bool) -> None:
    path, body, fmt, model, ctype, first, _, good = ROWS[row]
    bad = first + (ERRORS[row] if kind == "error" else NOT_JSON)
    script = serve(_whole(ctype, bad + (b"]" if ctype == ARRAY else b""))) if whole else _held(ctype, bad)
    with RawUpstream(script) as failing, RawUpstream(serve(_whole(ctype, good))) as other, \
            policy_gateway(_policy([failing.url, other.url], fmt, model), KEY) as gw:
        got = httpx.post(gw.url + path, json=body, headers=_headers(), timeout=WAIT)
        assert got.status_code == 200, got.text
        assert b"second" in got.content and b"first" not in got.content, got.content
        rec = record_of(gw.ledger, got.headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        if row != "openai chat":  # (its stream reports no usage: estimated)
            assert rec["gen_ai.usage.output_tokens"] == 1  # charged once: the served stream's own usage


@pytest.mark.parametrize("kind", ["error", "not json"])
def test_a_held_failure_that_is_no_trigger_is_served_as_it_came(kind: str) -> None:
    """Under ``failover_on: [connect]`` the error event is no trigger: the stream goes out as it
    came, the error where it was (the SDK raises it); an event that is not JSON is malformed, no
    trigger either: the gateway's 502."""
    path, body, fmt, model, ctype, first, _, good = ROWS["openai chat"]
    bad = first + (_OAI_ERROR if kind == "error" else NOT_JSON)
    with RawUpstream(serve(_whole(ctype, bad))) as failing, RawUpstream(serve(_whole(ctype, good))) as other:
        policy = _policy([failing.url, other.url], fmt, model).replace(
            "only_allow_configured_providers: true", "only_allow_configured_providers: true\n"
            "          failover_on: [connect]")
        with policy_gateway(policy, KEY) as gw:
            got = httpx.post(gw.url + path, json=body, headers=_headers(), timeout=WAIT)
            if kind == "error":
                assert got.status_code == 200 and got.content.startswith(first) and b"overloaded" in got.content
            else:
                assert got.status_code == 502 and "upstream_malformed" in got.text, got.text
            assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"] == 1


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_an_sdk_reads_the_next_candidate_s_whole_answer_after_a_held_error(sdk: str) -> None:
    path, body, fmt, model, ctype, first, _, good = ROWS["openai chat" if sdk == "openai" else "anthropic"]
    bad = first + (_OAI_ERROR if sdk == "openai" else _ANT_ERROR)
    with RawUpstream(_held(ctype, bad)) as failing, RawUpstream(serve(_whole(ctype, good))) as other, \
            policy_gateway(_policy([failing.url, other.url], fmt, model), KEY) as gw:
        if sdk == "openai":
            client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=WAIT)
            chunks = client.chat.completions.create(model=model, stream=True, messages=body["messages"])
            assert "".join(c.delta.content or "" for ch in chunks for c in ch.choices) == "second"
        else:
            ant = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0, timeout=WAIT)
            with ant.messages.stream(model=model, max_tokens=50, messages=body["messages"]) as stream:
                assert stream.get_final_text() == "second"
