"""Hostile input at the gateway's edge, through real servers (uvicorn on loopback): paths that
mean one thing to the policy and another to the upstream, bodies sent before a key is
checked, oversized and malformed bodies, hop-by-hop headers, header injection through
interpolation, token fields of the wrong type, answers too large to parse."""

from __future__ import annotations

import json
import select
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, lifespan, record_of

POLICY = '''policy "edge" {
  default allow

  on request {
    rule "no-admin" {
      when req.url.path.startsWith("/v1/admin")
      deny 403 "admin is closed"
    }
    rule "premium" {
      when ai.model == "gpt-4.1"
      deny 403 "gpt-4.1 is reserved"
    }
    rule "echo" {
      when "echo" in req.url.query_params
      add-headers { headers: { "x-echo": "${req.url.query_params['echo'][0]}" } }
    }
  }

  on response {
    rule "echo-back" {
      when "back" in req.url.query_params
      add-headers { headers: { "x-back": "${req.url.query_params['back'][0]}" } }
    }
  }
}
'''

KEYS = '''keys:
  - key: sk-edge
    identity: {key: k-edge, team: edge}
'''

MAX_BODY = 64 * 1024
USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}


class Echo:
    """An upstream that records what reached it and answers a small chat completion (or, on
    ``/v1/big``, a JSON answer of ``big`` bytes; with ``?hop=1``, hop-by-hop headers)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.big = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        raw = bytearray()
        while True:
            m = await receive()
            raw += m.get("body", b"")
            if not m.get("more_body"):
                break
        self.seen.append({"path": scope["path"], "raw_path": scope.get("raw_path"), "body": bytes(raw),
                          "headers": [(k.decode().lower(), v.decode("latin-1")) for k, v in scope["headers"]]})
        headers = [(b"content-type", b"application/json")]
        if scope["path"] == "/v1/big":
            filler = "x" * self.big
            data = json.dumps({"id": "big", "choices": [{"message": {"content": filler}}], "usage": USAGE}).encode()
        elif scope["path"].endswith(":generateContent"):  # Gemini's answer (the proxy judges an answer's API)
            data = json.dumps({"candidates": [], "usageMetadata": {"promptTokenCount": 11}}).encode()
        else:
            data = json.dumps({"id": "c", "model": "gpt-4o", "choices": [], "usage": USAGE}).encode()
        if b"hop=1" in scope.get("query_string", b""):
            headers += [(b"connection", b"x-upstream-secret"), (b"x-upstream-secret", b"s"), (b"keep-alive", b"timeout=5")]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module")
def echo() -> Any:
    app = Echo()
    with ServerThread(app) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("edge")
    (d / "policy.aigw").write_text(POLICY)
    (d / "keys.yaml").write_text(KEYS)
    return {"policy": d / "policy.aigw", "keys": d / "keys.yaml", "ledger": d / "usage.jsonl"}


@pytest.fixture(scope="module")
def gw(echo: Any, files: dict[str, Path]) -> Any:
    from aigw_policy.gateway import Gateway, load_keys

    app = Gateway(policy=files["policy"], upstream=echo.url, keys=load_keys(files["keys"]), store="memory:",
                  ledger=f"jsonl:{files['ledger']}", timeout=5.0, watch=0, max_body=MAX_BODY)
    with ServerThread(app) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


AUTH = {"authorization": "Bearer sk-edge"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def raw_request(port: int, head: bytes, body: bytes = b"", *, wait: float = 10.0) -> bytes:
    """Send ``head`` (and ``body``) on a fresh connection; everything the server answers
    until it closes the connection or goes quiet for ``wait`` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(head + body)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and _complete(out):
                    break
        except TimeoutError:
            pass
        return out


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def status_of(data: bytes) -> int:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def body_of(data: bytes) -> Any:
    return json.loads(data.partition(b"\r\n\r\n")[2])


# -- 1. paths: one canonical path for the policy and the upstream ------------------------------


@pytest.mark.parametrize("path", ["/v1/x/../admin/x", "/v1/./admin", "//v1/admin", "/v1//admin", "/v1/x/%2E%2E/admin",
                                  "/v1/chat/../../v1/admin/y"])
def test_path_tricks_do_not_pass_a_path_rule(gw: Any, echo: Any, path: str) -> None:
    before = len(echo.app.seen)
    head = f"POST {path} HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\ncontent-length: 2\r\n\r\n".encode()
    answer = raw_request(gw.port, head, b"{}")
    assert status_of(answer) in (400, 403), answer[:200]
    assert len(echo.app.seen) == before  # nothing reached the upstream


