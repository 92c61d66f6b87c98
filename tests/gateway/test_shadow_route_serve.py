"""Shadow through `serve`, with the openai SDK, for the two late refusals: an ``ai-gateway``
route not enforced that would refuse (the client is served by the route without its filter),
and an unenforced limit found over only when the answer's usage is counted. Both land in the
ledger and in ``aigw_shadow_would_deny_total``; the client sees a normal answer."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from .conftest import ServerThread, record_of
from .providers_stub import OPENAI_USAGE, StubProvider

MSG = [{"role": "user", "content": "hi"}]
POLICY = """\
on_http_request:
  - name: tpm
    actions:
      - type: token-limit
        config: {name: key-tpm, capacity: CAPACITY, rate: 1h, bucket_key: [identity.key], enforce: false}
  - name: trial
    expressions: ["'x-trial' in req.headers"]
    actions:
      - type: ai-gateway
        config:
          enforce: false
          max_input_tokens: 1
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: ALPHA/v1
              models: [{id: gpt-4o}]
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: ALPHA/v1
              models: [{id: gpt-4o}]
"""
KEYS = "keys:\n  - key: sk-gw-shadow\n    identity: {key: k-shadow, team: s}\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys

    alpha = StubProvider("alpha")
    with ServerThread(alpha) as upstream:
        d = tmp_path_factory.mktemp("shadow-route")
        # the answer's 14 tokens are over; the request's estimate (1 output token asked) is not
        (d / "policy.yaml").write_text(POLICY.replace("ALPHA", upstream.url)
                                       .replace("CAPACITY", str(OPENAI_USAGE["total_tokens"] - 2)))
        (d / "keys.yaml").write_text(KEYS)
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), store="memory:",
                      ledger=f"jsonl:{d / 'usage.jsonl'}", watch=0)
        with ServerThread(app) as server:
            server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
            yield server


def test_a_route_on_trial_serves_and_the_limit_over_at_settle_is_told(served: Any) -> None:
    client = openai.OpenAI(base_url=served.url + "/v1", api_key="sk-gw-shadow", max_retries=0, timeout=20)
    first = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, max_tokens=1)
    assert first.status_code == 200 and first.parse().choices[0].message.content == "alpha:gpt-4o"
    rec = record_of(served.ledger, first.headers["x-aigw-decision-id"])
    would = rec["aigw.would_deny"]
    assert (rec["aigw.verdict"], would["status"], would["rule"]) == ("allow", 429, "tpm")
    assert "once this request's answer was counted" in would["reason"]
    trial = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, max_tokens=1,
                                                             extra_headers={"x-trial": "1"})
    assert trial.status_code == 200 and trial.parse().choices[0].message.content == "alpha:gpt-4o"
    rec = record_of(served.ledger, trial.headers["x-aigw-decision-id"])
    assert rec["aigw.would_deny"]["status"] == 429  # the limit, over since the first request, came first
    metrics = httpx.get(served.url + "/metrics").text
    assert 'aigw_shadow_would_deny_total{rule="tpm",status_code="429"} 2.0' in metrics


def test_the_route_on_trial_alone(served: Any, tmp_path: Any) -> None:
    """The same route, the limit out of the way: its 413 is what would_deny says."""
    from aigw_policy.gateway import Gateway, load_keys

    policy = tmp_path / "policy.yaml"
    text = (served.ledger.parent / "policy.yaml").read_text()
    policy.write_text(text.replace("enforce: false}", "enforce: false}\n    expressions: ['false']", 1))
    app = Gateway(policy=policy, keys=load_keys(served.ledger.parent / "keys.yaml"), store="memory:",
                  ledger=f"jsonl:{tmp_path / 'usage.jsonl'}", watch=0)
    with ServerThread(app) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-gw-shadow", max_retries=0, timeout=20)
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG,
                                                               extra_headers={"x-trial": "1"})
        assert raw.status_code == 200 and raw.parse().choices[0].message.content == "alpha:gpt-4o"
        rec = record_of(tmp_path / "usage.jsonl", raw.headers["x-aigw-decision-id"])
        assert rec["aigw.would_deny"]["status"] == 413 and rec["aigw.would_deny"]["rule"] == "trial"
        assert rec["aigw.attempts"] == 1
        metrics = httpx.get(gw.url + "/metrics").text
        assert 'aigw_shadow_would_deny_total{rule="trial",status_code="413"} 1.0' in metrics
