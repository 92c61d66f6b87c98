"""A stream the upstream cuts (or lets go quiet) after its first bytes, through the
single-upstream proxy: passed on as a routed attempt's is (aigw_policy/gateway/relay.py), the
events that came and then an error event in the provider's own stream format, which each SDK
raises as its documented API error; the stream is charged once, for what was delivered.

Before, the proxy closed the connection after the events that came and sent nothing else: the
OpenAI and Anthropic SDKs raised ``APIConnectionError`` ("Connection error.", as if the gateway
could not be reached), the genai SDK ``httpx.RemoteProtocolError``, outside its documented
errors."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from aigw_policy.limits.model import Charge

from .conftest import ledger_records, policy_gateway, record_of
from .raw_upstream import Peer, RawUpstream, wait_until
from .test_routing_first_event import HEAD, MESSAGE_EVENTS, _events

KEY = "sk-gw-proxy-cut"
CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 1000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""
GEMINI = [b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "fir"}]}, "index": 0}], '
          b'"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}}\r\n\r\n'] * 2


def _cut_after(events: list[bytes], how: str) -> Any:
    """An upstream that sends ``events`` (a chunk each) and then half an event, and then
    resets (``reset``) or goes quiet until the gateway leaves (``quiet``)."""
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(HEAD)
        for event in [*events, events[-1][:20]]:
            await peer.send(b"%x\r\n%s\r\n" % (len(event), event))
        if how == "reset":
            peer.abort()
        else:
            await peer.wait_eof()
    return script


def _openai(url: str) -> str:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=20)
    out = ""
    for chunk in client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                stream=True):
        out += chunk.choices[0].delta.content or "" if chunk.choices else ""
    return out


def _anthropic(url: str) -> str:
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=20)
    out = ""
    for event in client.messages.create(model="claude-x", max_tokens=10, stream=True,
                                        messages=[{"role": "user", "content": "hi"}]):
        if event.type == "content_block_delta":
            out += event.delta.text
    return out


def _gemini(url: str) -> str:
    text = ""
    with httpx.stream("POST", url + "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", timeout=20,
                      headers={"x-goog-api-key": KEY}, json={"contents": [{"parts": [{"text": "hi"}]}]}) as r:
        try:
            for piece in r.iter_text():
                text += piece
        except httpx.RemoteProtocolError:  # the cut, after what came (as the genai SDK reads it)
            pass
    if '"error"' in text:
        raise RuntimeError(text.rsplit("data: ", 1)[1])
    return text


# (SDK, the upstream's events before the cut, the call, the error its SDK raises)
ROWS: list[tuple[str, list[bytes], Any, type[BaseException]]] = [
    ("openai", _events("first")[:2], _openai, openai.APIError),
    ("anthropic", MESSAGE_EVENTS[:3], _anthropic, anthropic.APIStatusError),
    ("gemini", GEMINI, _gemini, RuntimeError),
]


@pytest.mark.parametrize("how", ["reset", "quiet"])
@pytest.mark.parametrize(("sdk", "events", "call", "raised"), ROWS, ids=[r[0] for r in ROWS])
def test_a_stream_cut_after_bytes_ends_with_the_providers_error_event(sdk: str, events: list[bytes], call: Any,
                                                                      raised: type[BaseException], how: str) -> None:
    with RawUpstream(_cut_after(events, how)) as up, \
            policy_gateway(CAP, KEY, upstream=up.url, timeout=0.5) as gw:
        with pytest.raises(raised) as error:
            call(gw.url)
        assert "the answer is incomplete" in str(error.value)
        engine = gw.app.holder.current
        assert wait_until(lambda: _finals(gw))
        records = _finals(gw)
        assert len(records) == 1  # one request, one record
        rec = record_of(gw.ledger, records[0]["aigw.request.id"])
        spec = engine.compiled.limits["tokens"][1].limit.spec
        used = engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used
        charged = rec["gen_ai.usage.input_tokens"] + rec["gen_ai.usage.output_tokens"]
        assert used == charged > 0  # charged once, what the ledger says was delivered


def _finals(gw: Any) -> list[dict[str, Any]]:
    return [r for r in ledger_records(gw.ledger) if r["aigw.verdict"] != "pending"]
