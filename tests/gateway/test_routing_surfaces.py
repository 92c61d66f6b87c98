"""Failover on the other API surfaces, end to end through `serve` (SPEC §12): OpenAI's
Responses API through the official SDK, and Gemini's generateContent (JSON and SSE), each
served by the second provider after the first fails. The ledger says who served, after how
many attempts, and charges the served attempt's usage once."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, record_of
from .providers_stub import GEMINI_USAGE, RESPONSES_USAGE, Reply
from .routing_env import GATEWAY_KEY, KEYS, fresh, oai, stubs  # noqa: F401

POLICY = """\
on_http_request:
  - name: gemini
    expressions: ["req.url.path.contains(':generateContent') || req.url.path.contains(':streamGenerateContent')"]
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 2s
          only_allow_configured_providers: true
          providers:
            - id: g-alpha
              base_url: ALPHA
              supported_api_surfaces: [{format: gemini}]
              api_keys: [{value: sk-ga-secret, id: ga}]
              models: [{id: gemini-2.5-flash}]
            - id: g-beta
              base_url: BETA
              supported_api_surfaces: [{format: gemini}]
              api_keys: [{value: sk-gb-secret, id: gb}]
              models: [{id: gemini-2.5-flash}]
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 2s
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: ALPHA/v1
              api_keys: [{value: sk-alpha-secret, id: a1}]
              models: [{id: gpt-4o}]
            - id: beta
              base_url: BETA/v1
              api_keys: [{value: sk-beta-secret, id: b1}]
              models: [{id: gpt-4o}]
"""


@pytest.fixture(scope="module")
def gw(stubs: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys

    d = tmp_path_factory.mktemp("surfaces")
    (d / "policy.yaml").write_text(POLICY.replace("ALPHA", stubs["alpha"][1]).replace("BETA", stubs["beta"][1]))
    (d / "keys.yaml").write_text(KEYS)
    app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), store="memory:",
                  ledger=f"jsonl:{d / 'usage.jsonl'}", watch=0)
    with ServerThread(app) as server:
        server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
        yield server


def served(gw: Any, rid: str) -> tuple[Any, ...]:
    rec = record_of(gw.ledger, rid)
    return (rec["gen_ai.provider.name"], rec["gen_ai.request.model"], rec["aigw.attempts"], rec["aigw.route.key_id"],
            rec["gen_ai.usage.input_tokens"], rec["gen_ai.usage.output_tokens"])


@pytest.mark.parametrize("stream", [False, True])
def test_responses_api_fails_over(gw: Any, stubs: Any, stream: bool) -> None:
    stubs["alpha"][0].push(Reply(500))
    client = oai(gw)
    if stream:
        with client.responses.with_streaming_response.create(model="gpt-4o", input="hi", stream=True) as raw:
            rid = raw.headers["x-aigw-decision-id"]
            text = "".join(e.delta for e in raw.parse() if e.type == "response.output_text.delta")
    else:
        raw = client.responses.with_raw_response.create(model="gpt-4o", input="hi")
        rid = raw.headers["x-aigw-decision-id"]
        text = raw.parse().output_text
    assert text.startswith("beta:gpt-4o")
    assert [s["path"] for s in stubs["alpha"][0].seen + stubs["beta"][0].seen] == ["/v1/responses"] * 2
    assert served(gw, rid) == ("beta", "gpt-4o", 2, "b1", RESPONSES_USAGE["input_tokens"],
                               RESPONSES_USAGE["output_tokens"])


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_fails_over(gw: Any, stubs: Any, stream: bool) -> None:
    stubs["alpha"][0].push(Reply(503))
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    r = httpx.post(f"{gw.url}/v1beta/models/gemini-2.5-flash:{action}", json=body,
                   headers={"x-goog-api-key": GATEWAY_KEY}, timeout=20)
    assert r.status_code == 200, r.text
    if stream:
        chunks = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
        text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    else:
        text = r.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text.startswith("beta:gemini-2.5-flash")
    seen = stubs["alpha"][0].seen + stubs["beta"][0].seen
    assert [s["key"] for s in seen] == ["sk-ga-secret", "sk-gb-secret"]  # never the client's gateway key
    assert all(s["path"] == f"/v1beta/models/gemini-2.5-flash:{action.split('?')[0]}" for s in seen)
    assert served(gw, r.headers["x-aigw-decision-id"]) == (
        "g-beta", "gemini-2.5-flash", 2, "gb", GEMINI_USAGE["promptTokenCount"], GEMINI_USAGE["candidatesTokenCount"])


def test_a_stream_cut_before_its_first_byte_fails_over(gw: Any, stubs: Any) -> None:
    """The upstream answered 200 and dropped the connection before any event: nothing reached
    the client, so the next provider is tried (SPEC §12: never switch once a byte has)."""
    stubs["alpha"][0].push(Reply(cut_after=0))
    with oai(gw).chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True) as raw:
        rid = raw.headers["x-aigw-decision-id"]
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text.startswith("beta:gpt-4o")
    assert served(gw, rid)[:4] == ("beta", "gpt-4o", 2, "b1")


def test_a_responses_stream_cut_after_bytes_is_an_error_in_the_sdk(gw: Any, stubs: Any) -> None:
    """Bytes reached the client: no failover; the stream ends with an error event the SDK raises."""
    import openai

    stubs["alpha"][0].push(Reply(cut_after=700))
    deltas = []
    with pytest.raises(openai.APIError, match="incomplete"):
        for event in oai(gw).responses.create(model="gpt-4o", input="hi", stream=True):
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert "".join(deltas).startswith("alpha:gpt-4o")
    assert stubs["beta"][0].seen == []


def test_a_gemini_stream_cut_after_bytes_ends_with_its_error_event(gw: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(cut_after=300))
    events = []
    with httpx.stream("POST", f"{gw.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                      json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
                      headers={"x-goog-api-key": GATEWAY_KEY}, timeout=20) as r:
        with pytest.raises(httpx.RemoteProtocolError):  # and never an end that looks whole
            for line in r.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
    assert events[0]["candidates"][0]["content"]["parts"][0]["text"].startswith("alpha:")
    assert events[-1]["error"]["status"] == "UNAVAILABLE" and "incomplete" in events[-1]["error"]["message"]
    assert stubs["beta"][0].seen == []
