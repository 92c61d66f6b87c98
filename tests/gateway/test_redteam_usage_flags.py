"""serve21: the flag that has a stream report its usage is a boolean, or the request is refused.

The gateway asks every OpenAI-format stream for its usage (``stream_options.include_usage:
true``) unless the client already did, and read "already did" as any truthy value: a client
sending ``{"include_usage": "false"}`` (or ``"no"``, ``0.5``) was taken at its word as asking,
so nothing was added, and the string went upstream, where a server that coerces it (vLLM's
pydantic models read ``"false"`` as ``false``) sent no usage: the ledger and the limits got an
estimate instead of the upstream's count. A ``stream_options`` that is no object hid the flag
the same way. Such a body is now 400 ``invalid_request`` naming the field, nothing sent.

Each row: the body's ``stream_options``; refused (400, nothing sent) or served with
``include_usage: true`` sent upstream.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-usage-flags"
ROWS = [
    ({"include_usage": "false"}, "request.body.stream_options.include_usage"),
    ({"include_usage": "no"}, "request.body.stream_options.include_usage"),
    ({"include_usage": 0.5}, "request.body.stream_options.include_usage"),
    ({"include_usage": 1}, "request.body.stream_options.include_usage"),
    ({"include_usage": []}, "request.body.stream_options.include_usage"),
    ("include_usage", "request.body.stream_options"),
    ([{"include_usage": True}], "request.body.stream_options"),
    ({"include_usage": False}, None),
    ({"include_usage": True}, None),
    ({}, None),
    (None, None),
]


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway("on_http_request: []\n", KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("options", "refused"), ROWS, ids=[repr(r[0]) for r in ROWS])
def test_the_usage_flag_is_a_boolean(gw: Any, options: Any, refused: str | None) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": options}
    before = len(gw.stub.seen)
    r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"},
                   timeout=10)
    if refused:
        assert r.status_code == 400, r.text
        assert f"`{refused}`" in r.json()["error"]["message"]
        assert len(gw.stub.seen) == before
    else:
        assert r.status_code == 200, r.text
        assert gw.stub.seen[-1]["body"]["stream_options"]["include_usage"] is True
