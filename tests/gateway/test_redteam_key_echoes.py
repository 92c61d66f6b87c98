"""serve21: the gateway key a client authenticated with never goes upstream, however else the
request carries it, and the policy never reads it.

The gateway dropped the credential headers it knows (``authorization``, ``x-api-key``,
``x-goog-api-key``, ``api-key``) and ``?key=``; the same key sent a second time under another
name went upstream as sent: ``?api_key=`` and ``?api-key=`` (what users and a few SDKs write),
``anthropic-api-key``, a ``cookie``, any ``x-...-key``. The provider (and any log between) then
held a gateway key, which the operator's key file is there to keep to the gateway. Such a
header or query parameter is now dropped, on the way up and from what the policy reads. Azure
OpenAI's SDK sends its key as ``api-key``: that header authenticates now (it was a 401).

Each row: an extra header or query parameter carrying the key; the upstream must not see it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from base64 import b64encode, urlsafe_b64encode
from urllib.parse import quote

import pytest

from .conftest import ServerThread, lifespan

KEY = "sk-gw-echoes-0123"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
ROWS = [  # (extra header lines, query string)
    (f"anthropic-api-key: {KEY}\r\n", ""),
    (f"x-my-key: {KEY}\r\n", ""),
    (f"cookie: theme=dark; gw={KEY}\r\n", ""),
    (f"x-portkey-api-key: Bearer {KEY}\r\n", ""),
    ("", f"api_key={KEY}"),
    ("", f"api-key={KEY}&api-version=2024-10-21"),
    ("", f"%61pi_key={quote(KEY, safe='')}"),
    ("", f"token={KEY.replace('-', '%2D')}"),
    ("", f"k={KEY}&k={KEY}"),
]


class Recorder:
    """An upstream that keeps each request's headers and query, and answers a chat completion."""

    def __init__(self) -> None:
        self.seen: list[tuple[list[tuple[str, str]], str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        self.seen.append(([(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
                          scope["query_string"].decode("latin-1")))
        body = json.dumps({"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


ROUTE = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - id: solo
              base_url: UPSTREAM/v1
              api_keys: [{value: sk-solo-upstream}]
              models: [{id: gpt-4o}]
"""
# the policy refuses (418) a request whose headers or URL it can read the key in
WATCH = f"""\
  - name: watch
    expressions: ["['anthropic-api-key', 'x-my-key', 'cookie', 'x-portkey-api-key'].exists(n, n in req.headers)
                   || req.url.contains('{KEY}') || req.url.contains('sk%2Dgw')"]
    actions: [{{type: deny, config: {{status_code: 418}}}}]
"""


@pytest.fixture(scope="module")
def upstream() -> Any:
    app = Recorder()
    with ServerThread(app) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module", params=["upstream", "route"])
def gw(request: Any, upstream: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys

    d: Path = tmp_path_factory.mktemp("echo")
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-e}}\n")
    if request.param == "route":
        (d / "policy.yaml").write_text(ROUTE.replace("UPSTREAM", upstream.url).replace("on_http_request:\n",
                                                                                        "on_http_request:\n" + WATCH))
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), watch=0)
    else:
        (d / "policy.yaml").write_text("on_http_request:\n" + WATCH)
        app = Gateway(policy=d / "policy.yaml", upstream=upstream.url, keys=load_keys(d / "keys.yaml"), watch=0)
    with ServerThread(app) as server:
        server.kind = request.param  # type: ignore[attr-defined]
        yield server


def _post(port: int, credential: str, extra: str, query: str) -> bytes:
    target = "/v1/chat/completions" + (f"?{query}" if query else "")
    head = (f"POST {target} HTTP/1.1\r\nhost: gw\r\n{credential}content-type: application/json\r\n"
            f"content-length: {len(CHAT)}\r\n{extra}connection: close\r\n\r\n").encode("latin-1")
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(20)
        s.sendall(head + CHAT)
        while chunk := s.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("extra", "query"), ROWS, ids=[r[0][:20] or r[1][:20] for r in ROWS])
def test_a_second_copy_of_the_key_goes_nowhere(gw: Any, upstream: Any, extra: str, query: str) -> None:
    before = len(upstream.app.seen)
    answer = _post(gw.port, f"authorization: Bearer {KEY}\r\n", extra, query)
    assert b"HTTP/1.1 200 " in answer, answer[:400]
    assert len(upstream.app.seen) == before + 1
    headers, sent_query = upstream.app.seen[-1]
    assert [(k, v) for k, v in headers if KEY in v] == []
    assert KEY not in sent_query and "sk%2Dgw" not in sent_query and quote(KEY, safe="") not in sent_query
    if "api-version" in query and gw.kind == "upstream":  # (a route sends Azure's parameter only to Azure)
        assert sent_query == "api-version=2024-10-21"  # the other parameters go as they came


def _all_percent(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


# serve28: the key sent again in another encoding than as written (serve27 left these going up)
ENCODED = [  # (extra header lines, query string)
    (f"x-custom: {b64encode(KEY.encode()).decode()}\r\n", ""),
    (f"x-custom: Basic {b64encode(b'user:' + KEY.encode()).decode()}\r\n", ""),
    (f"x-custom: t={urlsafe_b64encode(b'ab' + KEY.encode()).decode().rstrip('=')}\r\n", ""),
    (f"x-custom: {_all_percent(KEY)}\r\n", ""),
    (f"x-custom: {quote(_all_percent(KEY), safe='')}\r\n", ""),
    (f"x-custom: {KEY.encode().hex()}\r\n", ""),
    (f"x-custom: {KEY.encode().hex().upper()}\r\n", ""),
    ("", f"token={quote(b64encode(b'x' + KEY.encode()).decode(), safe='')}"),
    ("", f"token={KEY.encode().hex()}"),
]


def _forms(key: str) -> list[str]:
    raw = key.encode()
    out = [key, _all_percent(key), raw.hex(), raw.hex().upper()]
    for pad in range(3):
        encoded = b64encode(b"\0" * pad + raw).decode()
        run = encoded[-(-8 * pad // 6):8 * (pad + len(raw)) // 6]
        out += [run, run.replace("+", "-").replace("/", "_")]
    return out


@pytest.mark.parametrize(("extra", "query"), ENCODED, ids=[f"{i}-" + (r[0][:20] or r[1][:20]) for i, r in enumerate(ENCODED)])
def test_the_key_in_another_encoding_goes_nowhere(gw: Any, upstream: Any, extra: str, query: str) -> None:
    before = len(upstream.app.seen)
    answer = _post(gw.port, f"authorization: Bearer {KEY}\r\n", extra, query)
    assert b"HTTP/1.1 200 " in answer, answer[:400]
    assert len(upstream.app.seen) == before + 1
    headers, sent_query = upstream.app.seen[-1]
    sent = "\n".join(v for _, v in headers) + "\n" + sent_query
    for text in (sent, __import__("urllib.parse").parse.unquote(sent)):
        assert [f for f in _forms(KEY) if f in text] == []


@pytest.mark.parametrize("credential", [f"api-key: {KEY}\r\n", f"x-api-key: {KEY}\r\n", f"x-goog-api-key: {KEY}\r\n"])
def test_every_sdks_key_header_authenticates(gw: Any, upstream: Any, credential: str) -> None:
    before = len(upstream.app.seen)
    answer = _post(gw.port, credential, "", "")
    assert b"HTTP/1.1 200 " in answer, answer[:400]
    assert [(k, v) for k, v in upstream.app.seen[before][0] if KEY in v] == []


# serve30: the key as a header's name, or in one (headers written the wrong way round): the
# values were searched, the names went upstream as sent
NAMED = [f"{KEY}: 1\r\n", f"x-{KEY}-token: yes\r\n", f"{_all_percent(KEY)}: 1\r\n",
         f"{KEY.upper()}: 1\r\n"]


@pytest.mark.parametrize("extra", NAMED, ids=[f"named{i}" for i in range(len(NAMED))])
def test_the_key_as_a_header_name_goes_nowhere(gw: Any, upstream: Any, extra: str) -> None:
    before = len(upstream.app.seen)
    answer = _post(gw.port, f"authorization: Bearer {KEY}\r\n", extra, "")
    assert b"HTTP/1.1 200 " in answer, answer[:400]
    assert len(upstream.app.seen) == before + 1
    headers, _ = upstream.app.seen[-1]
    names = "\n".join(k for k, _ in headers)
    assert KEY not in names and KEY not in __import__("urllib.parse").parse.unquote(names), names