@pytest.mark.parametrize("path, code", [
    ("/v1/a%2Fb", "invalid_path"), ("/v1/a%2fb", "invalid_path"), ("/v1/%2e%2e/admin", "invalid_path"),
    ("/v1/a%5Cb", "invalid_path"), ("/v1/a\\b", "invalid_path"), ("/v1/a%00b", "invalid_path"),
    ("/v1/a%0d%0ax:y", "invalid_path"), ("/v1/a%zz", "invalid_path"), ("/v1/a%2", "invalid_path"),
    ("/v1/a%252e", "invalid_path"), ("/v1/admin;x/chat", "invalid_path"), ("/v1/a%3Fb", "invalid_path"),
    ("/v1/a%FFb", "invalid_path"),
])
def test_ambiguous_paths_are_400_in_provider_shape(gw: Any, echo: Any, path: str, code: str) -> None:
    before = len(echo.app.seen)
    head = f"POST {path} HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\ncontent-length: 2\r\n\r\n".encode()
    answer = raw_request(gw.port, head, b"{}")
    assert status_of(answer) == 400, answer[:200]
    err = body_of(answer)
    assert err["error"]["code"] == code and err["aigw"]["code"] == code
    assert len(echo.app.seen) == before


@pytest.mark.parametrize("host", ["gw/v1/chat/completions#", "gw?x=", "gw/", "a@gw", "gw:8080/x", "gw\\x"])
def test_a_host_header_cannot_move_the_path(gw: Any, echo: Any, host: str) -> None:
    before = len(echo.app.seen)
    head = (f"POST /v1/admin/x HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer sk-edge\r\n"
            "content-length: 2\r\n\r\n").encode()
    answer = raw_request(gw.port, head, b"{}")
    assert status_of(answer) == 400 and body_of(answer)["error"]["code"] == "invalid_path", answer[:300]
    assert len(echo.app.seen) == before


def test_the_upstream_gets_the_path_the_policy_saw(gw: Any, echo: Any) -> None:
    head = (b"POST /v1/x/..//chat/./completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n")
    body = json.dumps(CHAT).encode()
    answer = raw_request(gw.port, head % len(body), body)
    assert status_of(answer) == 200, answer[:300]
    seen = echo.app.seen[-1]
    assert seen["path"] == "/v1/chat/completions" and seen["raw_path"] == b"/v1/chat/completions"
    r = httpx.post(gw.url + "/v1/models/caf%C3%A9%20x:generateContent", headers=AUTH, json={"contents": []}, timeout=5)
    assert r.status_code == 200
    assert echo.app.seen[-1]["raw_path"] == b"/v1/models/caf%C3%A9%20x:generateContent"


# -- 2. authenticate before reading; a size cap ------------------------------------------------


@pytest.mark.parametrize("length", [MAX_BODY, 30_000_000])
def test_unknown_key_is_refused_before_the_body_is_sent(gw: Any, length: int) -> None:
    # headers only: the body is announced and never sent; the answer must not wait for it
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-wrong\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n") % length
    answer = raw_request(gw.port, head)
    assert status_of(answer) == 401, answer[:200]
    assert (b"connection: close" in answer.lower()) == (length > MAX_BODY)  # past max_body: not worth draining


def test_a_refused_body_is_discarded_and_the_answer_read(gw: Any) -> None:
    import asyncio

    async def wrong_keys() -> list[int]:  # concurrent bodies just under the cap, streamed in pieces
        async def body() -> Any:
            for _ in range(MAX_BODY // 1024):
                yield b" " * 1024

        async with httpx.AsyncClient(timeout=30) as client:
            rs = await asyncio.gather(*(client.post(gw.url + "/v1/chat/completions", content=body(),
                                                    headers={"authorization": "Bearer sk-wrong",
                                                             "content-length": str(MAX_BODY)}) for _ in range(8)))
        return [r.status_code for r in rs]

    assert asyncio.run(wrong_keys()) == [401] * 8


def test_declared_length_over_the_cap_is_413_before_the_body(gw: Any) -> None:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n") % (MAX_BODY + 1)
    answer = raw_request(gw.port, head)
    assert status_of(answer) == 413, answer[:200]
    assert body_of(answer)["error"]["code"] == "body_too_large"


def test_chunked_body_over_the_cap_is_413(gw: Any, echo: Any) -> None:
    before = len(echo.app.seen)

    def chunks() -> Any:
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"x" * 4096

    r = httpx.post(gw.url + "/v1/chat/completions", headers=AUTH, content=chunks(), timeout=10)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    assert len(echo.app.seen) == before
    assert httpx.post(gw.url + "/v1/chat/completions", headers=AUTH, content=b"{" + b" " * (MAX_BODY - 2) + b"}",
                      timeout=10).status_code == 200  # at the cap: fine


# -- 3. a JSON answer too large to parse is passed through whole -------------------------------


def test_json_answer_past_the_parse_cap_is_passed_through(tmp_path: Path) -> None:
    import aigw_policy as ap
    from aigw_policy.gateway.middleware import PolicyMiddleware
    from aigw_policy.ledger import Ledger

    upstream = Echo()
    upstream.big = 50_000
    (tmp_path / "p.aigw").write_text(POLICY)
    ledger = Ledger(f"jsonl:{tmp_path / 'usage.jsonl'}")
    engine = ap.Engine(ap.load(tmp_path / "p.aigw"), ledger=ledger)
    app = PolicyMiddleware(upstream, engine, capture_limit=4096)
    with ServerThread(app) as server:
        r = httpx.post(server.url + "/v1/big", json=CHAT, timeout=10)
        assert r.status_code == 200
        assert len(r.content) > 50_000 and r.json()["usage"] == USAGE  # every byte, in order
        rec = record_of(tmp_path / "usage.jsonl", r.headers["x-aigw-decision-id"])
        assert rec["aigw.usage.source"] == "estimate"
        small = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=10)
        assert record_of(tmp_path / "usage.jsonl", small.headers["x-aigw-decision-id"])["aigw.usage.source"] == "provider"
    ledger.close()


