"""Red team: an upstream that answers with a redirect. The SDKs follow redirects
(``follow_redirects=True``), a ``307``/``308`` with the body, so a redirect passed on would have
the client send its prompt to a host the policy never named, and be answered from there,
outside the gateway's accounting. Neither ``serve``'s router nor its proxy passes one on: a
routed attempt that redirects has failed (the next candidate serves), the proxy answers 502
``redirect``; the host named by ``Location`` never hears from anyone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import openai
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import Peer, RawUpstream, serve

CLIENT_KEY = "sk-gw-redirects"
PROMPT = "the confidential prompt"
CHAT = json.dumps({"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "served"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
MESSAGE = json.dumps({"id": "m", "type": "message", "role": "assistant", "model": "claude-x",
                      "content": [{"type": "text", "text": "served"}], "stop_reason": "end_turn",
                      "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}).encode()
ANSWERS = {"openai": CHAT, "anthropic": MESSAGE}
STATUSES = [301, 302, 303, 307, 308]


def _ok(api: str) -> bytes:
    body = ANSWERS[api]
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


def _redirect(status: int, to: str, api: str) -> bytes:
    path = b"/v1/messages" if api == "anthropic" else b"/v1/chat/completions"
    return (b"HTTP/1.1 %d Moved\r\nlocation: %s%s\r\ncontent-length: 0\r\n\r\n" % (status, to.encode(), path))


@contextmanager
def _elsewhere() -> Iterator[tuple[RawUpstream, list[bytes]]]:
    """The host a redirect names: it records what reaches it (and would answer as a provider)."""
    heard: list[bytes] = []

    async def script(peer: Peer) -> None:
        request = await peer.read_request()
        if request is not None:
            heard.append(request)
            await peer.send(_ok("anthropic" if b"/v1/messages" in request else "openai"))

    with RawUpstream(script) as server:
        yield server, heard


def _ask(api: str, url: str) -> tuple[int, str, Any]:
    """The SDK's request (redirects followed, as the SDK does): status, text, headers."""
    if api == "anthropic":
        client = anthropic.Anthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0, timeout=20)
        try:
            raw = client.messages.with_raw_response.create(model="claude-x", max_tokens=5,
                                                           messages=[{"role": "user", "content": PROMPT}])
            return raw.http_response.status_code, raw.parse().content[0].text, raw.headers
        except anthropic.APIStatusError as error:
            return error.status_code, error.response.text, error.response.headers
    oai = openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    try:
        raw = oai.chat.completions.with_raw_response.create(model="gpt-4o",
                                                            messages=[{"role": "user", "content": PROMPT}])
        return raw.http_response.status_code, raw.parse().choices[0].message.content or "", raw.headers
    except openai.APIStatusError as error:
        return error.status_code, error.response.text, error.response.headers


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("status", STATUSES)
def test_a_routed_attempt_that_redirects_has_failed(api: str, status: int) -> None:
    with _elsewhere() as (elsewhere, heard), RawUpstream(serve(_redirect(status, elsewhere.url, api))) as first, \
            RawUpstream(serve(_ok(api))) as second, \
            policy_gateway(routed_policy([first.url, second.url], api=api, key="sk-redirected-key"), CLIENT_KEY) as gw:
        code, text, headers = _ask(api, gw.url)
        assert heard == []  # nobody followed the redirect
        assert (code, text) == (200, "served")
        rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)


def test_a_routed_redirect_everywhere_is_all_failed() -> None:
    with _elsewhere() as (elsewhere, heard), RawUpstream(serve(_redirect(307, elsewhere.url, "openai"))) as first, \
            policy_gateway(routed_policy([first.url], key="sk-redirected-key"), CLIENT_KEY) as gw:
        code, text, headers = _ask("openai", gw.url)
        assert heard == []
        assert code == 503 and "location" not in headers and "ERR_NGROK_3807" in text


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("status", STATUSES)
def test_the_proxy_passes_no_redirect_on(api: str, status: int) -> None:
    with _elsewhere() as (elsewhere, heard), RawUpstream(serve(_redirect(status, elsewhere.url, api))) as upstream, \
            policy_gateway("on_http_request: []\n", CLIENT_KEY, upstream=upstream.url) as gw:
        code, text, headers = _ask(api, gw.url)
        assert heard == []
        assert code == 502 and headers["x-aigw-upstream-error"] == "redirect" and "location" not in headers
        assert "redirect" in text
