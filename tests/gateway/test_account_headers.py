"""The headers that choose a credential's account (OpenAI's ``OpenAI-Organization`` and
``OpenAI-Project``, Google's ``x-goog-user-project``) go with the credential: a client's never
go with the gateway's key. The OpenAI SDK sends them whenever ``OPENAI_ORG_ID`` /
``OPENAI_PROJECT_ID`` are set (a developer's own org): with the gateway's key the provider
answered every request 401 ``mismatched_organization``; and a key that reaches several
organizations served, billed and showed the files of whichever one the client named. Through
the proxy (``upstream_auth``) and a route (a configured key) alike; in passthrough (the client's
own key, no ``--keys``) they go with the client's key, as it sent them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from .conftest import ServerThread, policy_gateway, routed_policy
from .providers_stub import StubProvider

KEY = "sk-gw-accounts"
ACCOUNT = {"openai-organization": "org-client", "openai-project": "proj-client", "x-goog-user-project": "gcp-client",
           "cookie": "session=client-at-upstream"}


def _sdk(url: str, key: str = KEY) -> Any:
    # what OPENAI_ORG_ID / OPENAI_PROJECT_ID make of every client
    return openai.OpenAI(base_url=url + "/v1", api_key=key, organization="org-client", project="proj-client",
                         default_headers={"x-goog-user-project": "gcp-client", "cookie": ACCOUNT["cookie"]}, max_retries=0)


def _proxy(tmp_path: Path, upstream: str, *, lend: bool = True, more: str = "",
           policy: str = "on_http_request: []\n") -> Any:
    """``serve``'s app of ``policy`` in front of ``upstream``: with a keys file whose
    ``upstream_auth`` lends the operator's key (``more``: more of its fields), or with none
    (``lend=False``: the client's own credential passes)."""
    from aigw_policy.gateway import Gateway, load_keys

    (tmp_path / "p.yaml").write_text(policy)
    (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k}}\n"
                                        f"upstream_auth:\n  openai: {{authorization: \"Bearer sk-operator-1\"{more}}}\n")
    return Gateway(policy=tmp_path / "p.yaml", upstream=upstream, watch=0,
                   keys=load_keys(tmp_path / "keys.yaml") if lend else None)


def _sent(stub: StubProvider) -> dict[str, str]:
    (seen,) = stub.seen
    return {k: v for k, v in seen["headers"].items() if k in ACCOUNT}