def _anthropic_stream() -> list[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
    out = [event("message_start", {"type": "message_start", "message": {
        "model": "claude-sonnet-4", "usage": {"input_tokens": 1234, "output_tokens": 1}}})]
    out += [event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": "lorem ipsum " * 4}})] * 200
    out += [event("message_delta", {"type": "message_delta", "usage": {"output_tokens": 777}}),
            event("message_stop", {"type": "message_stop"})]
    return out


def _ollama_stream() -> list[bytes]:
    line = {"model": "llama3", "message": {"role": "assistant", "content": "lorem ipsum " * 4}, "done": False}
    end = {"model": "llama3", "done": True, "prompt_eval_count": 1234, "eval_count": 777}
    return [json.dumps(line).encode() + b"\n"] * 200 + [json.dumps(end).encode() + b"\n"]


@pytest.mark.parametrize("path, body, ctype, events", [
    ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4:streamRawPredict",
     {"anthropic_version": "vertex-2023-10-16", "max_tokens": 1000, "stream": True,
      "messages": [{"role": "user", "content": "hi"}]}, "text/event-stream", _anthropic_stream()),
    ("/api/chat", {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]},
     "application/x-ndjson", _ollama_stream()),
], ids=["claude-on-vertex", "ollama-native"])
def test_a_stream_past_the_capture_cap_is_read_in_its_own_format(
        tmp_path: Path, path: str, body: dict[str, Any], ctype: str, events: list[bytes]) -> None:
    """A stream too long to keep whole is read as it passes, in the wire format the engine
    reads the request's answers in (not the one its provider label suggests: Claude on
    Vertex sends Anthropic's events, Ollama's native API NDJSON): its usage is the provider's."""
    import aigw_policy as ap
    from aigw_policy.gateway.middleware import PolicyMiddleware
    from aigw_policy.ledger import Ledger

    async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype.encode())]})
        for e in events:
            await send({"type": "http.response.body", "body": e, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    (tmp_path / "p.aigw").write_text(POLICY)
    ledger = Ledger(f"jsonl:{tmp_path / 'usage.jsonl'}")
    app = PolicyMiddleware(upstream, ap.Engine(ap.load(tmp_path / "p.aigw"), ledger=ledger), capture_limit=4096)
    with ServerThread(app) as server:
        r = httpx.post(server.url + path, json=body, timeout=10)
        assert r.status_code == 200 and len(r.content) > 4096
        rec = record_of(tmp_path / "usage.jsonl", r.headers["x-aigw-decision-id"])
    ledger.close()
    assert rec["aigw.usage.source"] == "provider", rec
    assert (rec["gen_ai.usage.input_tokens"], rec["gen_ai.usage.output_tokens"]) == (1234, 777)


# -- 4. bodies that are not plain JSON ----------------------------------------------------------


@pytest.mark.parametrize("body, code", [
    (b"[" * 20_000 + b"]" * 20_000, "json_too_deep"),
    (b'{"model": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}", "json_too_deep"),
    (b'{"model": "gpt-4o-mini", "model": "gpt-4.1", "messages": []}', "duplicate_json_key"),
    (b'{"model": "gpt-4.1", "messages": [], }', "invalid_json"),
    (b'{"model": "gpt-4o", "max_tokens": NaN, "messages": []}', "invalid_json"),
    (b'{"model": "gpt-4o\\ud800", "messages": []}', "invalid_json"),
    (b'{"model": "gpt-4o", "max_tokens": ' + b"9" * 5000 + b', "messages": []}', "invalid_json"),
    # one field spelt twice as an upstream reads it: Go's encoding/json (Ollama, LocalAI) matches
    # names case-insensitively and keeps the last; Gemini reads snake_case and lowerCamelCase alike
    (b'{"model": "gpt-4o-mini", "Model": "gpt-4.1", "messages": []}', "duplicate_json_key"),
    (b'{"model": "gpt-4o-mini", "messages": [], "MAX_TOKENS": 9, "max_tokens": 1}', "duplicate_json_key"),
    (b'{"model": "llama3", "options": {"num_predict": 5, "Num_Predict": 99999}, "messages": []}', "duplicate_json_key"),
    (b'{"contents": [], "generationConfig": {"maxOutputTokens": 5, "max_output_tokens": 99999}}', "duplicate_json_key"),
    (b'{"contents": [], "generationConfig": {"maxOutputTokens": 5}, "generation_config": {}}', "duplicate_json_key"),
])
def test_bodies_that_are_not_plain_json_are_400(gw: Any, echo: Any, body: bytes, code: str) -> None:
    before = len(echo.app.seen)
    r = httpx.post(gw.url + "/v1/chat/completions", headers={**AUTH, "content-type": "application/json"},
                   content=body, timeout=10)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"]["code"] == code
    assert len(echo.app.seen) == before


def test_too_many_items_is_413_before_parsing(gw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw_policy.gateway import request_body

    monkeypatch.setattr(request_body, "MAX_JSON_ITEMS", 1000)
    r = httpx.post(gw.url + "/v1/chat/completions", headers={**AUTH, "content-type": "application/json"},
                   content=b'{"model": "gpt-4o", "messages": [], "x": [' + b"{}," * 2000 + b"{}]}", timeout=10)
    assert r.status_code == 413 and r.json()["error"]["code"] == "json_too_many_items"


def test_large_bodies_parse_off_the_loop_with_the_same_answers(gw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw_policy.gateway import exchange

    monkeypatch.setattr(exchange, "_PARSE_ON_LOOP", 0)
    assert httpx.post(gw.url + "/v1/chat/completions", headers=AUTH, json=CHAT, timeout=10).status_code == 200
    r = httpx.post(gw.url + "/v1/chat/completions", headers={**AUTH, "content-type": "application/json"},
                   content=b"[" * 20_000 + b"]" * 20_000, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "json_too_deep"


def test_paired_surrogates_are_fine(gw: Any) -> None:
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\ud83d\\ude00 \\\\ud800"}]}'
    r = httpx.post(gw.url + "/v1/chat/completions", headers={**AUTH, "content-type": "application/json"},
                   content=body, timeout=10)
    assert r.status_code == 200, r.text


def test_deep_but_readable_body_is_a_coded_400(gw: Any) -> None:
    body = {"model": "gpt-4o", "messages": [], "x": json.loads("[" * 300 + "]" * 300)}
    r = httpx.post(gw.url + "/v1/chat/completions", headers=AUTH, json=body, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    assert "nested" in r.json()["error"]["message"]


def test_a_field_name_in_a_users_map_may_differ_by_case_alone(gw: Any, echo: Any) -> None:
    """Only the objects the policy reads are checked: a tool's JSON Schema may name `id` and `ID`."""
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"id": {"type": "string"}, "ID": {"type": "string"}}}}}
    r = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": "Bearer sk-edge"}, timeout=10,
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]})
    assert r.status_code == 200, r.text


