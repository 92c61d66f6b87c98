"""Every answer the gateway makes itself carries its request id where the SDKs read one
(``x-request-id``: OpenAI's ``err.request_id``; ``request-id``: Anthropic's) and in
``x-aigw-decision-id``, the same id as the ledger and the decision log: refusals before a
decision (401, 400, 413, 415, the server's own 400 and 431 for bytes that are not HTTP/1.1),
denials (403, 429), routed failures (502), an unreachable upstream, ``/healthz`` and
``/metrics``, and an error of the gateway's own. A client's own ``x-request-id`` is never taken
for the gateway's (the id keys the ledger); a forwarded answer keeps the provider's id. Last, an
answer to ``HEAD`` through ``serve`` (its length, its upstream connection kept)."""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from .conftest import KEYS, POLICY, ServerThread, lifespan, policy_gateway, raw_exchange, record_of, routed_policy
from .stub import StubUpstream

pytest.importorskip("httptools")

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
RID = re.compile(r"req-[0-9a-f]{20}")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ids")
    (d / "policy.aigw").write_text(POLICY)
    (d / "keys.yaml").write_text(KEYS)
    return {"policy": d / "policy.aigw", "keys": d / "keys.yaml", "ledger": d / "usage.jsonl"}


def _serve(upstream: str, files: dict[str, Path], **kw: Any) -> ServerThread:
    import os

    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    os.environ["AIGW_TEST_UPSTREAM_KEY"] = "upstream-secret"
    app = Gateway(policy=files["policy"], upstream=upstream, keys=load_keys(files["keys"]), store="memory:",
                  ledger=f"jsonl:{files['ledger']}", watch=0, max_body=4096, **kw)
    server = ServerThread(app, http=header_timeout_protocol(10.0))
    server.app = app  # type: ignore[attr-defined]
    return server


@pytest.fixture(scope="module")
def gw(files: dict[str, Path]) -> Any:
    app = StubUpstream()
    with ServerThread(app) as stub, _serve(stub.url, files, metrics_token="tok") as server:
        yield server


def _ids(headers: Any) -> str:
    """The one request id an answer carries in all three fields."""
    rid = headers.get("x-aigw-decision-id")
    assert rid and RID.fullmatch(rid), headers
    assert headers.get("x-request-id") == rid and headers.get("request-id") == rid, headers
    return str(rid)


AUTH = {"authorization": "Bearer sk-gw-research"}


@pytest.mark.parametrize("case", ["unknown key", "bad path", "too large", "encoded body", "bad json", "denied",
                                  "limited"])
def test_the_gateways_refusals_carry_the_request_id_of_the_ledger_and_log(gw: Any, files: dict[str, Path],
                                                                          case: str) -> None:
    url = gw.url + "/v1/chat/completions"
    with httpx.Client(timeout=10) as client:
        if case == "unknown key":
            r = client.post(url, json=CHAT, headers={"authorization": "Bearer nope"})
        elif case == "bad path":
            r = client.post(gw.url + "/v1/%2e%2e/chat/completions", json=CHAT, headers=AUTH)
        elif case == "too large":
            r = client.post(url, content=b"x" * 5000, headers=AUTH)
        elif case == "encoded body":
            r = client.post(url, content=b"x", headers={**AUTH, "content-encoding": "gzip"})
        elif case == "bad json":
            r = client.post(url, content=b"{", headers={**AUTH, "content-type": "application/json"})
        elif case == "denied":
            r = client.post(url, json={**CHAT, "model": "gpt-4.1"}, headers={"authorization": "Bearer sk-gw-sales"})
        else:
            client.post(url, json=CHAT, headers={"authorization": "Bearer sk-gw-tiny"})
            r = client.post(url, json=CHAT, headers={"authorization": "Bearer sk-gw-tiny"})
    assert r.status_code >= 400
    rid = _ids(r.headers)
    assert r.json()["aigw"]["decision_id"] == rid
    if case in ("denied", "limited"):  # a decision was made: the ledger has it under the same id
        assert record_of(files["ledger"], rid)["aigw.request.id"] == rid


def test_a_clients_own_request_id_is_not_taken_for_the_gateways(gw: Any, files: dict[str, Path]) -> None:
    """The id keys the ledger: a client choosing it could collide with (or probe) another
    request's record. Its own id goes upstream as any header does; the answer's is the gateway's."""
    with httpx.Client(timeout=10) as client:
        r = client.post(gw.url + "/v1/chat/completions", json=CHAT,
                        headers={"authorization": "Bearer nope", "x-request-id": "req-00000000000000000000",
                                 "request-id": "mine"})
        ok = client.post(gw.url + "/v1/chat/completions", json=CHAT, headers={**AUTH, "x-request-id": "client-7"})
    rid = _ids(r.headers)
    assert rid != "req-00000000000000000000"
    assert ok.status_code == 200 and ok.headers["x-aigw-decision-id"] != "client-7"
    assert gw.app.proxy is not None


