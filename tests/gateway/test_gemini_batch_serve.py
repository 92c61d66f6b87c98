"""A Gemini inline batch through ``serve``: its creation is charged its requests' input, and
the first read that finds it ended its answers' output, once (docs/providers.md, "Batches";
the payloads are tests/providers/data/batches/gemini_inline_batches.json). Before
(payloads25), the output was never charged: every read was 0 tokens in the ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from aigw_policy.limits.model import Charge

from .conftest import policy_gateway, record_of
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-gemini-batch"
DATA = json.loads((Path(__file__).parents[1] / "providers" / "data" / "batches" / "gemini_inline_batches.json")
                  .read_text())
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: ["identity.team"]}
"""
CREATE = {"batch": {"display_name": "otters", "input_config": {"requests": {"requests": [
    {"request": {"contents": [{"parts": [{"text": "Where do otters live?"}], "role": "user"}],
                 "generationConfig": {"maxOutputTokens": 400}}, "metadata": {"key": "request-1"}}]}}}}


def _reply(request: bytes) -> bytes:
    line = request.split(b"\r\n", 1)[0].decode()
    answer = DATA["created"] if line.startswith("POST") else DATA["succeeded"]
    data = json.dumps(answer).encode()
    return (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data


def _used(gw: Any) -> float:
    spec = gw.app.holder.current.compiled.limits["team-tokens"][1].limit.spec
    return gw.app.store.check([Charge(spec, "red", 0)], time.time())[0].used


def test_a_gemini_batch_output_is_charged_once_through_serve() -> None:
    with RawUpstream(serve(_reply)) as up, policy_gateway(POLICY, KEY, upstream=up.url, provider="gemini") as gw:
        calls = [("POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent", CREATE),
                 ("GET", "/v1beta/batches/123456", None), ("GET", "/v1beta/batches/123456", None)]
        held, output = [], []
        for method, path, body in calls:
            answer = httpx.request(method, gw.url + path, json=body, timeout=20,
                                   headers={"authorization": f"Bearer {KEY}"})
            assert answer.status_code == 200, answer.text
            rec = record_of(gw.ledger, answer.headers["x-aigw-decision-id"])
            held.append(_used(gw))
            output.append(rec["gen_ai.usage.output_tokens"])
        assert output == [0, 650, 0]
        assert 0 < held[0] < 100  # the request's input estimate, not its cap
        assert held[1:] == [held[0] + 650] * 2