def test_non_json_media_types_still_pass(gw: Any, echo: Any) -> None:
    r = httpx.post(gw.url + "/v1/audio/transcriptions", headers=AUTH, files={"file": ("a.wav", b"RIFF....")},
                   timeout=10)
    assert r.status_code == 200
    assert echo.app.seen[-1]["body"].startswith(b"--")


# -- 5. hop-by-hop headers, both directions ----------------------------------------------------


def test_hop_by_hop_headers_are_not_forwarded(gw: Any, echo: Any) -> None:
    head = (b"POST /v1/chat/completions?hop=1 HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\n"
            b"connection: keep-alive, x-client-secret, X-Other\r\nx-client-secret: s1\r\nx-other: s2\r\n"
            b"keep-alive: timeout=100\r\nproxy-connection: keep-alive\r\nte: trailers\r\nx-aigw-decision-id: forged\r\n"
            b"x-kept: yes\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n")
    body = json.dumps(CHAT).encode()
    answer = raw_request(gw.port, head % len(body), body)
    assert status_of(answer) == 200, answer[:300]
    sent = dict(echo.app.seen[-1]["headers"])
    for name in ("x-client-secret", "x-other", "keep-alive", "proxy-connection", "te"):
        assert name not in sent, name
    assert "secret" not in sent.get("connection", "")  # (httpx's own `connection: keep-alive` is its hop's)
    assert sent["x-kept"] == "yes" and sent["x-aigw-decision-id"] != "forged"
    assert [v for k, v in echo.app.seen[-1]["headers"] if k == "x-aigw-decision-id"] == [sent["x-aigw-decision-id"]]
    received = answer.partition(b"\r\n\r\n")[0].lower()
    assert b"x-upstream-secret" not in received and b"keep-alive: timeout=5" not in received


# -- 6. header injection through interpolation -------------------------------------------------


@pytest.mark.parametrize("param", ["echo", "back"])
def test_crlf_interpolated_into_a_header_is_a_500_naming_the_rule(gw: Any, echo: Any, param: str) -> None:
    before = len(echo.app.seen)
    r = httpx.post(gw.url + f"/v1/chat/completions?{param}=a%0D%0Aset-cookie:%20x%3D1", headers=AUTH, json=CHAT,
                   timeout=10)
    assert r.status_code == 500, r.text
    rule = "echo" if param == "echo" else "echo-back"
    assert r.json()["aigw"]["rule"] == rule
    assert "set-cookie" not in r.headers
    if param == "echo":
        assert len(echo.app.seen) == before  # never sent upstream
    ok = httpx.post(gw.url + f"/v1/chat/completions?{param}=plain%20value", headers=AUTH, json=CHAT, timeout=10)
    assert ok.status_code == 200
    assert (echo.app.seen[-1]["headers"] if param == "echo" else list(ok.headers.items())).count(
        ("x-echo" if param == "echo" else "x-back", "plain value")) == 1


# -- 7. fields the policy reads, of a value the API does not take ------------------------------


