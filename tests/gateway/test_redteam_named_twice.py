"""serve21: a model named by the path is the model judged, whatever the body names.

Azure OpenAI serves the deployment its path names (``/openai/deployments/{name}/...``) and
ignores the body's ``model``; LiteLLM's proxy serves ``/openai/deployments/{model}/...`` and
OpenAI's legacy ``/engines/{model}/...`` with the path's model winning. The policy read the
body's: ``POST /openai/deployments/o1/chat/completions`` with ``{"model": "gpt-4o"}`` passed a
``deny: [o1]`` and ``o1`` was served; ``/v1/engines/o1/completions`` named no model at all to
the policy. A body naming another model than its path is now 400 ``invalid_request`` (a route
sends the body's model, the plain upstream serves the path's: no one reading fits both); a body
naming none, or the same, is judged by the path's. A ``set-model`` rewrites the path's
deployment too (it rewrote only the body, which Azure ignores).

Each row: the path, the body's model (None: none), the status; a refused request is never sent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-named-twice"
MESSAGES = [{"role": "user", "content": "hi"}]
POLICY = """\
on_http_request:
  - name: models
    actions: [{type: model-access, config: {deny: ["o1"]}}]
"""
ROWS = [
    ("/openai/deployments/o1/chat/completions?api-version=2024-10-21", "gpt-4o", 400),
    ("/openai/deployments/o1/chat/completions?api-version=2024-10-21", None, 403),
    ("/openai/deployments/o1/chat/completions?api-version=2024-10-21", "o1", 403),
    ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "gpt-4o", 200),
    ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "o1", 400),
    ("/openai/deployments/o1/embeddings?api-version=2024-10-21", "text-embedding-3-small", 400),
    ("/v1/engines/o1/completions", None, 403),
    ("/v1/engines/o1/chat/completions", "gpt-4o", 400),
    ("/engines/o1/chat/completions", None, 403),
    ("/v1/engines/gpt-4o/chat/completions", "gpt-4o", 200),
]


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("path", "model", "status"), ROWS, ids=[f"{r[0].split('?')[0]}-{r[1]}" for r in ROWS])
def test_the_paths_model_is_the_one_judged(gw: Any, path: str, model: str | None, status: int) -> None:
    body: dict[str, Any] = {"messages": MESSAGES, "prompt": "hi", "input": "hi"}
    if model is not None:
        body["model"] = model
    before = len(gw.stub.seen)
    r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    if status == 200:
        assert r.status_code not in (400, 403), r.text
        assert len(gw.stub.seen) == before + 1
        return
    assert r.status_code == status, r.text
    assert len(gw.stub.seen) == before
    if status == 400:
        assert r.json()["error"]["code"] == "invalid_request"
        assert "request.body.model" in r.json()["error"]["message"]


SET_MODEL = """\
on_http_request:
  - name: swap
    actions: [{type: set-model, config: {model: gpt-4o-mini}}]
"""


@pytest.mark.parametrize(("path", "sent"), [
    ("/openai/deployments/gpt-4o/chat/completions", "/openai/deployments/gpt-4o-mini/chat/completions"),
    ("/v1/engines/gpt-4o/chat/completions", "/v1/engines/gpt-4o-mini/chat/completions"),
])
@pytest.mark.parametrize("named", [True, False])
def test_a_set_model_moves_the_paths_model(path: str, sent: str, named: bool) -> None:
    stub = StubUpstream()
    body: dict[str, Any] = {"messages": MESSAGES, **({"model": "gpt-4o"} if named else {})}
    with ServerThread(stub) as upstream, policy_gateway(SET_MODEL, KEY, upstream=upstream.url) as gw:
        httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert [s["path"] for s in stub.seen] == [sent]
    assert stub.seen[0]["body"].get("model") == ("gpt-4o-mini" if named else None)
