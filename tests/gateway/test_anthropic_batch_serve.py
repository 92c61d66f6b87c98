"""An Anthropic Message Batch through ``serve``: its creation is charged its requests' input
estimate, the first read of its results (``GET /v1/messages/batches/{id}/results``, JSONL) their
output at the batch price, once; polls of the batch and a second read charge nothing
(docs/providers.md, "Anthropic's batch results"; the payloads are
tests/providers/data/batches/anthropic_batch_results.json). Before (payloads29) the output was never
charged: every read was 0 tokens in the ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from aigw_policy.limits.model import Charge

from .conftest import policy_gateway, record_of
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-anthropic-batch"
DATA = json.loads((Path(__file__).parents[1] / "providers" / "data" / "batches" / "anthropic_batch_results.json")
                  .read_text())
BATCH = DATA["batch_id"]
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: ["identity.team"]}
"""


def _reply(request: bytes) -> bytes:
    line = request.split(b"\r\n", 1)[0].decode()
    if line.startswith("POST"):
        data, ctype = json.dumps(DATA["created"]).encode(), "application/json"
    elif "/results" in line:
        data = "".join(json.dumps(r) + "\n" for r in DATA["results"] + DATA["other_results"]).encode()
        ctype = "application/x-jsonl"
    else:
        data, ctype = json.dumps({**DATA["created"], "processing_status": "ended"}).encode(), "application/json"
    return f"HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {len(data)}\r\n\r\n".encode() + data


def _used(gw: Any) -> float:
    spec = gw.app.holder.current.compiled.limits["team-tokens"][1].limit.spec
    return gw.app.store.check([Charge(spec, "red", 0)], time.time())[0].used


def test_an_anthropic_batchs_output_is_charged_once_through_serve() -> None:
    with RawUpstream(serve(_reply)) as up, policy_gateway(POLICY, KEY, upstream=up.url, provider="anthropic") as gw:
        calls = [("POST", "/v1/messages/batches", DATA["request"]), ("GET", f"/v1/messages/batches/{BATCH}", None),
                 ("GET", f"/v1/messages/batches/{BATCH}/results", None),
                 ("GET", f"/v1/messages/batches/{BATCH}/results", None)]
        held, output, usd = [], [], []
        for method, path, body in calls:
            answer = httpx.request(method, gw.url + path, json=body, timeout=20,
                                   headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
            assert answer.status_code == 200, answer.text
            rec = record_of(gw.ledger, answer.headers["x-aigw-decision-id"])
            held.append(_used(gw))
            output.append(rec["gen_ai.usage.output_tokens"])
            usd.append(rec.get("aigw.cost_usd"))
        assert output == [0, 0, DATA["output_tokens"], 0]
        assert 0 < held[0] < 100  # the requests' input estimate, not their caps
        assert held[1:] == [held[0], held[0] + DATA["output_tokens"], held[0] + DATA["output_tokens"]]
        assert usd[2] is not None and abs(usd[2] - 70 * 7.5e-6) < 1e-9, usd