BAD_FIELDS = [
    ({"max_tokens": 2**53}, "request.body.max_tokens"),
    # ({"max_tokens": 1e309}: invalid_json since serve22, test_redteam_overflowing_numbers.py)
    ({"max_tokens": "100000"}, "request.body.max_tokens"),
    ({"max_tokens": -1}, "request.body.max_tokens"),
    ({"max_tokens": True}, "request.body.max_tokens"),
    ({"max_completion_tokens": 1.5}, "request.body.max_completion_tokens"),
    ({"max_output_tokens": [1]}, "request.body.max_output_tokens"),
    ({"n": 0}, "request.body.n"),
    ({"stream": "true"}, "request.body.stream"),
    ({"model": ["gpt-4.1"]}, "request.body.model"),
    ({"model": "g" * 257}, "request.body.model"),
]


@pytest.mark.parametrize("extra, field", BAD_FIELDS)
def test_bad_token_fields_are_400_naming_the_field(gw: Any, echo: Any, extra: dict[str, Any], field: str) -> None:
    before = len(echo.app.seen)
    body = json.dumps({**CHAT, **extra}).encode()
    r = httpx.post(gw.url + "/v1/chat/completions", headers={**AUTH, "content-type": "application/json"},
                   content=body, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request" and f"`{field}`" in r.json()["error"]["message"]
    assert len(echo.app.seen) == before


def _request(body: Any, url: str = "https://gw.example/v1/chat/completions") -> dict[str, Any]:
    return {"request": {"method": "POST", "url": url, "headers": {}, "body": body}}


@pytest.mark.parametrize("request_, field", [
    *[(_request({**CHAT, **extra}), field) for extra, field in BAD_FIELDS],
    (_request({"contents": [], "generationConfig": {"maxOutputTokens": "9"}},
              "https://gw.example/v1beta/models/gemini-2.5-pro:generateContent"),
     "request.body.generationConfig.maxOutputTokens"),
    (_request({"contents": [], "generationConfig": {"candidateCount": 0}},
              "https://gw.example/v1beta/models/gemini-2.5-pro:generateContent"),
     "request.body.generationConfig.candidateCount"),
    (_request({"model": "llama3", "messages": [], "options": {"num_predict": -3}}, "http://localhost:11434/api/chat"),
     "request.body.options.num_predict"),
    (_request({"model": "claude-sonnet-4", "max_tokens": 2**60, "messages": []}, "https://gw.example/v1/messages"),
     "request.body.max_tokens"),
    (_request(CHAT, "::::"), "request.url"),
    (_request(CHAT, "gw.example/v1/chat/completions"), "request.url"),
    (_request(CHAT, "https://gw.example/v1/chat\r\n/completions"), "request.url"),
    (_request(CHAT, "https://gw.example:99999/v1/chat/completions"), "request.url"),
])
def test_the_library_refuses_them_with_request_error(request_: dict[str, Any], field: str) -> None:
    import aigw_policy as ap

    engine = ap.Engine(ap.loads(POLICY))
    with pytest.raises(ap.RequestError) as caught:
        engine.evaluate(request_)
    assert field in [f for f, _ in caught.value.problems]


def test_explain_refuses_them_too(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aigw_policy.cli import app

    (tmp_path / "p.aigw").write_text(POLICY)
    (tmp_path / "r.json").write_text(json.dumps(_request({**CHAT, "max_tokens": "9"})))
    result = CliRunner().invoke(app, ["explain", str(tmp_path / "r.json"), "--policy", str(tmp_path / "p.aigw")])
    assert result.exit_code == 2 and "request.body.max_tokens" in result.output


def test_sane_values_still_pass() -> None:
    import aigw_policy as ap

    engine = ap.Engine(ap.loads(POLICY))
    for extra in ({"max_tokens": None}, {"max_tokens": 0}, {"max_tokens": 2**53 - 1}, {"max_tokens": 100.0},
                  {"n": 2}, {"stream": False}):
        assert engine.evaluate(_request({**CHAT, **extra}), expect_response=False).verdict == "allow", extra
    ollama = _request({"model": "llama3", "messages": [], "options": {"num_predict": -1}}, "http://localhost:11434/api/chat")
    assert engine.evaluate(ollama, expect_response=False).ai["max_output_tokens"] == 0
    assert engine.evaluate(_request(CHAT, "/v1/chat/completions"), expect_response=False).verdict == "allow"


# -- 8. slow clients: a header-read timeout (server), a body-read timeout (middleware) ---------


def _closed_within(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed ``sock`` (EOF or reset) within ``wait`` seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture(scope="module", params=["httptools", "h11"])
def slow_gw(request: Any, echo: Any, files: dict[str, Path]) -> Any:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    app = Gateway(policy=files["policy"], upstream=echo.url, keys=load_keys(files["keys"]), watch=0,
                  body_timeout=0.3)
    protocol = header_timeout_protocol(0.3) if request.param == "httptools" else _h11_protocol(0.3)
    if request.param == "httptools":
        assert "HttpTools" in protocol.__name__  # the default, httptools being installed
    with ServerThread(app, http=protocol) as server:
        yield server


def test_a_client_that_never_finishes_its_headers_is_disconnected(slow_gw: Any) -> None:
    with socket.create_connection(("127.0.0.1", slow_gw.port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n")
        assert _closed_within(s, 10.0)
    with socket.create_connection(("127.0.0.1", slow_gw.port)) as s:  # nothing at all
        assert _closed_within(s, 10.0)


def test_a_slowloris_is_cut_before_its_head_is_complete(slow_gw: Any) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nx-pad: " + b"a" * 4000 + b"\r\n\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", slow_gw.port)) as s:
        while sent < len(head):
            try:
                s.sendall(head[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            if _closed_within(s, 0.02):
                break
    assert sent < len(head)  # a byte every ~20 ms would take 80 s: the server hung up first


def test_a_request_head_past_the_bound_is_refused_not_read(slow_gw: Any) -> None:
    """llhttp has no bound of its own on a head: 40 MB of headers were read into memory. Past
    MAX_HEAD_BYTES the connection gets 431 (h11's own bound, 16 KiB, answers 400) and closes,
    having read no more than the read that crossed it; a head under both bounds is served."""
    from aigw_policy.gateway.server import MAX_HEAD_BYTES

    line = b"x-pad: " + b"a" * 8000 + b"\r\n"
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + line * (64 * MAX_HEAD_BYTES // len(line))  # more than socket buffers hold
    answer = b""
    with socket.create_connection(("127.0.0.1", slow_gw.port)) as s:
        s.settimeout(10)
        sent = 0
        try:
            while sent < len(head):
                sent += s.send(head[sent:sent + 8192])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert sent < len(head)  # it stopped reading (and hung up) before the head was over
    assert status_of(answer) in (431, 400)
    if "HttpTools" in slow_gw.server.config.http.__name__:
        assert status_of(answer) == 431 and body_of(answer)["error"]["code"] == "request_header_fields_too_large"
    padded = raw_request(slow_gw.port, b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
                         b"authorization: Bearer sk-edge\r\ncontent-type: application/json\r\n"
                         + b"x-pad: " + b"a" * 12000 + b"\r\n"
                         + f"content-length: {len(json.dumps(CHAT))}\r\n\r\n".encode(), json.dumps(CHAT).encode())
    assert status_of(padded) == 200


def test_the_head_bound_is_exact_however_the_head_arrives(slow_gw: Any) -> None:
    """A head one byte past MAX_HEAD_BYTES is refused whether it comes in one read or a few
    (the bound was counted only after a read the parser had not finished a head in, so a
    70 KB head sent at once was served); a head of exactly MAX_HEAD_BYTES is read. Without
    httptools the same bound holds, besides h11's own (400 for a head still incomplete past
    16 KiB)."""
    from aigw_policy.gateway.server import MAX_HEAD_BYTES, _head_end

    llhttp = "HttpTools" in slow_gw.server.config.http.__name__  # h11 bounds a head itself at 16 KiB: 400
    start = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-nope\r\n"

    def head_of(size: int) -> bytes:
        pad = size - len(start) - len(b"x-pad: \r\n\r\n")
        return start + b"x-pad: " + b"a" * pad + b"\r\n\r\n"

    for size, pieces in ((MAX_HEAD_BYTES + 1, 1), (MAX_HEAD_BYTES + 1, 3), (MAX_HEAD_BYTES, 1), (MAX_HEAD_BYTES, 3)):
        head = head_of(size)
        assert len(head) == size
        answer = b""
        with socket.create_connection(("127.0.0.1", slow_gw.port)) as s:
            s.settimeout(10)
            step = -(-len(head) // pieces)
            try:
                for k in range(0, len(head), step):
                    s.sendall(head[k:k + step])
                    time.sleep(0.05 if pieces > 1 else 0)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before the head was over: its answer is waiting
            try:
                while chunk := s.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer:
                        break
            except ConnectionResetError:
                pass
        if llhttp:
            expected = {431} if size > MAX_HEAD_BYTES else {401}
        else:  # h11 refuses a head still incomplete past 16 KiB itself (400)
            expected = {431, 400} if size > MAX_HEAD_BYTES else {400, 401}
        assert status_of(answer) in expected, (size, pieces, answer[:80])
    # where a head ends, over reads and both line endings
    assert _head_end(b"", b"GET / HTTP/1.1\r\n\r\nbody") == 18
    assert _head_end(b"\r\n\r", b"\nbody") == 1 and _head_end(b"a\r\n", b"\r\nx") == 2
    assert _head_end(b"", b"GET / HTTP/1.1\nhost: x\n\nbody") == 24 and _head_end(b"", b"no end") == 6


def test_keep_alive_requests_and_fast_clients_are_unaffected(slow_gw: Any) -> None:
    with httpx.Client(base_url=slow_gw.url, headers=AUTH, timeout=10) as client:
        for _ in range(3):  # one connection, several requests
            assert client.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_a_body_that_stops_coming_is_408(slow_gw: Any, echo: Any) -> None:
    before = len(echo.app.seen)
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\n"
            b"content-type: application/json\r\ncontent-length: 100\r\n\r\n")
    answer = raw_request(slow_gw.port, head, b'{"model": ')
    assert status_of(answer) == 408 and body_of(answer)["error"]["code"] == "body_timeout"
    assert len(echo.app.seen) == before


def _trickle(port: int, body: bytes, piece: int, gap: float) -> bytes:
    """``body`` sent ``piece`` bytes at a time, ``gap`` seconds apart, until it is all sent or
    the server answers; what the server answered (all of it, once it closed or went quiet)."""
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\n"
            b"content-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        for i in range(0, len(body), piece):
            try:
                s.sendall(body[i:i + piece])
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([s], [], [], gap)
            if readable:
                break
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def test_a_body_trickled_under_the_minimum_rate_is_408(slow_gw: Any, echo: Any) -> None:
    # a byte every 0.1 s: never a pause of body_timeout (0.3 s), but 10 bytes/s; before, held
    # for as long as the client liked (here 200 pieces)
    before = len(echo.app.seen)
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 200}]}).encode()
    answer = _trickle(slow_gw.port, body, 1, 0.1)
    assert status_of(answer) == 408 and body_of(answer)["error"]["code"] == "body_timeout"
    assert len(echo.app.seen) == before


def test_a_slow_body_above_the_minimum_rate_is_served(slow_gw: Any, echo: Any) -> None:
    # 300 bytes every 0.1 s (3000 bytes/s): longer than body_timeout in all, never under the rate
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 2000}]}).encode()
    answer = _trickle(slow_gw.port, body, 300, 0.1)
    assert status_of(answer) == 200, answer[:300]


