"""How the gateway words its own refusals: an exhausted budget in each provider's quota
vocabulary (not as a rate limit), and a failed limit store without its address or error."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from aigw_policy.gateway import Gateway

from .conftest import ServerThread
from .stub import StubUpstream

POLICY = '''policy "denials" {
  default allow
  on request {
    rule "budget" {
      when "budget" in req.headers[?"x-case"].orValue([])
      usage-cap { name: "daily-budget", limit: 1, unit: "requests", period: day }
    }
    rule "rpm" {
      when "rate" in req.headers[?"x-case"].orValue([])
      rate-limit { name: "rpm", capacity: 1, rate: 1m }
    }
  }
}
'''
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("denials")
    (d / "p.aigw").write_text(POLICY)
    with ServerThread(StubUpstream()) as up:
        ok = Gateway(policy=d / "p.aigw", upstream=up.url, store="memory:", timeout=5.0, watch=0)
        down = Gateway(policy=d / "p.aigw", upstream=up.url, store="redis://:s3cret-pw@127.0.0.1:1/0",
                       timeout=5.0, watch=0)
        with ServerThread(ok) as gw, ServerThread(down) as gw_down:
            yield {"gateway": gw, "down": gw_down}


def twice(send: Any) -> Any:
    """The second of two calls: the first spends the budget (or the rate)."""
    send()
    return send()


def test_openai_budget_is_insufficient_quota_and_rate_stays_a_rate_limit(servers: Any) -> None:
    client = openai.OpenAI(base_url=servers["gateway"].url + "/v1", api_key="x", max_retries=0, timeout=10)
    for case, kind in (("budget", "insufficient_quota"), ("rate", "rate_limit_exceeded")):
        with pytest.raises(openai.RateLimitError) as caught:
            twice(lambda case=case: client.chat.completions.create(model=f"gpt-4o-{case}", messages=MSG,
                                                                   extra_headers={"x-case": case}))
        err = caught.value
        assert err.status_code == 429 and err.code == kind
        assert err.body["type"] == ("insufficient_quota" if case == "budget" else "rate_limit_error")
        assert (err.response.headers.get("x-should-retry") == "false") == (case == "budget")
        aigw = err.body["aigw"]  # the SDK's own error body carries the machine-readable object
        assert aigw["code"] == ("usage_cap_exhausted" if case == "budget" else "rate_limited")
        assert aigw["limit"] and aigw["resets_at"].endswith("Z") and aigw["retry_after"] >= 1
        assert aigw["decision_id"] == err.response.headers["x-aigw-decision-id"]
        assert int(err.response.headers["retry-after"]) == aigw["retry_after"]


def test_anthropic_budget_is_a_billing_error(servers: Any) -> None:
    client = anthropic.Anthropic(base_url=servers["gateway"].url, api_key="x", max_retries=0, timeout=10)

    def call(case: str) -> Any:
        return client.messages.create(model=f"claude-{case}", max_tokens=10, messages=MSG,
                                      extra_headers={"x-case": case})

    with pytest.raises(anthropic.APIStatusError) as caught:
        twice(lambda: call("budget"))
    assert caught.value.status_code == 402 and not isinstance(caught.value, anthropic.RateLimitError)
    assert caught.value.body["error"]["type"] == "billing_error"
    assert "daily-budget" in caught.value.message
    assert caught.value.body["aigw"]["code"] == "usage_cap_exhausted"
    assert caught.value.body["aigw"]["limit"] and caught.value.body["aigw"]["resets_at"]
    with pytest.raises(anthropic.RateLimitError) as rated:
        twice(lambda: call("rate"))
    assert rated.value.body["error"]["type"] == "rate_limit_error"


def test_gemini_budget_carries_a_quota_failure(servers: Any) -> None:
    url = servers["gateway"].url + "/v1beta/models/gemini-2.5-flash:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    for case in ("budget", "rate"):
        r = twice(lambda case=case: httpx.post(url, json=body, headers={"x-case": case}, timeout=10))
        error = r.json()["error"]
        assert r.status_code == 429 and error["status"] == "RESOURCE_EXHAUSTED"
        details = [d["@type"] for d in error.get("details", [])]
        assert details == (["type.googleapis.com/google.rpc.QuotaFailure"] if case == "budget" else [])
        assert r.json()["aigw"]["code"] == ("usage_cap_exhausted" if case == "budget" else "rate_limited")
        assert r.headers["retry-after"] == str(r.json()["aigw"]["retry_after"])


def test_a_failed_store_is_not_described_to_clients(servers: Any) -> None:
    client = openai.OpenAI(base_url=servers["down"].url + "/v1", api_key="x", max_retries=0, timeout=10)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers={"x-case": "rate"})
    err = caught.value
    assert err.status_code == 503
    text = err.response.text
    assert "limit store unavailable" in text
    assert err.body["aigw"]["code"] == "store_unavailable" and err.body["aigw"]["limit"] is None
    assert err.response.headers["retry-after"] == "1"  # as a ledger that fails: retried soon, not in hours
    for secret in ("127.0.0.1", ":1/", "s3cret", "redis", "Connection refused", "Error 111"):
        assert secret not in text, secret
