"""Red-team cases of routed requests (SPEC §12): an upstream that quotes the key it was sent,
in its body, its headers or a redirect's ``Location``, never gets that key to the client, the
logs or the ledger (a redirect is not passed on at all: tests/gateway/test_redteam_redirects.py);
a key split across the chunks of a stream is caught too."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aigw_policy.gateway.scrub import MASK, MIN_SECRET, Scrubber

from .conftest import ServerThread, ledger_records

SECRETS = {"echo": "sk-ECHO-the-secret-1", "redirect": "sk-REDIRECT-secret-2", "sse": "sk-SSE-split-secret-3",
           "refuse": "sk-REFUSE-secret-4"}
CLIENT_KEY = "sk-gw-redteam"


class Echo:
    """An upstream that quotes its credential back: the provider is the path's first segment."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (m := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        key = dict(scope["headers"]).get(b"authorization", b"").removeprefix(b"Bearer ")
        kind = scope["path"].split("/")[1]
        usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
        if kind == "sse":  # the key one byte per chunk: only a scrubber that holds back catches it
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            event = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o",
                     "choices": [{"index": 0, "delta": {"content": "key " + key.decode()}}]}
            data = b"data: " + json.dumps(event).encode() + b"\n\n"
            for i in range(len(data)):
                await send({"type": "http.response.body", "body": data[i:i + 1], "more_body": True})
            end = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [], "usage": usage}
            await send({"type": "http.response.body", "more_body": False,
                        "body": b"data: " + json.dumps(end).encode() + b"\n\ndata: [DONE]\n\n"})
            return
        status = {"echo": 200, "redirect": 302, "refuse": 401}[kind]
        body = {"id": "c", "object": "chat.completion", "model": "gpt-4o", "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": f"you sent {key.decode()}"},
                             "finish_reason": "stop"}]}
        if status == 401:
            body = {"error": {"message": f"Incorrect API key provided: {key.decode()}", "code": "invalid_api_key"}}
        headers = [(b"content-type", b"application/json"), (b"x-echo", key),
                   (b"www-authenticate", b"Bearer error=\"invalid_token\", key=" + key),
                   (b"x-aigw-decision-id", b"spoofed"), (b"x-aigw-upstream-error", b"spoofed")]
        if status == 302:
            headers.append((b"location", b"https://elsewhere.example/v1/chat?key=" + key))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _policy(url: str) -> str:
    providers = "".join(f"""
            - id: {name}
              base_url: {url}/{name}/v1
              api_keys: [{{value: "${{secrets.get('v', '{name}')}}", id: {name}-key}}]
              models: [{{id: gpt-4o}}]""" for name in SECRETS)
    return f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 10s
          only_allow_configured_providers: true
          failover_on: [5xx, timeout, connect]
          providers:{providers}
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol
    from aigw_policy.routing.secrets import Secrets

    d: Path = tmp_path_factory.mktemp("redteam")
    with ServerThread(Echo()) as upstream:
        (d / "policy.yaml").write_text(_policy(upstream.url))
        (d / "keys.yaml").write_text(f"keys:\n  - key: {CLIENT_KEY}\n    identity: {{key: k-red, team: red}}\n")
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        gateway_log = logging.getLogger("aigw_policy.gateway")
        gateway_log.addHandler(handler)
        old = gateway_log.level
        gateway_log.setLevel(logging.DEBUG)
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), store="memory:",
                      ledger=f"jsonl:{d / 'usage.jsonl'}", watch=0, secrets=Secrets({"v": SECRETS}, env={}))
        try:
            with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
                server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
                server.log = log  # type: ignore[attr-defined]
                yield server
        finally:
            gateway_log.removeHandler(handler)
            gateway_log.setLevel(old)


def _leaks(*texts: str) -> list[str]:
    blob = "\n".join(texts)
    return [s for s in SECRETS.values() if s in blob]


@pytest.mark.parametrize(("provider", "status", "stream"), [
    ("echo", 200, False), ("redirect", 503, False), ("refuse", 401, False), ("sse", 200, True)])
