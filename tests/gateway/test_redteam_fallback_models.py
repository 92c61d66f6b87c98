"""serve21: a plain upstream is never sent a fallback list naming a model the policy did not judge.

OpenRouter reads a body's ``models: [...]`` (and LiteLLM's proxy ``fallbacks: [...]``) as the
models to serve when ``model`` fails; routed by an ``ai-gateway`` action, each is judged by the
model rules before it is tried. Forwarded to a plain ``--upstream``, the list went as sent:
``{"model": "gpt-4o", "models": ["o1"]}`` passed a ``deny: [o1]`` (the policy judged
``gpt-4o``), and ``{"models": ["o1"]}`` with no ``model`` was judged as no model at all, while
OpenRouter served ``o1``. Such a body is now 400 ``unjudged_models``, its reservation released
and nothing sent; a list naming only ``model`` (or an empty one) passes, and so does every
routed request (tests/gateway/test_routing_model_rules.py).

Each row: the body's model fields; refused (400, nothing sent) or forwarded.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, ledger_records, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-fallback-models"
POLICY = """\
on_http_request:
  - name: models
    actions: [{type: model-access, config: {deny: ["o1"]}}]
  - name: tpm
    actions: [{type: token-limit, config: {name: tpm, capacity: 1000000, rate: 24h, algorithm: fixed_window,
               bucket_key: ["identity.key"]}}]
"""
ROWS = [
    ({"model": "gpt-4o", "models": ["o1"]}, True),
    ({"model": "gpt-4o", "models": ["gpt-4o", "o1"]}, True),
    ({"models": ["o1"]}, True),
    ({"model": "gpt-4o", "models": ["gpt-4o-mini"]}, True),  # allowed, but never judged: refused all the same
    ({"model": "gpt-4o", "fallbacks": ["o1"]}, True),
    ({"model": "gpt-4o", "fallbacks": [{"model": "o1"}]}, True),
    ({"model": "gpt-4o", "fallbacks": "o1"}, True),
    ({"model": "gpt-4o", "models": ["gpt-4o"]}, False),
    ({"model": "gpt-4o", "models": []}, False),
    ({"model": "gpt-4o"}, False),
]


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("fields", "refused"), ROWS, ids=[repr(r[0]) for r in ROWS])
def test_a_fallback_list_is_judged_or_refused(gw: Any, fields: dict[str, Any], refused: bool) -> None:
    body = {**fields, "messages": [{"role": "user", "content": "hi"}]}
    before, used = len(gw.stub.seen), _used(gw)
    r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"},
                   timeout=10)
    if not refused:
        assert r.status_code == 200, r.text
        assert len(gw.stub.seen) == before + 1
        return
    assert r.status_code in (400, 403), r.text
    assert len(gw.stub.seen) == before
    if r.status_code == 400:
        assert r.json()["error"]["code"] == "unjudged_models"
        rid = r.headers["x-aigw-decision-id"]
        final = [x for x in ledger_records(gw.ledger, rid) if x["aigw.request.id"] == rid]
        assert final and final[-1]["aigw.verdict"] != "pending"  # settled: its reservation released
        assert _used(gw) == used


def _used(gw: Any) -> float:
    """What the token limit holds for the test's key now."""
    from aigw_policy.limits.model import Charge

    spec = gw.app.holder.current.compiled.limits["tpm"][1].limit.spec
    return gw.app.store.check([Charge(spec, "k-red", 0)], time.time())[0].used
