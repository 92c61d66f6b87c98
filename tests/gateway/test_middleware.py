"""`PolicyMiddleware` around an in-process ASGI app (no proxy, no keys), and `/metrics`."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware

from .conftest import WAIT, ServerThread
from .stub import StubUpstream

POLICY = '''policy "mw" {
  on request {
    rule "maintenance" {
      when ai.model == "down-1"
      custom-response { status_code: 503, body: "{\\"down\\": true}", headers: { "content-type": "application/json" } }
    }
    rule "model-access" {
      model-access { deny: ["*/banned-*"] }
    }
    rule "rpm" {
      rate-limit { name: "rpm", capacity: 100, rate: 1m }
    }
  }
  on response {
    rule "hide-upstream-errors" {
      when res.status_code == 500
      custom-response { status_code: 502, body: "upstream failed" }
    }
  }
}
'''


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("mw")
    (d / "p.aigw").write_text(POLICY)
    events: list[dict[str, Any]] = []
    engine = ap.Engine(ap.load(d / "p.aigw"))
    app = PolicyMiddleware(StubUpstream(), engine, observer=events.append)
    with ServerThread(app) as server:
        server.events = events  # type: ignore[attr-defined]
        yield server


def next_event(server: Any, before: int) -> dict[str, Any]:
    """The event of the request made after ``before`` events (observers run after the last byte)."""
    deadline = time.monotonic() + WAIT
    while len(server.events) <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.events[before]


def chat(url: str, model: str, **kw: Any) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "x"}]},
                      timeout=5, **kw)


def test_allowed_through_the_app(wrapped: Any) -> None:
    before = len(wrapped.events)
    r = chat(wrapped.url, "gpt-4o")
    assert r.status_code == 200 and r.json()["usage"]["total_tokens"] == 26
    assert r.headers["ratelimit-policy"] == '"rpm";q=100;w=60' and r.headers["ratelimit"].startswith('"rpm";r=')
    ev = next_event(wrapped, before)
    assert ev["verdict"] == "allow" and ev["decision"].usage["total_tokens"] == 26
    assert ev["overhead_ms"] < ev["latency_ms"]


def test_custom_response_as_written(wrapped: Any) -> None:
    r = chat(wrapped.url, "down-1")
    assert r.status_code == 503 and r.json() == {"down": True}
    assert r.headers["content-type"] == "application/json" and r.headers["x-aigw-decision-id"]


def test_model_access_in_provider_shape(wrapped: Any) -> None:
    r = httpx.post(wrapped.url + "/v1/messages", json={"model": "banned-1", "max_tokens": 5,
                                                       "messages": [{"role": "user", "content": "x"}]}, timeout=5)
    assert r.status_code == 403
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    assert body["aigw"]["rule"] == "model-access"


def test_response_phase_replaces_upstream_error(wrapped: Any) -> None:
    r = chat(wrapped.url, "fail-1")
    assert r.status_code == 502 and r.text == "upstream failed"


def test_metrics_and_healthz(gateway: Any) -> None:
    httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": "Bearer sk-gw-research"},
               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, timeout=5)
    deadline = time.monotonic() + WAIT
    while True:
        text = httpx.get(gateway.url + "/metrics", timeout=5).text
        if "gen_ai_client_token_usage_bucket" in text or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert "aigw_requests_total{" in text
    assert 'gen_ai_client_token_usage_bucket{gen_ai_provider_name="openai"' in text
    assert "aigw_policy_overhead_seconds_bucket" in text
    assert httpx.get(gateway.url + "/healthz", timeout=5).json()["status"] == "ok"


def test_otel_span_attributes(wrapped: Any) -> None:
    import opentelemetry as otel
    from aigw_policy.gateway.metrics import summarize

    before = len(wrapped.events)
    chat(wrapped.url, "gpt-4o")
    record = summarize(next_event(wrapped, before))
    assert record["gen_ai.operation.name"] == "chat"
    assert record["gen_ai.provider.name"] == "openai"
    assert record["gen_ai.request.model"] == "gpt-4o"
    assert record["gen_ai.usage.input_tokens"] == 21 and record["gen_ai.usage.output_tokens"] == 5
    assert otel is not None
