"""Red-team: what a gateway key's holder learns of the operator through a routed request.

- The all-failed 503 (ERR_NGROK_3807) lists what each attempt said, by provider and model,
  never by the id of the operator's key it went with (``api_keys[].id``: the operator's own
  naming, ``prod-billing-key``); the ledger and the decision log keep the key ids.
- A keyless provider behind ``--keys`` (a private deployment: vLLM behind Envoy) is the
  operator's as much as a keyed one: its answer's ``via``, ``x-envoy-*``, rate limits do not
  reach the client either.
- A query parameter of one vendor's dialect of a shared format (Azure's ``api-version``) goes
  only to that vendor: an Azure client's request failing over to OpenAI does not take it along.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway, record_of, routed_policy
from .providers_stub import Reply, StubProvider

KEY = "sk-gw-operator-names"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
KEY_IDS = ("prod-billing-key-east", "prod-billing-key-west")


def _post(gw: Any, path: str = "/v1/chat/completions") -> httpx.Response:
    return httpx.post(gw.url + path, json=BODY, headers={"authorization": f"Bearer {KEY}"}, timeout=30)


@pytest.mark.parametrize("status", [500, 429, 400])
def test_the_all_failed_answer_names_no_key_id(status: int) -> None:
    ups = [StubProvider("a"), StubProvider("b")]
    for up in ups:
        up.push(Reply(status=status, times=5))
    with ServerThread(ups[0]) as a, ServerThread(ups[1]) as b, policy_gateway(
            routed_policy([a.url, b.url], key_ids=list(KEY_IDS)), KEY) as gw:
        r = _post(gw)
        reason = record_of(gw.ledger, r.headers["x-aigw-decision-id"])["aigw.reason"]
    assert r.status_code == 503 and r.json()["error"]["code"] == "ERR_NGROK_3807"
    for kid in KEY_IDS:
        assert kid not in r.text and kid not in json.dumps(dict(r.headers))
    assert f"p0:gpt-4o: {status} a says {status}; p1:gpt-4o: {status} b says {status}" in r.json()["error"]["message"]
    # the operator's record keeps them
    assert f"p0:gpt-4o (key {KEY_IDS[0]}): {status}; p1:gpt-4o (key {KEY_IDS[1]}): {status}" in reason


INFRA = {"via": "1.1 envoy-7.internal.corp", "x-envoy-upstream-service-time": "9",
         "x-ratelimit-remaining-tokens": "12345", "x-served-by": "vllm-3.internal.corp"}


def test_a_keyless_private_deployment_behind_keys_is_the_operators() -> None:
    up = StubProvider("vllm")
    up.push(Reply(headers={**INFRA, "x-request-id": "up-1"}))
    with ServerThread(up) as u, policy_gateway(routed_policy([u.url], ids=["vllm-internal"], key_ids=[None]), KEY) as gw:
        r = _post(gw)
    assert r.status_code == 200, r.text
    assert up.seen[0]["key"] == ""  # no credential went: the gateway key is never forwarded
    assert {k: v for k, v in r.headers.items() if k in INFRA} == {}
    assert r.headers["x-request-id"] == "up-1"


# (providers in try order, the first fails: where the client's ?api-version= may go; the
# providers of a name are tried in alphabetical order of their ids, route27)
QUERY_ROWS = [
    (["azure", "openai-direct"], [True, False]),  # Azure to OpenAI: not taken along
    (["a-openai-direct", "azure"], [False, True]),  # OpenAI to Azure: Azure's own parameter, to Azure
]


@pytest.mark.parametrize(("providers", "sent"), QUERY_ROWS, ids=["azure-to-openai", "openai-to-azure"])
def test_a_vendors_query_parameter_stays_with_that_vendor(providers: list[str], sent: list[bool]) -> None:
    ups = [StubProvider("first"), StubProvider("second")]
    ups[0].push(Reply(status=500))
    with ServerThread(ups[0]) as a, ServerThread(ups[1]) as b, policy_gateway(
            routed_policy([a.url, b.url], ids=providers), KEY) as gw:
        r = _post(gw, "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21&trace=1")
    assert r.status_code == 200, r.text
    queries = [up.seen[0]["query"] for up in ups]
    assert ["api-version=2024-10-21" in q for q in queries] == sent, queries
    assert all("trace=1" in q for q in queries)  # a parameter no vendor owns goes as it came


def test_the_all_failed_answer_names_no_address_of_the_deployment() -> None:
    ups = [StubProvider("upstream connect error: http://10.9.8.7:8000/v1/chat (10.9.8.7:8000) via localhost:"),
           StubProvider("no healthy upstream [fd00::7]:8000, LOCALHOST says:")]
    for up in ups:
        up.push(Reply(status=502, times=5))
    with ServerThread(ups[0]) as a, ServerThread(ups[1]) as b, policy_gateway(
            routed_policy([a.url.replace("127.0.0.1", "localhost"),
                                        b.url.replace("127.0.0.1", "localhost")]), KEY) as gw:
        r = _post(gw)
    message = r.json()["error"]["message"]
    assert r.status_code == 503, r.text
    assert message.endswith("p0:gpt-4o: 502 upstream connect error: *** (***) via ***: says 502; "
                            "p1:gpt-4o: 502 no healthy upstream ***, *** says: says 502"), message
