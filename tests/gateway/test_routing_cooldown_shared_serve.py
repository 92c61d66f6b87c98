"""Two `serve` processes over one SQLite store share their cooldowns (docs/routing.md,
"Cooldown"; routing/cooling_store.py): the OpenAI SDK's request through the first gateway meets
key ``oa-1`` rate limited (429, ``Retry-After: 30``) and is served by ``oa-2``; the second
gateway, once it has recorded any attempt since, asks ``oa-2`` first and never the limited key.
Before (route29), the second gateway asked ``oa-1`` first: one more 429 round trip per process."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from .conftest import ServerThread
from .providers_stub import Reply, StubProvider

KEY = "sk-gw-cool-shared"
HI = [{"role": "user", "content": "hi"}]


def _policy(url: str) -> str:
    return ("on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n        config:\n"
            "          only_allow_configured_providers: true\n          failover_on: [429, 5xx, timeout, connect]\n"
            "          providers:\n"
            f"            - {{id: oa, base_url: \"{url}/v1\", api_keys: [{{value: sk-oa-1, id: oa-1}}, "
            "{value: sk-oa-2, id: oa-2}], models: [{id: gpt-4o}, {id: gpt-4o-mini}]}\n")


@pytest.fixture(scope="module")
def two() -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    stub = StubProvider("stub")
    with ServerThread(stub) as up, tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "policy.yaml").write_text(_policy(up.url))
        (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-cool, team: cool}}\n")
        apps = [Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), watch=0,
                        store=f"sqlite:{d / 'limits.db'}") for _ in range(2)]
        with ServerThread(apps[0], http=header_timeout_protocol(10.0)) as a, \
                ServerThread(apps[1], http=header_timeout_protocol(10.0)) as b:
            yield stub, a, b


def _ask(server: Any, model: str = "gpt-4o") -> str:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
    return client.chat.completions.create(model=model, messages=HI).choices[0].message.content


def test_a_key_rate_limited_behind_one_gateway_is_asked_last_by_the_other(two: Any) -> None:
    stub, a, b = two
    stub.push(Reply(429, headers={"retry-after": "30"}, key="sk-oa-1"))
    assert _ask(a) == "stub:gpt-4o"
    assert _ask(b, "gpt-4o-mini") == "stub:gpt-4o-mini"  # b records an attempt: the store's news comes with it
    assert [(s["model"], s["key"]) for s in stub.seen] == [("gpt-4o", "sk-oa-1"), ("gpt-4o", "sk-oa-2"),
                                                           ("gpt-4o-mini", "sk-oa-1")]
    stub.seen.clear()
    for _ in range(2):
        assert _ask(b) == "stub:gpt-4o"
    assert [s["key"] for s in stub.seen] == ["sk-oa-2", "sk-oa-2"]  # never the limited key