# -- 9. /metrics: bounded label values, an optional token --------------------------------------


def test_request_chosen_models_do_not_become_label_values(gw: Any) -> None:
    with httpx.Client(base_url=gw.url, headers=AUTH, timeout=10) as client:
        for i in range(40):
            assert client.post("/v1/chat/completions", json={**CHAT, "model": f"made-up-{i}"}).status_code == 200
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # gpt-4o: priced
        text = client.get("/metrics").text
    models = {line.split('model="', 1)[1].split('"', 1)[0] for line in text.splitlines()
              if line.startswith("aigw_requests_total{") and 'model="' in line}
    assert "made-up-0" not in text and "other" in models and "gpt-4o" in models


def test_model_labels_have_a_hard_cap() -> None:
    from aigw_policy.gateway.metrics import Observer

    from aigw_policy.providers import PriceBook

    book = PriceBook.from_mapping({f"m-{i}": {"input": 1, "output": 1} for i in range(10)}, use_library=False)
    obs = Observer(prometheus=False, otel=False, prices=book, max_models=3)
    labels = [obs.model_label("openai", f"m-{i}") for i in range(10)]
    assert labels[:3] == ["m-0", "m-1", "m-2"] and set(labels[3:]) == {"other"}
    assert obs.model_label("openai", "m-1") == "m-1" and obs.model_label("openai", "unpriced") == "other"


