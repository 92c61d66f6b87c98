"""A websocket reaches no policy decision (the request phase sees no messages): through
:class:`PolicyMiddleware` it was handed to the wrapped app untouched, so an app with a
websocket route (a realtime API) served it with no key checked and no limit charged. It is now
closed before it is accepted (the server answers 403), unless ``exclude=`` takes its path out
of the policy; lifespan still passes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.gateway import parse_keys
from aigw_policy.gateway.middleware import PolicyMiddleware

KEYS = parse_keys("keys: [{key: sk-ws, identity: {key: k1, team: t}}]")


class App:
    def __init__(self) -> None:
        self.called: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.called.append(scope["type"])
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})


def _run(mw: PolicyMiddleware, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(mw(scope, receive, send))
    return sent


def _scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": headers or [], "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 80)}


@pytest.mark.parametrize("headers", [[], [(b"authorization", b"Bearer sk-ws")], [(b"authorization", b"Bearer no")]])
@pytest.mark.parametrize("path", ["/v1/realtime", "/v1/chat/completions", "/healthz/../v1/realtime"])
def test_a_websocket_never_reaches_the_app_unless_excluded(path: str, headers: Any) -> None:
    app = App()
    mw = PolicyMiddleware(app, ap.Engine(ap.loads('policy "p" { default allow }')), keys=KEYS, exclude=["/healthz"])
    sent = _run(mw, _scope(path, headers))
    assert app.called == []
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "websockets are not served by the policy gateway"}]


def test_an_excluded_websocket_path_and_lifespan_pass() -> None:
    app = App()
    mw = PolicyMiddleware(app, ap.Engine(ap.loads('policy "p" { default allow }')), keys=KEYS, exclude=["/ws/"])
    assert _run(mw, _scope("/ws/live")) == [{"type": "websocket.accept"}]
    assert _run(mw, _scope("/ws/%2e%2e/v1/realtime"))[0]["type"] == "websocket.close"  # not canonical: refused
    assert app.called == ["websocket"]

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        pass

    asyncio.run(mw({"type": "lifespan"}, receive, send))
    assert app.called == ["websocket", "lifespan"]


def test_a_refused_websocket_is_logged_and_counted() -> None:
    """Refused before any decision, it had no decision log line and no count: a client probing
    a realtime API through the gateway left no trace."""
    events: list[dict[str, Any]] = []
    mw = PolicyMiddleware(App(), ap.Engine(ap.loads('policy "p" { default allow }')), keys=KEYS,
                          observer=events.append)
    _run(mw, _scope("/v1/realtime"))
    [event] = events
    assert (event["verdict"], event["status_code"], event["path"]) == ("deny", 403, "/v1/realtime")
    assert event["request_id"].startswith("req-")
