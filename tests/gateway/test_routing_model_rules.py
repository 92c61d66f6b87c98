"""Through `serve` with the OpenAI SDK: a model rule before the `ai-gateway` action holds for
the model the route sends, however the client writes it (``GPT-4.1``, ``openai:gpt-4.1``) and
when the client names it as a ``models`` fallback (tests/engine/test_routing_model_rules.py has
every row): no such attempt reaches a provider, the client gets 403 ``model_not_allowed``."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from .conftest import ServerThread, policy_gateway, record_of
from .providers_stub import Reply, StubProvider

KEY = "sk-gw-model-rules"
POLICY = """\
on_http_request:
  - name: premium
    expressions: ["ai.model == 'gpt-4.1' && identity.team != 'research'"]
    actions: [{type: deny, config: {status_code: 403, message: "model ${ai.model} is reserved for research"}}]
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - id: openai
              base_url: "URL/v1"
              api_keys: [{value: sk-upstream-1, id: k1}]
"""
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def env() -> Any:
    stub = StubProvider("openai")
    with ServerThread(stub) as up, policy_gateway(POLICY.replace("URL", up.url), KEY) as gw:
        yield gw, stub


@pytest.fixture()
def client(env: Any) -> Any:
    env[1].reset()
    return openai.OpenAI(base_url=env[0].url + "/v1", api_key=KEY, max_retries=0)


@pytest.mark.parametrize(("model", "fallbacks"), [("GPT-4.1", []), ("openai:gpt-4.1", []),
                                                  ("no-such-model", ["gpt-4.1"])])
def test_the_premium_rule_holds_however_the_model_is_written(env: Any, client: Any, model: str,
                                                             fallbacks: list[str]) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=model, messages=MSG, extra_body={"models": fallbacks} if fallbacks else None)
    assert caught.value.code == "model_not_allowed" and "premium" in caught.value.message
    assert env[1].seen == []
    rec = record_of(env[0].ledger, caught.value.response.headers["x-aigw-decision-id"])
    assert rec["http.response.status_code"] == 403


def test_a_fallback_the_rule_refuses_is_not_failed_over_to(env: Any, client: Any) -> None:
    env[1].push(Reply(500, model="gpt-4o"))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True, extra_body={"models": ["gpt-4.1"]})
    assert [s["model"] for s in env[1].seen] == ["gpt-4o"]


def test_an_allowed_fallback_is_still_served(env: Any, client: Any) -> None:
    env[1].push(Reply(500, model="gpt-4o"))
    stream = client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                            extra_body={"models": ["gpt-4.1", "gpt-4o-mini"]})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).startswith("openai:gpt-4o-mini")
    assert [s["model"] for s in env[1].seen] == ["gpt-4o", "gpt-4o-mini"]