def test_metrics_token(echo: Any, files: dict[str, Path]) -> None:
    from aigw_policy.gateway import Gateway

    app = Gateway(policy=files["policy"], upstream=echo.url, watch=0, metrics_token="m-secret")
    with ServerThread(app) as server:
        assert httpx.get(server.url + "/metrics", timeout=5).status_code == 401
        assert httpx.get(server.url + "/metrics", headers={"authorization": "Bearer nope"}, timeout=5).status_code == 401
        r = httpx.get(server.url + "/metrics", headers={"authorization": "Bearer m-secret"}, timeout=5)
        assert r.status_code == 200 and "m-secret" not in r.text
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


# -- 10. one costly evaluation never stalls the others -----------------------------------------

COSTLY = '''policy "costly" {
  on request {
    rule "tools" {
      when ai.tools.exists(a, a + "-x" == "y")  # a static cost past the offload threshold
      deny 403 "no"
    }
    rule "rpm" {
      rate-limit { name: "rpm", capacity: 2, rate: 1m }
    }
  }
}
'''


@pytest.mark.parametrize("store", ["memory:", "sqlite"])
def test_a_costly_policy_in_a_thread_still_counts(echo: Any, tmp_path: Path, store: str) -> None:
    from aigw_policy.gateway import Gateway

    (tmp_path / "costly.aigw").write_text(COSTLY)
    url = f"sqlite:{tmp_path / 'limits.db'}" if store == "sqlite" else store
    app = Gateway(policy=tmp_path / "costly.aigw", upstream=echo.url, watch=0, store=url,
                  ledger=f"jsonl:{tmp_path / 'u.jsonl'}")
    with ServerThread(app) as server:
        codes = [httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=10) for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert record_of(tmp_path / "u.jsonl", codes[0].headers["x-aigw-decision-id"])["aigw.usage.source"] == "provider"


def test_healthz_answers_while_a_costly_request_is_evaluated(echo: Any, tmp_path: Path) -> None:
    import threading

    from aigw_policy.gateway import Gateway

    (tmp_path / "costly.aigw").write_text(COSTLY)
    app = Gateway(policy=tmp_path / "costly.aigw", upstream=echo.url, watch=0)
    engine = app.holder.current
    entered, release = threading.Event(), threading.Event()
    start = engine._evaluation  # what evaluate() and aevaluate() both call first

    def slow_start(*args: Any, **kw: Any) -> Any:  # an evaluation that holds its thread until released
        entered.set()
        release.wait(30)
        return start(*args, **kw)

    engine._evaluation = slow_start
    answers: list[int] = []
    with ServerThread(app) as server:
        tools = [{"type": "function", "function": {"name": f"t{i}"}} for i in range(30)]
        hostile = threading.Thread(target=lambda: answers.append(httpx.post(
            server.url + "/v1/chat/completions", json={**CHAT, "tools": tools}, timeout=60).status_code))
        hostile.start()
        try:
            assert entered.wait(30)
            health = httpx.get(server.url + "/healthz", timeout=10)  # the evaluation is still held
            assert health.status_code == 200 and not release.is_set() and not answers
        finally:
            release.set()
            hostile.join(60)
    assert answers == [200]