def _raw(port: int, data: bytes) -> tuple[int, dict[str, str], Any]:
    status, headers, body = raw_exchange(port, data)
    return status, headers, json.loads(body)


@pytest.mark.parametrize("case", ["duplicate length", "length and chunked", "bad transfer coding", "not http",
                                  "head too large", "anthropic path"])
def test_the_servers_own_refusals_are_provider_shaped_with_an_id(gw: Any, case: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Bytes uvicorn's parser refuses got a plain-text ``Invalid HTTP request received.`` with
    no id, and a head past the bound a 431 with none either: a client (or its operator) could
    not tell which refusal it got."""
    body = json.dumps(CHAT).encode()
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-gw-research\r\n"
    data = {
        "duplicate length": head + b"content-length: %d\r\ncontent-length: 3\r\n\r\n" % len(body) + body,
        "length and chunked": head + b"content-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        "bad transfer coding": head + b"transfer-encoding: identity\r\n\r\n" + body,
        "not http": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "head too large": head + b"x-pad: " + b"a" * 70_000 + b"\r\n\r\n",
        "anthropic path": head.replace(b"/v1/chat/completions", b"/v1/messages")
        + b"content-length: 2\r\ncontent-length: 3\r\n\r\n{}",
    }[case]
    with caplog.at_level(logging.WARNING, logger="aigw_policy.gateway"):
        status, headers, answer = _raw(gw.port, data)
    assert status == (431 if case == "head too large" else 400)
    rid = _ids(headers)
    assert headers["connection"] == "close" and headers["content-type"] == "application/json"
    if case == "anthropic path":
        assert answer["type"] == "error" and answer["request_id"] == rid
    else:
        assert answer["error"]["code"] in ("invalid_http", "request_header_fields_too_large")
        assert answer["aigw"]["decision_id"] == rid
    assert any(rid in r.getMessage() for r in caplog.records)  # the operator's line has it too


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_the_gateways_own_endpoints_carry_an_id(gw: Any, path: str) -> None:
    r = httpx.get(gw.url + path, timeout=10)
    _ids(r.headers)


def test_a_forwarded_answer_keeps_the_providers_id() -> None:
    async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        await receive()
        body = json.dumps({"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"req_provider_1")]})
        await send({"type": "http.response.body", "body": body})

    from aigw_policy.gateway.metrics import summarize

    events: list[dict[str, Any]] = []
    with ServerThread(upstream) as stub, policy_gateway("on_http_request: []\n", "sk-red", upstream=stub.url) as gw:
        observer = gw.app.middleware.observer
        gw.app.middleware.observer = lambda ev: (events.append(ev), observer(ev))
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-red"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "req_provider_1"
    rid = r.headers["x-aigw-decision-id"]
    assert RID.fullmatch(rid)
    # the decision log line links the two: the client quoting either id finds it
    line = summarize(events[-1])
    assert line["aigw.request.id"] == rid and line["aigw.upstream.request_id"] == "req_provider_1"


def test_an_unreachable_upstream_and_a_failed_route_carry_the_id(files: dict[str, Path]) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{dead.getsockname()[1]}"  # bound, never listening: refused
    try:
        with _serve(url, files) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=AUTH, timeout=10)
        assert r.status_code == 502 and r.headers["x-aigw-upstream-error"] == "unreachable"
        _ids(r.headers)
        with policy_gateway(routed_policy([url, url]), "sk-red") as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-red"},
                           timeout=10)
            assert r.status_code >= 500
            rid = _ids(r.headers)
            assert record_of(gw.ledger, rid)["aigw.request.id"] == rid
    finally:
        dead.close()


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_the_sdks_error_carries_the_ledgers_id(gw: Any, files: dict[str, Path], sdk: str) -> None:
    if sdk == "openai":
        client: Any = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-gw-sales", max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.chat.completions.create(model="gpt-4.1", messages=CHAT["messages"])
    else:
        client = anthropic.Anthropic(base_url=gw.url, api_key="sk-gw-sales", max_retries=0)
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            client.messages.create(model="claude-opus-4", max_tokens=10, messages=CHAT["messages"])
    rid = caught.value.request_id
    assert rid and RID.fullmatch(rid)
    assert record_of(files["ledger"], rid)["aigw.verdict"] == "deny"


class _Broken:
    """An app behind the middleware that fails before answering, or after its head."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        await receive()
        if scope["path"].endswith("/late"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True})
        raise RuntimeError("the app broke: secret-detail")


