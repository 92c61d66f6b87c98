"""`PolicyMiddleware`'s hooks for an application that embeds it: its own identity
(`identity=`), paths outside the policy (`exclude=`) and the client's credential headers
(`strip_credentials=`). Requests go through a real ASGI round trip: httpx's ASGITransport, and
uvicorn on a loopback port for paths no HTTP client library would send as they are."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware
from aigw_policy.gateway.keys import KeyRing

from .conftest import ServerThread, lifespan

POLICY = '''policy "hooks" {
  on request {
    rule "premium" {
      when ai.model == "gpt-4.1" && (!has(identity.team) || identity.team != "research")
      deny 403 "gpt-4.1 is reserved for research"
    }
    rule "tag" {
      add-headers { headers: { "x-team": "${has(identity.team) ? identity.team : 'none'}" } }
    }
    rule "saw-credential" {
      when "authorization" in req.headers || "x-api-key" in req.headers
      add-headers { headers: { "x-policy-saw-credential": "yes" } }
    }
  }
}
'''
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
ANSWER = {"id": "c1", "object": "chat.completion", "model": "gpt-4o",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
USERS = {"tok-alice": {"key": "k-alice", "user": "alice", "team": "research", "labels": {"plan": "pro"}},
         "tok-bob": {"user": "bob", "team": "sales"},
         "tok-empty": {},
         "tok-badtype": {"team": 5},
         "tok-unknown-field": {"group": "research"},
         "tok-badlabel": {"labels": {"plan": 1}},
         "tok-string": "research"}


class App:
    """A plain ASGI app that records what reaches it and answers a chat completion."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while True:
            message = await receive()
            if not message.get("more_body", False):
                break
        ctx = scope.get("aigw")
        self.seen.append({"path": scope["path"], "raw_path": scope.get("raw_path"),
                          "query": scope.get("query_string", b"").decode(),
                          "headers": {k.decode().lower(): v.decode() for k, v in scope["headers"]},
                          "identity": dict(ctx.identity) if ctx is not None else None})
        body = json.dumps(ANSWER).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def token(headers: Mapping[str, str]) -> str:
    auth = headers.get("authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else ""


def sync_hook(scope: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
    seen_paths.append(scope["path"])
    if token(headers) == "tok-boom":
        raise RuntimeError("database password hunter2 rejected")
    return USERS.get(token(headers))


async def async_hook(scope: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
    await asyncio.sleep(0)
    return sync_hook(scope, headers)


seen_paths: list[str] = []


def engine() -> ap.Engine:
    return ap.Engine(ap.loads(POLICY))


def call(app: Any, method: str, path: str, *, headers: Mapping[str, str] | None = None, json: Any = None,
         params: Mapping[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as client:
            return await client.request(method, path, headers=headers, json=json, params=params)

    return asyncio.run(go())


def chat(app: Any, tok: str | None = None, *, path: str = "/v1/chat/completions", **extra: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {tok}"} if tok else {}
    return call(app, "POST", path, headers=headers, json={**CHAT, **extra})


@pytest.fixture(params=["sync", "async"])
def hooked(request: pytest.FixtureRequest) -> tuple[PolicyMiddleware, App]:
    app = App()
    hook = sync_hook if request.param == "sync" else async_hook
    return PolicyMiddleware(app, engine(), identity=hook, exclude=["/healthz", "/public/"]), app


# -- the identity hook ---------------------------------------------------------------------------


def test_the_hook_s_identity_is_the_policy_s_and_the_app_s(hooked: tuple[PolicyMiddleware, App]) -> None:
    mw, app = hooked
    r = chat(mw, "tok-alice", model="gpt-4.1")
    assert r.status_code == 200, r.text
    seen = app.seen[-1]
    assert seen["headers"]["x-team"] == "research"
    assert seen["identity"] == USERS["tok-alice"]
    r = chat(mw, "tok-bob", model="gpt-4.1")
    assert r.status_code == 403 and r.json()["aigw"]["rule"] == "premium"
    assert chat(mw, "tok-empty").status_code == 200 and app.seen[-1]["headers"]["x-team"] == "none"


def test_no_identity_is_401_in_the_provider_s_shape(hooked: tuple[PolicyMiddleware, App]) -> None:
    mw, app = hooked
    r = chat(mw, "tok-nobody")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert r.json()["error"]["code"] == "unauthenticated" and r.headers["x-aigw-decision-id"]
    r = call(mw, "POST", "/v1/messages", json={"model": "claude-sonnet-4", "max_tokens": 5, "messages": []})
    assert r.status_code == 401 and r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "authentication_error"
    assert app.seen == []


@pytest.mark.parametrize("tok", ["tok-nobody", "tok-badtype", "tok-boom"])
def test_the_hook_answers_before_the_body_is_read(hooked: tuple[PolicyMiddleware, App], tok: str) -> None:
    mw, _ = hooked
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "headers": [(b"authorization", f"Bearer {tok}".encode()),
                                              (b"content-length", b"1000")]}
    asyncio.run(mw(scope, receive, send))
    assert sent[0]["status"] in (401, 500) and len(sent) == 2


@pytest.mark.parametrize(("tok", "names"), [("tok-badtype", "`team`"), ("tok-unknown-field", "`group`"),
                                            ("tok-badlabel", "`labels.plan`"), ("tok-string", "a str")])
def test_a_bad_identity_is_a_coded_500(hooked: tuple[PolicyMiddleware, App], tok: str, names: str) -> None:
    mw, app = hooked
    r = chat(mw, tok)
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "invalid_identity" and names in error["message"]
    assert "Traceback" not in r.text
    assert app.seen == []


def test_a_failing_hook_is_a_500_without_its_text(hooked: tuple[PolicyMiddleware, App],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    mw, app = hooked
    with caplog.at_level(logging.ERROR, logger="aigw_policy.gateway"):
        r = chat(mw, "tok-boom")
    assert r.status_code == 500 and r.json()["error"]["code"] == "identity_hook_failed"
    assert "hunter2" not in r.text and "RuntimeError" not in r.text
    decision_id = r.headers["x-aigw-decision-id"]
    logged = [rec for rec in caplog.records if decision_id in rec.getMessage()]
    assert logged and logged[0].exc_info is not None and "hunter2" in str(logged[0].exc_info[1])
    assert app.seen == []


def test_the_hook_sees_the_canonical_path(hooked: tuple[PolicyMiddleware, App]) -> None:
    mw, app = hooked
    seen_paths.clear()
    r = call(mw, "POST", "/v1//chat//completions", headers={"authorization": "Bearer tok-alice"}, json=CHAT)
    assert r.status_code == 200 and seen_paths == ["/v1/chat/completions"]


def test_keys_and_a_hook_are_one_or_the_other() -> None:
    with pytest.raises(ValueError, match="not both"):
        PolicyMiddleware(App(), engine(), keys=KeyRing({}), identity=sync_hook)
    with pytest.raises(TypeError, match="callable"):
        PolicyMiddleware(App(), engine(), identity={"team": "research"})  # type: ignore[arg-type]


# -- excluded paths ------------------------------------------------------------------------------


def test_excluded_paths_reach_the_app_without_policy_or_credentials(hooked: tuple[PolicyMiddleware, App]) -> None:
    mw, app = hooked
    r = call(mw, "GET", "/healthz")
    assert r.status_code == 200 and "x-aigw-decision-id" not in r.headers
    r = call(mw, "GET", "/public/a/b.txt", headers={"authorization": "Bearer whatever"})
    assert r.status_code == 200
    assert [s["path"] for s in app.seen] == ["/healthz", "/public/a/b.txt"]
    assert app.seen[0]["identity"] is None  # no policy, no context
    assert app.seen[1]["headers"]["authorization"] == "Bearer whatever"  # not the middleware's business
    # exact paths are exact; a prefix covers what is under it, not itself
    for path in ("/healthz/", "/healthz/x", "/HEALTHZ", "/public", "/publicity"):
        assert call(mw, "GET", path).status_code == 401, path


def test_a_predicate_gets_the_canonical_path() -> None:
    got: list[str] = []

    def outside(path: str) -> bool:
        got.append(path)
        return path.startswith("/static/")

    app = App()
    mw = PolicyMiddleware(app, engine(), identity=sync_hook, exclude=outside)
    assert call(mw, "GET", "/static//a.css").status_code == 200
    assert call(mw, "GET", "/v1/models").status_code == 401
    assert got == ["/static/a.css", "/v1/models"] and app.seen[0]["path"] == "/static/a.css"


def test_a_failing_predicate_is_a_coded_500(caplog: pytest.LogCaptureFixture) -> None:
    def broken(path: str) -> bool:
        raise KeyError("secret-route-table")

    app = App()
    with caplog.at_level(logging.ERROR, logger="aigw_policy.gateway"):
        r = chat(PolicyMiddleware(app, engine(), identity=sync_hook, exclude=broken), "tok-alice")
    assert r.status_code == 500 and r.json()["error"]["code"] == "exclude_failed"
    assert "secret-route-table" not in r.text and caplog.records and app.seen == []


@pytest.mark.parametrize(("exclude", "error", "message"), [
    ("/healthz", TypeError, "a list"),
    (["healthz"], ValueError, "start with `/`"),
    (["/a/../healthz"], ValueError, "canonical"),
    (["/public//"], ValueError, "canonical"),
    (["/"], ValueError, "every path"),
    ([b"/healthz"], TypeError, "strings"),
])
def test_bad_exclusions_are_refused_at_construction(exclude: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        PolicyMiddleware(App(), engine(), identity=sync_hook, exclude=exclude)


@pytest.fixture(scope="module")
def served() -> Any:
    app = App()
    mw = PolicyMiddleware(app, engine(), identity=sync_hook, exclude=["/healthz", "/public/"])
    with ServerThread(mw) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


def raw_get(port: int, target: str, headers: str = "") -> tuple[int, bytes]:
    """``GET target`` sent byte for byte (no client library normalises it); status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: gw.test\r\n{headers}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(("target", "status"), [
    ("/healthz/../v1/chat/completions", 401),
    ("/public/../v1/chat/completions", 401),
    ("/public/../../v1/chat/completions", 401),
    ("/public//../v1/chat/completions", 401),
    ("/public/./../v1/chat/completions", 401),
    ("//public/../v1/chat/completions", 401),
    ("/public/%2e%2e/v1/chat/completions", 400),
    ("/public/%2E%2E/v1/chat/completions", 400),
    ("/public/..%2fv1/chat/completions", 400),
    ("/public%2f../v1/chat/completions", 400),
    ("/public/..%5cv1/chat/completions", 400),
    ("/public/..\\v1/chat/completions", 400),
    ("/public/;/../v1/chat/completions", 400),
    ("/public/%252e%252e/v1/chat/completions", 400),
    ("/healthz%00", 400),
    ("/healthz;x", 400),
])
def test_an_excluded_prefix_is_no_way_around_the_policy(served: Any, target: str, status: int) -> None:
    before = len(served.app.seen)
    got, body = raw_get(served.port, target)
    assert got == status, (target, body)
    assert len(served.app.seen) == before


def test_excluded_paths_over_the_wire_reach_the_app_canonical(served: Any) -> None:
    before = len(served.app.seen)
    assert raw_get(served.port, "/healthz")[0] == 200
    assert raw_get(served.port, "/public/a/../b.txt")[0] == 200
    assert raw_get(served.port, "/heal%74hz")[0] == 200  # the same path, percent-encoded
    seen = served.app.seen[before:]
    assert [(s["path"], s["raw_path"]) for s in seen] == [
        ("/healthz", b"/healthz"), ("/public/b.txt", b"/public/b.txt"), ("/healthz", b"/healthz")]


# -- the client's credential headers -------------------------------------------------------------

KEYS = KeyRing({hashlib.sha256(b"sk-gw-1").hexdigest(): {"key": "k1", "team": "research"}})


@pytest.mark.parametrize(("auth", "strip", "app_gets_them"), [
    ("hook", None, False), ("hook", True, False), ("hook", False, True),
    ("keys", None, False), ("keys", False, True),
    ("none", None, True), ("none", True, False), ("none", False, True),
])
def test_credential_headers_are_stripped_as_configured(auth: str, strip: bool | None, app_gets_them: bool) -> None:
    app = App()
    if auth == "hook":
        mw = PolicyMiddleware(app, engine(), identity=async_hook, strip_credentials=strip)
        sent = "tok-alice"
    elif auth == "keys":
        mw = PolicyMiddleware(app, engine(), keys=KEYS, strip_credentials=strip)
        sent = "sk-gw-1"
    else:
        mw = PolicyMiddleware(app, engine(), strip_credentials=strip)
        sent = "sk-provider"
    headers = {"authorization": f"Bearer {sent}", "x-api-key": sent}
    r = call(mw, "POST", "/v1/chat/completions", headers=headers, json=CHAT, params={"key": sent, "x": "1"})
    assert r.status_code == 200, r.text
    seen = app.seen[-1]
    if app_gets_them:
        assert seen["headers"]["authorization"] == f"Bearer {sent}" and seen["headers"]["x-api-key"] == sent
        assert seen["query"] == f"key={sent}&x=1"
    else:
        assert "authorization" not in seen["headers"] and "x-api-key" not in seen["headers"]
        assert seen["query"] == "x=1"
    # the policy never sees a credential the middleware authenticated with, whatever the app gets
    assert ("x-policy-saw-credential" in seen["headers"]) == (auth == "none")
    assert sent not in json.dumps(seen["identity"])


# -- the documented example ----------------------------------------------------------------------


def test_the_middleware_hooks_example_runs() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text()
    section = doc.split("## Middleware hooks", 1)
    assert len(section) == 2, "docs/gateway.md has no `## Middleware hooks` section"
    blocks = re.findall(r"```python\n(.*?)```", section[1].split("\n## ", 1)[0], re.DOTALL)
    assert blocks, "the section has no python example"
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "docs/gateway.md", "exec"), namespace)  # noqa: S102 - our own doc