def test_only_costly_policies_leave_the_event_loop(tmp_path: Path) -> None:
    import asyncio

    import aigw_policy as ap
    from aigw_policy.gateway.middleware import PolicyMiddleware

    mw = PolicyMiddleware(Echo(), ap.Engine(ap.loads(POLICY)))
    assert asyncio.run(mw.costly(mw.engine)) is False
    assert asyncio.run(mw.costly(ap.Engine(ap.loads(COSTLY)))) is True


def test_serve_options_for_the_edge(echo: Any, files: dict[str, Path], tmp_path: Path) -> None:
    """``aigw-policy serve --max-body --header-timeout`` and ``AIGW_METRICS_TOKEN``, end to end."""
    import os
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "aigw_policy.cli", "serve", "--policy", str(files["policy"]), "--upstream", echo.url,
           "--keys", str(files["keys"]), "--port", str(port), "--watch", "0", "--no-decision-log",
           "--max-body", "1000", "--header-timeout", "0.5"]
    env = {**os.environ, "AIGW_METRICS_TOKEN": "tok-1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        assert httpx.get(url + "/metrics", timeout=5).status_code == 401
        assert httpx.get(url + "/metrics", headers={"authorization": "Bearer tok-1"}, timeout=5).status_code == 200
        r = httpx.post(url + "/v1/chat/completions", headers=AUTH, json={**CHAT, "pad": "x" * 1000}, timeout=5)
        assert r.status_code == 413
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
            assert _closed_within(s, 10.0)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert b"tok-1" not in err  # the token is never printed


# -- siblings: what else would let the upstream read a request the policy did not --------------


def test_a_compressed_request_body_is_refused(gw: Any, echo: Any) -> None:
    import gzip

    before = len(echo.app.seen)
    r = httpx.post(gw.url + "/v1/chat/completions", content=gzip.compress(json.dumps({**CHAT, "model": "gpt-4.1"}).encode()),
                   headers={**AUTH, "content-type": "application/json", "content-encoding": "gzip"}, timeout=10)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_content_encoding"
    assert len(echo.app.seen) == before


@pytest.mark.parametrize(("coding", "status"), [("gzip, chunked", 415), ("deflate, chunked", 415),
                                               ("identity, chunked", 200), ("chunked", 200)])
def test_a_transfer_coded_request_body_is_refused(gw: Any, echo: Any, coding: str, status: int) -> None:
    """``Transfer-Encoding: gzip, chunked``: llhttp takes it and uvicorn undoes only the chunking,
    so the policy read gzip bytes as the body (text, under a non-JSON type) and the upstream
    got them unlabelled. Refused as a ``Content-Encoding`` is."""
    import gzip
    import zlib

    raw = json.dumps({**CHAT, "model": "gpt-4o"}).encode()
    body = gzip.compress(raw) if coding.startswith("gzip") else zlib.compress(raw) if coding.startswith("deflate") else raw
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-edge\r\n"
            b"content-type: multipart/form-data; boundary=x\r\nconnection: close\r\ntransfer-encoding: "
            + coding.encode() + b"\r\n\r\n")
    before = len(echo.app.seen)
    answer = raw_request(gw.port, head, b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    assert status_of(answer) == status, answer[:300]
    if status == 415:
        assert body_of(answer)["error"]["code"] == "unsupported_content_encoding"
        assert len(echo.app.seen) == before


def test_a_client_cannot_choose_its_provider_label(gw: Any, files: dict[str, Path]) -> None:
    r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={**AUTH, "x-aigw-provider": "vllm"}, timeout=10)
    assert r.status_code == 200
    assert record_of(files["ledger"], r.headers["x-aigw-decision-id"])["gen_ai.provider.name"] == "openai"


def test_explain_shows_the_header_injection_as_the_rules_error() -> None:
    import aigw_policy as ap

    engine = ap.Engine(ap.loads(POLICY))
    d = engine.evaluate(_request(CHAT, "https://gw.example/v1/chat/completions?echo=a%0D%0Ab"), expect_response=False)
    assert (d.verdict, d.status_code, d.rule) == ("deny", 500, "echo")
    assert d.errors[0]["field"] == "headers.x-echo" and "U+000D" in d.errors[0]["message"]
    assert "request_headers" not in d.effects or "x-echo" not in d.effects["request_headers"]["add"]
    ok = engine.evaluate(_request(CHAT, "https://gw.example/v1/chat/completions?echo=%20padded%20"), expect_response=False)
    assert ok.effects["request_headers"]["add"]["x-echo"] == "padded"
