"""The usage chunk the gateway asks for on a client's behalf is the gateway's, not the client's.

The gateway sets ``stream_options.include_usage`` on an OpenAI stream whose client did not
(so that usage is exact); the upstream then ends with one more chunk, ``choices: []`` with
``usage``. A client that did not ask must not get it: code written to the stream as the API
documents it without that option (``chunk.choices[0].delta``, the SDK README's loop) raises
``IndexError`` on it. Its usage still reaches the ledger; a client that asked still gets it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aigw_policy.gateway.injected_usage import HideInjectedUsage

from .conftest import record_of
from .providers_stub import OPENAI_USAGE, Reply
from .routing_env import GATEWAY_KEY, fresh, oai, routed, stubs  # noqa: F401
from .stub import OPENAI_USAGE as STUB_USAGE

MSG = [{"role": "user", "content": "hi"}]


def _readme_loop(stream: Any) -> str:
    """The OpenAI SDK's own streaming example: every chunk's first choice."""
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


def test_a_client_that_did_not_ask_gets_no_usage_chunk(gateway: Any, stub: Any, gateway_files: Any) -> None:
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gw-research", max_retries=0, timeout=10)
    raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, stream=True)
    assert _readme_loop(raw.parse()) == "hello from the stub!"
    assert stub.app.seen[-1]["body"]["stream_options"] == {"include_usage": True}  # asked upstream all the same
    rec = record_of(gateway_files["ledger"], raw.headers["x-aigw-decision-id"])
    assert (rec["gen_ai.usage.input_tokens"], rec["aigw.usage.source"]) == (STUB_USAGE["prompt_tokens"], "provider")


def test_a_client_that_asked_gets_its_usage_chunk(gateway: Any, stub: Any, gateway_files: Any) -> None:
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gw-research", max_retries=0, timeout=10)
    chunks = list(sdk.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                              stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == STUB_USAGE["prompt_tokens"]


def test_a_routed_stream_after_failover_has_no_usage_chunk_either(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(503))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, stream=True)
    assert _readme_loop(raw.parse()) == "alpha:gpt-4o routed by the gateway"
    rec = record_of(routed.files["ledger"], raw.headers["x-aigw-decision-id"])
    assert (rec["gen_ai.usage.output_tokens"], rec["aigw.attempts"]) == (OPENAI_USAGE["completion_tokens"], 2)


# -- the filter alone: every byte but the usage chunk's, however the stream is cut -----------------

def _event(obj: Any, sep: bytes = b"\n\n") -> bytes:
    return b"data: " + json.dumps(obj).encode() + sep


DELTA = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}],
         "usage": None}
USAGE_ONLY = {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": OPENAI_USAGE}
AZURE_FILTER = {"id": "", "object": "", "choices": [], "prompt_filter_results": []}  # choices [] but no usage
KEPT = [_event(DELTA), _event(DELTA, b"\r\n\r\n"), _event(AZURE_FILTER), b": keep-alive\n\n", b"data: [DONE]\n\n",
        b"event: x\ndata: {\"choices\":[]}\n\n"]
DROPPED = [_event(USAGE_ONLY), _event(USAGE_ONLY, b"\r\n\r\n"),
           b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1}}\n\n']


def _through(chunks: list[bytes], ctype: bytes = b"text/event-stream") -> bytes:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        hide = HideInjectedUsage(send)
        await hide({"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype)]})
        for i, chunk in enumerate(chunks):
            await hide({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    asyncio.run(run())
    assert sent[0]["type"] == "http.response.start" and sent[-1]["more_body"] is False
    return b"".join(m["body"] for m in sent[1:])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(KEPT + DROPPED), max_size=8), st.lists(st.integers(0, 400), max_size=8))
@example([KEPT[0], DROPPED[0], KEPT[4]], [len(KEPT[0]) + 20])
def test_the_stream_is_the_same_but_its_usage_only_chunks(events: list[bytes], cuts: list[int]) -> None:
    data = b"".join(events)
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])] or [b""]
    assert _through(chunks) == b"".join(e for e in events if e not in DROPPED)


@pytest.mark.parametrize("ctype", [b"application/json", b"text/plain"])
def test_an_answer_that_is_no_event_stream_is_left_alone(ctype: bytes) -> None:
    body = json.dumps(USAGE_ONLY).encode()
    assert _through([body[:10], body[10:]], ctype) == body


def test_an_endless_event_is_held_at_most_max_held_and_passed_on_whole() -> None:
    from aigw_policy.gateway.injected_usage import MAX_HELD

    data = b"data: " + b"x" * (2 * MAX_HELD) + b"\n\n" + _event(USAGE_ONLY)
    chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    sent: list[bytes] = []
    held: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    async def run() -> None:
        hide = HideInjectedUsage(send)
        await hide({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for i, chunk in enumerate(chunks):
            await hide({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})
            held.append(len(hide.held))

    asyncio.run(run())
    assert max(held) <= MAX_HELD
    assert b"".join(sent) == data[:-len(_event(USAGE_ONLY))]