def test_an_error_of_the_app_or_the_gateway_is_a_provider_shaped_answer_with_the_id(
        caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn answered a plain-text ``Internal Server Error`` (no id, no shape) to an exception
    before the answer began; the ledger said 502 meanwhile."""
    import aigw_policy as ap
    from aigw_policy.gateway.middleware import PolicyMiddleware

    events: list[dict[str, Any]] = []
    engine = ap.Engine(ap.loads('policy "p" { default allow }'))
    app = PolicyMiddleware(_Broken(), engine, observer=events.append)
    with caplog.at_level(logging.ERROR, logger="aigw_policy.gateway"), ServerThread(app) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=10)
        assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_unreachable"
        rid = _ids(r.headers)
        assert "secret-detail" not in r.text
        assert any(rid in rec.getMessage() for rec in caplog.records)
        with httpx.Client(timeout=10) as client, client.stream("POST", gw.url + "/v1/late", json=CHAT) as late:
            # bytes were out: nothing to replace, the connection is cut (the SDK sees it)
            with pytest.raises(httpx.RemoteProtocolError):
                late.read()

        async def fail(request: Any) -> Any:
            raise RuntimeError("the engine broke: secret-detail")

        engine.aevaluate = fail  # type: ignore[method-assign]
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=10)
    assert r.status_code == 500 and r.json()["error"]["code"] == "gateway_error"
    rid = _ids(r.headers)
    assert "secret-detail" not in r.text
    assert events[-1]["request_id"] == rid and events[-1]["verdict"] == "error"


def test_head_through_serve_keeps_the_upstream_connection_and_the_announced_length(files: dict[str, Path]) -> None:
    """``HEAD`` through ``serve``: the answer says the length the upstream announced (it said
    ``content-length: 0``), and the upstream connection is kept for the next request (it was
    closed after every answer to HEAD)."""
    from .raw_upstream import Peer, RawUpstream

    async def script(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            body = b'{"object": "list", "data": []}'
            head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
            await peer.send(head if request.startswith(b"HEAD ") else head + body)

    with RawUpstream(script) as up, _serve(up.url, files) as gw, httpx.Client(timeout=10) as client:
        first = client.head(gw.url + "/v1/models", headers=AUTH)
        second = client.get(gw.url + "/v1/models", headers=AUTH)
        third = client.head(gw.url + "/v1/models", headers=AUTH)
        assert first.status_code == second.status_code == third.status_code == 200
        assert first.headers["content-length"] == third.headers["content-length"] == "30" and first.content == b""
        assert second.json() == {"object": "list", "data": []}
        assert up.opened == 1


def test_a_routed_request_the_gateway_fails_on_is_released_and_recorded() -> None:
    """An error of the gateway's own after the decision (here: the attempt loop) left the
    request's reservation held and its ledger record pending; it is completed as a 500."""
    import time

    from aigw_policy.limits.model import Charge

    cap = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 1000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""
    stub = StubUpstream()
    with ServerThread(stub) as up, policy_gateway(cap + routed_policy([up.url]).removeprefix("on_http_request:\n"),
                                                  "sk-red") as gw:
        engine = gw.app.holder.current

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the attempt loop broke: secret-detail")

        engine.aattempt = broken
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-red"},
                       timeout=10)
        assert r.status_code == 500 and r.json()["error"]["code"] == "gateway_error"
        rid = _ids(r.headers)
        rec = record_of(gw.ledger, rid)
        assert rec["aigw.verdict"] != "pending" and rec["http.response.status_code"] == 500
        spec = engine.compiled.limits["tokens"][1].limit.spec
        assert engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used == 0


@pytest.mark.parametrize("case", ["duplicate length", "not http"])
def test_the_h11_protocols_refusals_are_provider_shaped_with_an_id(files: dict[str, Path], case: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Without httptools ``serve`` runs uvicorn's h11 protocol: its refusals say the same."""
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import _h11_protocol

    monkeypatch.setenv("AIGW_TEST_UPSTREAM_KEY", "upstream-secret")
    body = json.dumps(CHAT).encode()
    data = {"duplicate length": b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: %d\r\n"
                                b"content-length: 3\r\n\r\n" % len(body) + body,
            "not http": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"}[case]
    app = Gateway(policy=files["policy"], upstream="http://127.0.0.1:9", keys=load_keys(files["keys"]), watch=0)
    with ServerThread(app, http=_h11_protocol(10.0)) as gw:
        status, headers, answer = _raw(gw.port, data)
    assert status == 400 and answer["error"]["code"] == "invalid_http"
    assert answer["aigw"]["decision_id"] == _ids(headers)
