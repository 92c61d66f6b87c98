"""The `ai-gateway` action routes inference requests only. It sent whatever the client asked,
to whatever path, with the operator's provider key: with a model strategy (no model needed in
the request) or a body that names a model, a gateway key could list the organization's files
and stored chat completions (other teams' prompts and answers), read batches and fine-tunes,
start a fine-tuning job, or mint a Realtime client secret that talks to the provider directly,
outside every limit and the ledger. Now a request that is not a POST to an inference API
(`providers.classify.inference_endpoint`) is refused 404 `unsupported_endpoint` in the
client's shape, and no provider sees it; inference requests are served as before."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from .conftest import ServerThread, policy_gateway, routed_policy
from .providers_stub import StubProvider

KEY = "sk-gw-endpoints"
STRATEGY = "          model_selection: {strategy: [\"ai.models.filter(m, m.id == 'gpt-4o')\"]}\n"

# (method, path, body): what a gateway key could reach with the provider key before
REFUSED = [
    ("GET", "/v1/files", None),
    ("GET", "/v1/chat/completions", None),  # the organization's stored completions
    ("GET", "/v1/chat/completions/chatcmpl-1/messages", None),
    ("DELETE", "/v1/files/file-1", None),
    ("GET", "/v1/models", None),
    ("GET", "/v1/batches", None),
    ("POST", "/v1/fine_tuning/jobs", {"model": "gpt-4o", "training_file": "file-1"}),
    ("POST", "/v1/realtime/client_secrets", {"session": {"type": "realtime", "model": "gpt-4o"}}),
    ("POST", "/v1/assistants", {"model": "gpt-4o"}),
    ("POST", "/v1/responses/resp_1/cancel", {}),
    ("GET", "/v1/responses/resp_1", None),
]
SERVED = [
    ("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/responses", {"model": "gpt-4o", "input": "hi"}),
    ("POST", "/v1/embeddings", {"model": "gpt-4o", "input": "hi"}),
]


@pytest.fixture(scope="module")
def env() -> Any:
    stub = StubProvider("openai")
    with ServerThread(stub) as up, policy_gateway(routed_policy([up.url], config=STRATEGY), KEY) as gw:
        yield gw, stub


@pytest.mark.parametrize(("method", "path", "body"), REFUSED, ids=[f"{m} {p}" for m, p, _ in REFUSED])
def test_a_request_that_is_no_inference_never_reaches_a_provider(env: Any, method: str, path: str,
                                                                 body: Any) -> None:
    gw, stub = env
    stub.reset()
    r = httpx.request(method, gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unsupported_endpoint"
    assert stub.seen == []


@pytest.mark.parametrize(("method", "path", "body"), SERVED, ids=[p for _, p, _ in SERVED])
def test_inference_requests_are_served(env: Any, method: str, path: str, body: Any) -> None:
    gw, stub = env
    stub.reset()
    r = httpx.request(method, gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 200 and [s["path"] for s in stub.seen] == [path]


def test_the_sdk_sees_a_not_found_error(env: Any) -> None:
    gw, stub = env
    stub.reset()
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.files.list()
    assert "not an inference API" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.create(model="gpt-4o", training_file="file-1")
    assert stub.seen == []


def test_an_interaction_is_not_routed(env: Any) -> None:
    """Gemini's Interactions API is inference (payloads18: classified, priced, its key lent
    unrouted), but the route neither translates its body nor writes a candidate's model into
    it: refused as before, saying why, and no provider sees it."""
    gw, stub = env
    stub.reset()
    r = httpx.post(gw.url + "/v1beta/interactions", json={"model": "gemini-2.5-flash", "input": "hi"},
                   headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 404 and "Interactions API is not routed" in r.text
    assert stub.seen == []