def test_a_routed_request_goes_with_the_keys_account_only() -> None:
    stub = StubProvider("p")
    with ServerThread(stub) as up, policy_gateway(routed_policy([up.url]), KEY) as gw:
        _sdk(gw.url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert _sent(stub) == {}
    assert stub.seen[0]["key"] == "sk-routed-0"


def test_the_actions_own_headers_choose_the_account() -> None:
    stub = StubProvider("p")
    config = "          headers: {openai-organization: org-operator}\n"
    with ServerThread(stub) as up, policy_gateway(routed_policy([up.url], config=config), KEY) as gw:
        _sdk(gw.url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert _sent(stub) == {"openai-organization": "org-operator"}


@pytest.mark.parametrize("own", [False, True])
def test_a_proxied_request_goes_with_the_upstream_auths_account_only(tmp_path: Path, own: bool) -> None:
    stub = StubProvider("p")
    org = ", openai-organization: org-operator" if own else ""
    with ServerThread(stub) as up:
        with ServerThread(_proxy(tmp_path, up.url, more=org)) as gw:
            _sdk(gw.url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert _sent(stub) == ({"openai-organization": "org-operator"} if own else {})
    assert stub.seen[0]["key"] == "sk-operator-1"


def test_the_clients_own_key_keeps_its_account(tmp_path: Path) -> None:
    from aigw_policy.gateway import Gateway

    stub = StubProvider("p")
    (tmp_path / "p.aigw").write_text('policy "a" { default allow }')
    with ServerThread(stub) as up:
        app = Gateway(policy=tmp_path / "p.aigw", upstream=up.url, watch=0)  # no --keys: credentials pass
        with ServerThread(app) as gw:
            _sdk(gw.url, "sk-client-own").chat.completions.create(model="gpt-4o",
                                                                  messages=[{"role": "user", "content": "hi"}])
    assert _sent(stub) == ACCOUNT and stub.seen[0]["key"] == "sk-client-own"


# -- the answer: the account the gateway's key belongs to is not the key holder's to see ------

OPERATOR = {"openai-organization": "org-operator", "openai-project": "proj-operator",
            "anthropic-organization-id": "aorg-operator", "x-ms-deployment-name": "dep-operator",
            "x-trial-endpoint-call-limit": "40", "x-trial-endpoint-call-remaining": "39",
            "x-endpoint-monthly-call-limit": "1000",
            # the account's rate limits: its tier, and what every other tenant uses of it
            "x-ratelimit-limit-requests": "10000", "x-ratelimit-limit-tokens": "30000000",
            "x-ratelimit-remaining-requests": "9999", "x-ratelimit-remaining-tokens": "29999000",
            "x-ratelimit-reset-requests": "6ms", "x-ratelimit-reset-tokens": "2ms",
            "anthropic-ratelimit-requests-limit": "4000", "anthropic-ratelimit-tokens-remaining": "399000",
            "anthropic-ratelimit-input-tokens-reset": "2026-01-01T00:00:00Z",
            "ratelimitbysize-limit": "500000", "x-ratelimitbysize-remaining-month": "9",
            "x-rate-limit-remaining": "7",
            # the IETF draft's names (an upstream gateway's): beside the gateway's own fields of those names
            "ratelimit": '"acct";r=3;t=9', "ratelimit-policy": '"acct";q=30000000;w=60', "ratelimit-limit": "30000000",
            # the deployment that served: its region, its proxies, its hosts
            "via": "1.1 lb-7.internal.corp", "x-ms-region": "East US", "x-ms-client-request-id": "c1",
            "apim-request-id": "apim-1", "azureml-model-deployment": "prod-gpt4o-blue",
            "azureml-model-session": "s1", "x-envoy-upstream-service-time": "12", "x-kong-upstream-latency": "3",
            "x-served-by": "cache-fra-1", "x-backend-server": "10.0.0.7", "x-upstream": "10.0.0.7:8000",
            # the operator's session at the upstream, its internals' timings, its software (serve19)
            "set-cookie": "__cf_bm=operator-session; path=/; HttpOnly", "server-timing": "db;dur=53, lb;desc=10.0.0.7",
            "x-powered-by": "Express", "x-aspnet-version": "4.0.30319"}
KEPT = {"openai-processing-ms": "12", "retry-after": "1", "retry-after-ms": "1000", "x-request-id": "req-upstream-1"}


def _answered(raw: Any) -> dict[str, str]:
    return {k: v for k, v in raw.headers.items() if k in OPERATOR or k in KEPT}


def _call(url: str, key: str = KEY) -> Any:
    return _sdk(url, key).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("stream", [False, True])
def test_a_routed_answer_hides_the_operators_account(stream: bool) -> None:
    from .providers_stub import Reply

    stub = StubProvider("p")
    stub.push(Reply(headers={**OPERATOR, **KEPT}))
    with ServerThread(stub) as up, policy_gateway(routed_policy([up.url]), KEY) as gw:
        raw = _sdk(gw.url).chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=stream)
    assert _answered(raw) == KEPT


def test_a_proxied_answer_hides_the_operators_account(tmp_path: Path) -> None:
    from .providers_stub import Reply

    stub = StubProvider("p")
    stub.push(Reply(headers={**OPERATOR, **KEPT}))
    with ServerThread(stub) as up:
        with ServerThread(_proxy(tmp_path, up.url)) as gw:
            raw = _call(gw.url)
    assert _answered(raw) == KEPT


@pytest.mark.parametrize("routed", [False, True])
def test_the_clients_own_key_sees_its_own_account(tmp_path: Path, routed: bool) -> None:
    from aigw_policy.gateway import Gateway

    from .providers_stub import Reply

    stub = StubProvider("p")
    stub.push(Reply(headers={**OPERATOR, **KEPT}))
    with ServerThread(stub) as up:
        if routed:  # a keyless provider: the client's own key goes (passthrough)
            (tmp_path / "p.yaml").write_text(routed_policy([up.url], key_ids=[None]))
            app = Gateway(policy=tmp_path / "p.yaml", watch=0)
        else:
            (tmp_path / "p.aigw").write_text('policy "a" { default allow }')
            app = Gateway(policy=tmp_path / "p.aigw", upstream=up.url, watch=0)  # passthrough: the client's account
        with ServerThread(app) as gw:
            raw = _call(gw.url, "sk-client-own")
    assert stub.seen[0]["key"] == "sk-client-own"
    assert _answered(raw) == {**OPERATOR, **KEPT}


# -- nor do the provider's error messages, which quote the account's ids ----------------------

ORG = "org-AbCdEfGhIjKlMnOpQrStUvWx"
MASKED = "sk-proj-Zq9X" + "*" * 40 + "Tw7Y"  # how OpenAI's 401 shows the key it refused
SAID = (f"Rate limit reached for gpt-4o in organization {ORG} (consumer 'project_number:123456789'); "
        f"Incorrect API key provided: {MASKED}.")


def _no_ids(text: str) -> None:
    assert "org-AbCd" not in text and "123456789" not in text and "Zq9X" not in text and "Tw7Y" not in text, text
    assert "org-***" in text and "project_number:***" in text and "sk-***." in text, text


@pytest.mark.parametrize("failover_on", [None, "[500]"])
def test_a_routed_error_hides_the_operators_account_ids(failover_on: str | None) -> None:
    from .providers_stub import Reply

    stub = StubProvider(SAID)  # its error message: "<name> says 429"
    stub.push(Reply(status=429))
    config = f"          failover_on: {failover_on}\n" if failover_on else ""
    with ServerThread(stub) as up, policy_gateway(routed_policy([up.url], config=config), KEY) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == (503 if failover_on is None else 429)  # all failed, or the 429 served as it is
    _no_ids(r.text)


def test_a_proxied_error_hides_the_operators_account_ids(tmp_path: Path) -> None:
    from .providers_stub import Reply

    stub = StubProvider(SAID)
    stub.push(Reply(status=429))
    with ServerThread(stub) as up:
        with ServerThread(_proxy(tmp_path, up.url)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 429
    _no_ids(r.text)


def test_account_ids_split_anywhere_are_caught() -> None:
    from aigw_policy.gateway.scrub import AccountIds

    data = json.dumps({"error": {"message": SAID}}).encode()
    for i in range(len(data)):
        for j in range(i, len(data)):
            s = AccountIds()
            out = s.feed(data[:i]) + s.feed(data[i:j]) + s.feed(data[j:]) + s.flush()
            _no_ids(out.decode())


REMAINING = """\
on_http_request:
  - name: tpm
    actions:
      - type: token-limit
        config: {name: key-tpm, capacity: 100000, rate: 1m, bucket_key: [identity.key]}
on_http_response:
  - name: remaining-tokens-header
    expressions: ["'key-tpm' in limits"]
    actions:
      - type: add-headers
        config:
          headers:
            x-ratelimit-remaining-tokens: "${limits['key-tpm'].remaining}"
"""


def test_the_policys_own_rate_limit_field_is_the_only_one(tmp_path: Path) -> None:
    """examples/key-limits tells clients what is left of their key's tokens in OpenAI's own
    field (`x-ratelimit-remaining-tokens`, a response rule's `add-headers`): the client reads
    the policy's number, never the operator's account's beside it."""
    from .providers_stub import Reply

    stub = StubProvider("p")
    stub.push(Reply(headers={"x-ratelimit-remaining-tokens": "29999000", "x-ratelimit-limit-tokens": "30000000"}))
    with ServerThread(stub) as up:
        with ServerThread(_proxy(tmp_path, up.url, policy=REMAINING)) as gw:
            raw = _call(gw.url)
    fields = [(k, v) for k, v in raw.headers.multi_items() if k.startswith("x-ratelimit")]
    assert [k for k, _ in fields] == ["x-ratelimit-remaining-tokens"], fields
    assert int(fields[0][1]) <= 100000  # the key's `key-tpm`, not the account's 29,999,000


class _Models:
    """An upstream whose model list names the account that owns a fine-tuned model."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from .conftest import lifespan

        if await lifespan(scope, receive, send):
            return
        data = json.dumps({"object": "list", "data": [
            {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "system"},
            {"id": "ft:gpt-4o-mini:acme::abc123", "object": "model", "created": 2, "owned_by": ORG}]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


@pytest.mark.parametrize("own", [False, True], ids=["gateway-key", "client-key"])
def test_the_model_list_read_with_the_operators_key_hides_its_account(tmp_path: Path, own: bool) -> None:
    with ServerThread(_Models()) as up:
        with ServerThread(_proxy(tmp_path, up.url, lend=not own)) as gw:
            models = list(_sdk(gw.url, "sk-client-own" if own else KEY).models.list())
    assert [m.id for m in models] == ["gpt-4o", "ft:gpt-4o-mini:acme::abc123"]  # what the client calls stays
    assert models[1].owned_by == (ORG if own else "org-***")
