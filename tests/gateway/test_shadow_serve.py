"""Shadow mode through a served gateway: the client gets its answer; the decision log, the
ledger, the metrics and GET /v1/aigw/limits say what would have been denied."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import httpx
import openai
import pytest

from .conftest import WAIT, ServerThread, record_of

MSG = [{"role": "user", "content": "hi"}]
POLICY = '''policy "shadow" {
  on request {
    rule "no-gpt-4.1" {
      mode shadow
      when ai.model == "gpt-4.1"
      deny 403 "gpt-4.1 is going away"
    }
    rule "rpm" {
      mode shadow
      rate-limit { name: "rpm", capacity: 1, rate: 1h, bucket_key: [identity.key] }
    }
    rule "enforced" {
      when ai.model == "gpt-3.5-turbo"
      deny 403 "retired"
    }
  }
}
'''
KEYS = '''keys:
  - key: sk-shadow
    identity: {key: k-shadow, team: s}
'''


@pytest.fixture(scope="module")
def shadow_gw(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys

    d = tmp_path_factory.mktemp("shadow")
    (d / "policy.aigw").write_text(POLICY)
    (d / "keys.yaml").write_text(KEYS)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.addHandler(handler)
    decisions.setLevel(logging.INFO)
    app = Gateway(policy=d / "policy.aigw", upstream=stub.url, keys=load_keys(d / "keys.yaml"), store="memory:",
                  ledger=f"jsonl:{d / 'usage.jsonl'}", watch=0)
    with ServerThread(app) as server:
        server.log = log  # type: ignore[attr-defined]
        server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
        yield server
    decisions.removeHandler(handler)


def log_line(gw: Any, rid: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        for line in gw.log.getvalue().splitlines():
            found = json.loads(line)
            if found.get("aigw.request.id") == rid:
                return found
        assert time.monotonic() < deadline, f"no decision log line for {rid}"
        time.sleep(0.02)


def test_shadow_lets_through_and_says_what_it_would_have_done(shadow_gw: Any) -> None:
    c = openai.OpenAI(base_url=shadow_gw.url + "/v1", api_key="sk-shadow", max_retries=0, timeout=10)
    first = c.chat.completions.with_raw_response.create(model="gpt-4.1", messages=MSG)
    assert first.status_code == 200 and first.parse().choices
    rid = first.headers["x-aigw-decision-id"]
    would = {"status": 403, "reason": "gpt-4.1 is going away", "rule": "no-gpt-4.1"}
    rec = record_of(shadow_gw.ledger, rid)
    assert rec["aigw.verdict"] == "allow" and rec["aigw.would_deny"] == would
    assert log_line(shadow_gw, rid)["aigw.would_deny"] == would
    # the shadow limit is spent (capacity 1): the next request would be limited, and goes through
    second = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    assert second.status_code == 200
    rec2 = record_of(shadow_gw.ledger, second.headers["x-aigw-decision-id"])
    assert rec2["aigw.would_deny"]["status"] == 429 and rec2["aigw.would_deny"]["rule"] == "rpm"
    assert "retry-after" not in second.headers  # nothing was refused
    # the limits endpoint shows the shadow limit as it stands, not enforced
    view = httpx.get(shadow_gw.url + "/v1/aigw/limits", headers={"authorization": "Bearer sk-shadow"}).json()
    (rpm,) = [v for v in view["limits"] if v["name"] == "rpm"]
    assert rpm["enforce"] is False and rpm["outcome"] == "limited"
    metrics = httpx.get(shadow_gw.url + "/metrics").text
    assert 'aigw_shadow_would_deny_total{rule="no-gpt-4.1",status_code="403"} 1.0' in metrics
    assert 'aigw_shadow_would_deny_total{rule="rpm",status_code="429"}' in metrics


def test_an_enforced_rule_still_denies(shadow_gw: Any) -> None:
    c = openai.OpenAI(base_url=shadow_gw.url + "/v1", api_key="sk-shadow", max_retries=0, timeout=10)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert caught.value.body["aigw"]["rule"] == "enforced"
