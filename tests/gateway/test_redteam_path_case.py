"""serve22: a model-bearing path spelt in another case is refused, not passed unread.

The policy reads a model from the path by its API's spelling: `/openai/deployments/{m}/`,
`/engines/{m}/`, Gemini's and Vertex AI's `/models/{m}:generateContent`, Bedrock's
`/model/{m}/invoke`. `/OpenAI/Deployments/o1/chat/completions` matched none of them, so the
policy judged the body's model (or none) and the request went upstream as it came, to servers
that route paths case-insensitively (ASP.NET's and Go Fiber's defaults, IIS), which serve `o1`
(probed through `serve`: 404 from the stub, forwarded, for each row below). Now such a path is
400 `invalid_path` naming the word, and nothing goes upstream; a path of the APIs' own spelling,
and a project, deployment or model named in capitals, pass as before.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-case22"
POLICY = """\
on_http_request:
  - name: deny-o1
    actions:
      - type: model-access
        config: {deny: [o1]}
"""

SPELT_OTHERWISE = [
    "/OpenAI/Deployments/o1/chat/completions?api-version=2024-10-21",
    "/openai/DEPLOYMENTS/o1/chat/completions?api-version=2024-10-21",
    "/v1/Engines/o1/completions",
    "/V1BETA/MODELS/o1:generateContent",
    "/v1beta/Models/o1:generateContent",
    "/v1beta/models/o1:GenerateContent",
    "/v1beta/models/o1:STREAMGENERATECONTENT?alt=sse",
    "/v1/Projects/p/locations/l/publishers/google/models/o1:generateContent",
    "/v1/projects/p/locations/l/Publishers/Google/models/o1:generateContent",
    "/v1/projects/p/locations/l/publishers/anthropic/models/o1:RawPredict",
    "/Model/o1/invoke",
    "/model/o1/Converse",
]


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


def _post(gw: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gw.url}{path}", content=json.dumps(body).encode(), timeout=30,
                      headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})


@pytest.mark.parametrize("path", SPELT_OTHERWISE)
def test_a_model_path_in_another_case_is_refused(gw: Any, path: str) -> None:
    before = len(gw.stub.seen)
    r = _post(gw, path, {"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400, r.text
    assert "invalid_path" in r.text, r.text
    assert len(gw.stub.seen) == before


@pytest.mark.parametrize("path", [p.lower().replace("streamgeneratecontent", "streamGenerateContent")
                                  .replace(":generatecontent", ":generateContent")
                                  .replace("rawpredict", "rawPredict") for p in SPELT_OTHERWISE])
def test_the_api_s_own_spelling_is_judged(gw: Any, path: str) -> None:
    r = _post(gw, path, {"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 403, r.text  # the path's model, o1, read and denied


@pytest.mark.parametrize("path", [
    "/openai/deployments/GPT-4o-Prod/chat/completions?api-version=2024-10-21",
    "/v1/projects/My-Project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
    "/model/Anthropic.Claude-3-Haiku/invoke",
    "/v1/Chat/Completions",
])
def test_capitals_elsewhere_pass(gw: Any, path: str) -> None:
    before = len(gw.stub.seen)
    r = _post(gw, path, {"messages": [{"role": "user", "content": "hi"}]})
    assert "invalid_path" not in r.text, r.text
    assert len(gw.stub.seen) == before + 1


@pytest.mark.parametrize("path", ["/v1beta/models/o1:generateContent/", "/v1beta/models/o1:streamGenerateContent//",
                                  "/v1/projects/p/locations/l/publishers/google/models/o1:generateContent/"])
def test_a_gemini_path_with_a_trailing_slash_is_judged(gw: Any, path: str) -> None:
    """A trailing `/` is the same route to a server without strict routing (Go Fiber's default):
    Bedrock's, Vertex AI Claude's and Azure's paths were read with it, Gemini's were not."""
    before = len(gw.stub.seen)
    r = _post(gw, path, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert r.status_code == 403, r.text
    assert len(gw.stub.seen) == before
