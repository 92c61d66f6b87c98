"""serve20: a model named in the path is judged as the upstream reads it: percent-decoded.

Gemini's and Vertex AI's ``/models/{model}:action``, Claude on Vertex AI's
``/models/{model}:rawPredict`` and Azure's ``/openai/deployments/{name}/`` kept the path's
percent-escapes in ``ai.model``: ``/v1beta/models/gemini-pro%20:generateContent`` was the model
``gemini-pro%20``, which a deny of ``gemini-pro`` did not match (serve19 strips the spaces a
body's ``model`` has around it), and the upstream, which decodes its path, was asked for
``gemini-pro``. Bedrock's path model was decoded already. A ``set-model`` on such a path did not
find the model to replace, for the same reason.

Each row: the path and body, and whether the deny list refuses it (403, nothing sent upstream).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-path-models"
GEMINI = {"contents": [{"parts": [{"text": "hi"}]}]}
CLAUDE = {"anthropic_version": "vertex-2023-10-16", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
VERTEX = "/v1/projects/p/locations/l/publishers"
ROWS = [
    ("/v1beta/models/gemini-pro:generateContent", GEMINI, True),
    ("/v1beta/models/gemini-pro%20:generateContent", GEMINI, True),
    ("/v1beta/models/%20gemini-pro:generateContent", GEMINI, True),
    ("/v1beta/models/gemini-pro%C2%A0:generateContent", GEMINI, True),
    ("/v1beta/models/gemini%2Dpro:streamGenerateContent", GEMINI, True),
    (f"{VERTEX}/google/models/%20gemini-pro:generateContent", GEMINI, True),
    (f"{VERTEX}/anthropic/models/claude-x%20:rawPredict", CLAUDE, True),
    ("/openai/deployments/gpt-4o%20/chat/completions", CHAT, True),
    ("/v1beta/models/gemini-flash%20:generateContent", GEMINI, False),  # another model: sent
]
POLICY = """\
on_http_request:
  - name: models
    actions: [{type: model-access, config: {deny: ["gemini-pro", "claude-x", "gpt-4o"]}}]
"""


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("path", "body", "denied"), ROWS, ids=[r[0] for r in ROWS])
def test_a_model_in_the_path_is_judged_decoded(gw: Any, path: str, body: Any, denied: bool) -> None:
    before = len(gw.stub.seen)
    r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    if denied:
        assert r.status_code == 403, r.text
        assert len(gw.stub.seen) == before
    else:
        assert r.status_code != 403, r.text
        assert len(gw.stub.seen) == before + 1


SET_MODEL = """\
on_http_request:
  - name: swap
    actions: [{type: set-model, config: {model: gemini-flash}}]
"""


def test_a_set_model_replaces_a_model_the_path_spells_encoded() -> None:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(SET_MODEL, KEY, upstream=upstream.url) as gw:
        r = httpx.post(gw.url + "/v1beta/models/gemini%20pro:generateContent", json=GEMINI,
                       headers={"authorization": f"Bearer {KEY}"}, timeout=10)
        assert r.status_code == 200, r.text
        assert [s["path"] for s in stub.seen] == ["/v1beta/models/gemini-flash:generateContent"]
