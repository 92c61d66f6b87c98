"""serve18: a model the client names never becomes a dot segment of an upstream's path.

Bedrock's model is a segment of the path (``/model/{id}/converse``), Gemini's part of one
(``/models/{model}:generateContent``). A name passed through to a provider (``provider:model``,
a model the provider does not list) was put there percent-encoded, which keeps ``/``, ``?`` and
``#`` in the segment but not ``.``: ``bedrock:..`` was sent to ``{base}/model/../converse``,
which every HTTP server resolves to ``{base}/converse``, with the operator's key, and
``bedrock:.`` to ``{base}/model/./converse``. A model named ``.``, ``..`` or nothing names no
model: the route refuses it as a name nothing knows (422 ``ERR_NGROK_3804``, or dropped when
another name resolves), and no provider is sent it.

Each row: the client's path and body; no upstream may be sent anything.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .providers_stub import StubProvider

KEY = "sk-gw-model-paths"
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
GEMINI = {"contents": [{"parts": [{"text": "hi"}]}]}
CHAT = {"messages": [{"role": "user", "content": "hi"}]}

NO_MODEL = (422, "ERR_NGROK_3804")
ROWS = [
    ("bedrock .. in the fallbacks", "/model/nova-x/converse", {**CONVERSE, "models": ["bedrock:.."]}, NO_MODEL),
    ("bedrock . in the fallbacks", "/model/nova-x/converse", {**CONVERSE, "models": ["bedrock:."]}, NO_MODEL),
    ("bedrock nothing in the fallbacks", "/model/nova-x/converse", {**CONVERSE, "models": ["bedrock:"]}, NO_MODEL),
    ("bedrock .. in the path", "/model/bedrock:../converse", CONVERSE, NO_MODEL),
    ("bedrock .. invoke", "/model/bedrock:../invoke", {"anthropic_version": "bedrock-2023-05-31", **CHAT}, NO_MODEL),
    # a model with a second `:` is no Gemini path the route serves (held before serve18)
    ("gemini .. in the path", "/v1beta/models/pg:..:generateContent", GEMINI, (404, "unsupported_endpoint")),
    ("gemini .. in the fallbacks", "/v1beta/models/gemini-x:generateContent", {**GEMINI, "models": ["pg:.."]},
     NO_MODEL),
    ("openai ..", "/v1/chat/completions", {"model": "po:..", **CHAT}, NO_MODEL),
]


@pytest.fixture(scope="module")
def routed() -> Any:
    up = StubProvider("paths")
    with ServerThread(up) as server:
        policy = f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - {{id: po, base_url: "{server.url}/v1", api_keys: [{{value: k-o}}], models: [{{id: gpt-4o}}]}}
            - {{id: pg, base_url: "{server.url}/v1beta", supported_api_surfaces: [{{format: gemini}}],
               api_keys: [{{value: k-g}}], models: [{{id: gemini-y}}]}}
            - {{id: bedrock, base_url: "{server.url}", api_keys: [{{value: k-br}}], models: [{{id: nova-y}}]}}
"""
        with policy_gateway(policy, KEY) as gw:
            yield gw, up


@pytest.mark.parametrize(("path", "body", "refused"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_model_of_dots_is_no_model(routed: Any, path: str, body: Any, refused: tuple[int, str]) -> None:
    gw, up = routed
    up.reset()
    r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert [s["path"] for s in up.seen] == [], r.text
    assert (r.status_code, r.json()["aigw"]["code"]) == refused, r.text


def test_a_model_with_dots_in_it_is_still_sent(routed: Any) -> None:
    gw, up = routed
    up.reset()
    r = httpx.post(gw.url + "/model/bedrock:a..b/converse", json=CONVERSE,
                   headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert [s["path"] for s in up.seen] == ["/model/a..b/converse"]
