"""What the gateway keeps of an upstream's answer between requests: nothing. A cookie one
answer sets goes to the client who asked and is never sent with another request (aiohttp's
session jar would have kept it for every client); the answer carries one `Date` and no
second `Server` (the gateway's server writes its own: the upstream's are not passed on)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import WAIT, ServerThread, lifespan

httpx = pytest.importorskip("httpx")
pytest.importorskip("aiohttp")

ANSWER = json.dumps({"id": "c1", "object": "chat.completion", "model": "gpt-4o", "choices": [],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()


class CookieUpstream:
    """Sets a session cookie on every answer and remembers the Cookie header of each request."""

    def __init__(self) -> None:
        self.cookies: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        cookie = dict(scope["headers"]).get(b"cookie")
        self.cookies.append(cookie.decode() if cookie is not None else None)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"set-cookie", f"affinity=tenant-{len(self.cookies)}; Path=/".encode()),
            (b"date", b"Mon, 01 Jan 2001 00:00:00 GMT"), (b"server", b"upstream-9")]})
        await send({"type": "http.response.body", "body": ANSWER})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway

    d = tmp_path_factory.mktemp("state")
    (d / "p.aigw").write_text('policy "p" { default allow }')
    upstream = CookieUpstream()
    with ServerThread(upstream) as up:
        # by name: aiohttp's jar keeps no cookie of an IP address, as an API's host name is
        app = Gateway(policy=d / "p.aigw", upstream=up.url.replace("127.0.0.1", "localhost"), store="memory:",
                      watch=0)
        with ServerThread(app) as gw:
            yield upstream, gw


def _ask(gw: Any, **headers: str) -> Any:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers, timeout=WAIT)


def test_an_upstream_cookie_reaches_its_client_and_nobody_else(served: Any) -> None:
    upstream, gw = served
    first = _ask(gw)
    assert first.status_code == 200 and first.headers.get("set-cookie", "").startswith("affinity=tenant-")
    _ask(gw)  # another client, no cookie of its own
    _ask(gw, cookie="mine=1")  # a client's own cookie still goes through, alone
    assert upstream.cookies[-2:] == [None, "mine=1"], upstream.cookies


def test_an_answer_has_one_date_and_not_the_upstreams_server(served: Any) -> None:
    _, gw = served
    got = _ask(gw)
    names = [k.lower() for k, _ in got.headers.raw]
    assert names.count(b"date") == 1, got.headers.raw
    assert got.headers["date"] != "Mon, 01 Jan 2001 00:00:00 GMT"  # the gateway's own clock
    assert b"upstream-9" not in [v for k, v in got.headers.raw if k.lower() == b"server"]
