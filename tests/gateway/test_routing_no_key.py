"""ngrok's ERR_NGROK_3802 ("No API key found", 400): a built-in provider (OpenAI, Anthropic, ...)
with no ``api_keys`` configured, for a request that carries no credential of the client's own
to pass on (none sent; or the gateway's key, which never goes upstream). No attempt is made:
the candidate is skipped, and a route with no other candidate answers 400 ERR_NGROK_3802. It
was sent without any key, the provider refused it (401) and the client got 503 "All providers
failed" (or a fallback served) with a failed attempt charged to a provider that did nothing
wrong. A provider of the operator's own (a self-hosted server) needs no key: forwarded as before."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway, record_of
from .providers_stub import StubProvider

KEY = "sk-gw-nokey"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def _policy(providers: list[tuple[str, str, str | None]]) -> str:
    """A route over ``(id, url, key or None)`` providers, each serving gpt-4o."""
    def keys(pid: str, key: str | None) -> str:
        return f"api_keys: [{{value: {key}, id: k-{pid}}}], " if key else ""

    rows = "".join(f"""
            - {{id: {pid}, base_url: "{url}/v1", {keys(pid, key)}models: [{{id: gpt-4o}}]}}"""
                   for pid, url, key in providers)
    return f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:{rows}
"""


@contextmanager
def _passthrough(policy: str) -> Iterator[Any]:
    """``serve`` without a keys file: clients' own credentials pass."""
    from aigw_policy.gateway import Gateway

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.yaml").write_text(policy)
        with ServerThread(Gateway(policy=Path(tmp) / "p.yaml", watch=0)) as gw:
            yield gw


# (case, provider id, gateway keys?, the client's own credential, status, code, key the upstream saw)
CASES = [
    ("built-in, gateway key", "openai", True, None, 400, "ERR_NGROK_3802", None),
    ("built-in, passthrough, no key sent", "openai", False, None, 400, "ERR_NGROK_3802", None),
    ("built-in, passthrough, own key", "openai", False, {"authorization": "Bearer sk-own-1"}, 200, None, "sk-own-1"),
    ("built-in, passthrough, gemini ?key=", "openai", False, {"?key": "sk-own-2"}, 200, None, "sk-own-2"),
    ("own server, gateway key", "mine", True, None, 200, None, ""),
]


@pytest.mark.parametrize("case, pid, keys, own, status, code, seen", CASES, ids=[c[0] for c in CASES])
def test_a_keyless_candidate(case: str, pid: str, keys: bool, own: dict[str, str] | None, status: int,
                             code: str | None, seen: str | None) -> None:
    stub = StubProvider("p")
    headers = {k: v for k, v in (own or {}).items() if not k.startswith("?")}
    params = {k[1:]: v for k, v in (own or {}).items() if k.startswith("?")}
    with ServerThread(stub) as up:
        policy = _policy([(pid, up.url, None)])
        with (policy_gateway(policy, KEY) if keys else _passthrough(policy)) as gw:
            if keys:
                headers["authorization"] = f"Bearer {KEY}"
            r = httpx.post(gw.url + "/v1/chat/completions", headers=headers, params=params, json=BODY, timeout=30)
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["message"].startswith("No API key found.")
    if seen is None:
        assert stub.seen == []  # no attempt was made
    elif params:
        assert stub.seen[0]["query"] == f"key={seen}"  # Gemini's credential, in the query
    else:
        assert stub.seen[0]["key"] == seen


def test_a_keyless_candidate_is_skipped_for_the_next_one() -> None:
    first, second = StubProvider("first"), StubProvider("second")
    with ServerThread(first) as a, ServerThread(second) as b:
        policy = _policy([("openai", a.url, None), ("mine", b.url, "sk-mine-1")])
        with policy_gateway(policy, KEY) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                           json={**BODY, "models": ["openai:gpt-4o", "mine:gpt-4o"]}, timeout=30)
            record = record_of(gw.ledger, r.headers["x-aigw-decision-id"])
    assert r.status_code == 200, r.text
    assert first.seen == [] and second.seen[0]["key"] == "sk-mine-1"
    assert record["aigw.attempts"] == 1 and record["gen_ai.provider.name"] == "mine"