def test_a_key_the_upstream_quotes_never_reaches_the_client(hostile: Any, provider: str, status: int,
                                                            stream: bool) -> None:
    body = {"model": f"{provider}:gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    r = httpx.post(f"{hostile.url}/v1/chat/completions", json=body, timeout=30, follow_redirects=False,
                   headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert r.status_code == status
    headers = "\n".join(f"{k}: {v}" for k, v in r.headers.multi_items())
    assert _leaks(r.text, headers) == []
    if provider != "redirect":  # a redirect failed the attempt: nothing of its answer is served
        assert MASK.decode() in r.text or MASK.decode() in headers  # the quote is there, its key is not
    assert "spoofed" not in headers  # the gateway's own fields are the gateway's alone
    assert len(r.headers.get_list("x-aigw-decision-id")) == 1
    rid = r.headers["x-aigw-decision-id"]
    records = ledger_records(hostile.ledger, rid)
    assert _leaks(json.dumps(records), hostile.log.getvalue(), httpx.get(f"{hostile.url}/metrics").text) == []
    if provider == "sse":  # the events are whole, and the usage the stream reported is the ledger's
        assert r.text.endswith("data: [DONE]\n\n")
        final = [x for x in records if x["aigw.verdict"] != "pending"]
        assert final[-1]["aigw.usage.total_tokens"] == 14


SECRET = b"sk-abcdefgh"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([SECRET, SECRET[:3], SECRET[:5], b"sk-", b"s", b"x", b"\n\n", b"k"]), max_size=12),
       st.lists(st.integers(0, 60), max_size=8))
@example([b"sk-", SECRET], [2])
def test_a_scrubbed_stream_is_the_scrubbed_whole_however_it_is_cut(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    scrub = Scrubber(SECRET)
    out = b"".join(scrub.feed(data[a:b]) for a, b in zip(bounds, bounds[1:])) + scrub.flush()
    assert out == data.replace(SECRET, MASK)
    assert SECRET not in out


def test_a_short_key_is_not_scrubbed_from_answers() -> None:
    assert Scrubber.of("x" * (MIN_SECRET - 1)) is None
    assert Scrubber.of(None) is None
    assert Scrubber.of("x" * MIN_SECRET) is not None


PROXY_KEY = "sk-UPSTREAM-AUTH-proxy-5"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``serve --upstream`` (no routing) whose keys file sends the upstream a key of its own."""
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    d: Path = tmp_path_factory.mktemp("redteam-proxy")
    with ServerThread(Echo()) as upstream:
        (d / "policy.yaml").write_text("on_http_request: []\n")
        (d / "keys.yaml").write_text(f"keys:\n  - key: {CLIENT_KEY}\n    identity: {{key: k-red, team: red}}\n"
                                     f"upstream_auth:\n  openai: {{authorization: 'Bearer {PROXY_KEY}'}}\n")
        apps = {kind: Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), upstream=f"{upstream.url}/{kind}",
                              provider="openai", store="memory:", watch=0) for kind in ("echo", "redirect", "refuse", "sse")}
        servers = {kind: ServerThread(app, http=header_timeout_protocol(10.0)) for kind, app in apps.items()}
        for s in servers.values():
            s.__enter__()
        try:
            yield {kind: s.url for kind, s in servers.items()}
        finally:
            for s in servers.values():
                s.__exit__(None, None, None)


@pytest.mark.parametrize(("kind", "status"), [("echo", 200), ("redirect", 502), ("refuse", 401), ("sse", 200)])
def test_the_proxys_upstream_credential_never_comes_back(proxied: Any, kind: str, status: int) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": kind == "sse"}
    r = httpx.post(f"{proxied[kind]}/v1/chat/completions", json=body, timeout=30,
                   headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert r.status_code == status
    headers = "\n".join(f"{k}: {v}" for k, v in r.headers.multi_items())
    assert PROXY_KEY not in r.text and PROXY_KEY not in headers
    if kind != "redirect":  # a redirect is not passed on (502 `redirect`): nothing of it to scrub
        assert MASK.decode() in r.text + headers
    assert "spoofed" not in headers and len(r.headers.get_list("x-aigw-decision-id")) == 1


@pytest.mark.parametrize("status", [600, 999])
def test_a_status_http_does_not_define_is_a_failed_attempt_not_a_dropped_connection(status: int) -> None:
    """The upstream says `HTTP/1.1 999`: the attempt failed (the next candidate serves), the
    client is never left with a connection closed without an answer."""
    from .raw_upstream import RawUpstream, serve

    ok = json.dumps({"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
    odd = b"HTTP/1.1 %d Odd\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}" % status
    good = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(ok), ok)
    with RawUpstream(serve(odd)) as first, RawUpstream(serve(good)) as second:
        policy = f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - {{id: odd, base_url: "{first.url}/v1", api_keys: [{{value: sk-odd-status-key}}], models: [{{id: gpt-4o}}]}}
            - {{id: good, base_url: "{second.url}/v1", api_keys: [{{value: sk-good-status-key}}], models: [{{id: gpt-4o}}]}}
"""
        _serve_one(policy, _assert_served_by_second)


def _assert_served_by_second(url: str) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30, headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "ok"


def _serve_one(policy: str, check: Any) -> None:
    import tempfile

    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "policy.yaml").write_text(policy)
        (d / "keys.yaml").write_text(f"keys:\n  - key: {CLIENT_KEY}\n    identity: {{key: k-red, team: red}}\n")
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), store="memory:", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
            check(server.url)
