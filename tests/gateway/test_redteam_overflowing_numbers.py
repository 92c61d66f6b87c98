"""serve22: a number too large for a double is refused as ``Infinity`` is.

The body's parser refused the literals ``NaN`` and ``Infinity`` (not JSON), but read ``1e999``
as a float infinity, without a word: Go's ``encoding/json`` refuses it ("value out of range"),
JavaScript and Python read it as infinity. A body the gateway rewrote (a ``max-tokens`` clamp
adding a cap, a ``set-model``) was then written out with ``Infinity`` in it, which no JSON
parser of an upstream reads, and the policy had judged a value the upstream never saw (probed
through ``serve``: ``{"temperature": 1e999}`` went upstream as ``"temperature":Infinity``). Now
such a body is 400 ``invalid_json``, and nothing goes upstream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-numbers22"
POLICY = """\
on_http_request:
  - name: clamp
    actions:
      - type: max-tokens
        config: {output: 100, mode: clamp}
"""


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


def _post(gw: Any, raw: bytes) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", content=raw, timeout=30,
                      headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})


OVERFLOWING = ['"max_tokens": 1e309', '"temperature": 1e999', '"temperature": -1E+400', '"logit_bias": {"50256": 1e309}',
               '"metadata": {"x": [1, 2.5e308]}', '"top_p": 17976931348623159e292']


@pytest.mark.parametrize("field", OVERFLOWING)
def test_a_number_past_a_double_is_refused(gw: Any, field: str) -> None:
    before = len(gw.stub.seen)
    r = _post(gw, ('{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], ' + field + "}").encode())
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_json", r.text
    assert len(gw.stub.seen) == before


@pytest.mark.parametrize("field", ['"temperature": 1.7976931348623157e308', '"temperature": 1e-999',
                                   '"temperature": -0.0', '"seed": 123456789012345678901234567890'])
def test_a_large_finite_number_passes(gw: Any, field: str) -> None:
    before = len(gw.stub.seen)
    r = _post(gw, ('{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], ' + field + "}").encode())
    assert r.status_code == 200, r.text
    assert len(gw.stub.seen) == before + 1
    assert json.loads(json.dumps(gw.stub.seen[-1]["body"], allow_nan=False))  # finite, as sent
