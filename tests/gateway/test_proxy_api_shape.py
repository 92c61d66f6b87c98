"""The single-upstream proxy (``serve --upstream``, no ``ai-gateway`` action) judges an answer's
API shape as each routed attempt does (gateway/api_shape.py), so that an operator who points
``--upstream`` at the wrong vendor, or at a router that answers in its own format, sees the
same answer a routed request gets with no candidate left: a 502 ``upstream_malformed`` in the
client's provider shape (its SDK raises its documented error), a 200 that is an error object
served with the status it says, a success whose type says nothing served with the API's type,
and a served stream ended with the provider's error event at an event that is not JSON.

Before (route21), the proxy passed each on: the OpenAI SDK returned a completion whose
``choices`` was None, the Anthropic SDK an empty message, and the stream's garbage event
raised ``json.JSONDecodeError`` in the SDK; a 200 error object was a completion with nothing in it."""

from __future__ import annotations

import threading
from typing import Any

import anthropic
import httpx
import openai
import pytest

from .conftest import policy_gateway, record_of
from .raw_upstream import RawUpstream, serve
from .test_routing_foreign_answers import CASES, CHAT, GARBAGE, MID, UNTYPED, _post, _typed, _with_garbage

KEY = "sk-gw-foreign"
POLICY = "on_http_request: []\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_answer_of_another_api_is_the_proxy_s_502_as_a_routed_one_is(case: str) -> None:
    api, stream, answer, status = CASES[case]
    with RawUpstream(serve(answer)) as up, policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        got = _post(gw.url, api, stream)
        if status is None:
            assert got.status_code == 502, got.text
            assert "upstream_malformed" in got.text
            assert got.headers["x-aigw-upstream-error"] == "malformed"
            assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["http.response.status_code"] == 502
        else:  # an error object alone: served with the status it says, so that the SDK raises its error
            assert got.status_code == status, got.text


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@pytest.mark.parametrize("api", sorted(MID))
def test_the_proxy_s_served_stream_ends_with_the_provider_s_error_at_an_event_that_is_not_json(
        api: str, garbage: str) -> None:
    stream, error = MID[api]
    path, body = (("/v1/chat/completions", {"model": "gpt-4o", "messages": [], "stream": True}) if api == "openai"
                  else ("/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": [], "stream": True}))
    go = threading.Event()
    with RawUpstream(_with_garbage(stream, GARBAGE[garbage], go)) as up, \
            policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        content = bytearray()
        with httpx.stream("POST", gw.url + path, json=body, timeout=20,
                          headers={"authorization": f"Bearer {KEY}", "x-api-key": KEY}) as got:
            assert got.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):  # then closed without the body's end, as a cut
                for chunk in got.iter_raw():
                    content += chunk
                    go.set()
        assert b"second" in content
        assert GARBAGE[garbage] not in content
        assert error in content and b"not JSON" in content


@pytest.mark.parametrize("case", sorted(UNTYPED))
def test_the_proxy_serves_an_answer_whose_type_says_nothing_with_its_api_s_type(case: str) -> None:
    stream, ctype, body, want = UNTYPED[case]
    with RawUpstream(serve(_typed(ctype, body))) as up, policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        got = _post(gw.url, "openai", stream)
        if want is None:  # text where a completion was due: malformed
            assert got.status_code == 502, got.text
            return
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == want
        assert got.content == body


def _sdk_reads(url: str, which: str) -> Any:
    if which == "openai":
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    ant = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=20)
    return ant.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("which", ["openai", "anthropic"])
def test_an_sdk_behind_the_proxy_raises_its_own_error_at_another_api_s_answer(which: str) -> None:
    """The SDK's documented ``APIStatusError`` (502), not a completion with nothing in it."""
    other = CASES["anthropic message to a chat request" if which == "openai" else
                  "chat completion to a messages request"][2]
    with RawUpstream(serve(other)) as up, policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        error = openai.InternalServerError if which == "openai" else anthropic.InternalServerError
        with pytest.raises(error) as raised:
            _sdk_reads(gw.url, which)
        assert raised.value.status_code == 502


def test_the_proxy_passes_the_api_s_own_answers_on() -> None:
    import json

    good = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(json.dumps(CHAT))}\r\n"
            f"connection: close\r\n\r\n{json.dumps(CHAT)}").encode()
    with RawUpstream(serve(good)) as up, policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        assert _sdk_reads(gw.url, "openai").choices[0].message.content == "second"


def test_a_read_of_a_known_path_is_not_judged_as_an_inference_answer() -> None:
    """``GET /v1/chat/completions`` lists stored completions (no ``choices``): passed on as it
    came, as every answer to a request that is no inference call."""
    import json

    listing = json.dumps({"object": "list", "data": [], "has_more": False}).encode()
    answer = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(listing)
              + listing)
    with RawUpstream(serve(answer)) as up, policy_gateway(POLICY, KEY, upstream=up.url) as gw:
        got = httpx.get(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"}, timeout=20)
        assert (got.status_code, got.content) == (200, listing), got.text
