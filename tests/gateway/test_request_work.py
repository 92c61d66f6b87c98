"""Work a served request must not repeat: bounded by counts, never by time.

A request through the whole ``serve`` app (keys, a policy with limits, Prometheus metrics, a
priced answer) runs no import statement of a package (each one is a trip through
``importlib._bootstrap._handle_fromlist``, ~1 us: they were in the answer's decoding, the
price lookup and the OpenTelemetry observer), and the Prometheus tables count each request
once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.gateway import Gateway, load_keys

pytest.importorskip("prometheus_client")

POLICY = """\
policy "work" {
  on request {
    rule "team-rpm" {
      rate-limit { name: "team-rpm", capacity: 1_000_000, rate: 60s, bucket_key: [identity.team] }
    }
    rule "team-tpm" {
      token-limit { name: "team-tpm", capacity: 1_000_000_000, rate: 60s, bucket_key: [identity.team] }
    }
  }
}
"""
BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}).encode()
ANSWER = json.dumps({"id": "c1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}).encode()


async def _upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]})
    await send({"type": "http.response.body", "body": ANSWER, "more_body": False})


async def _one(app: Any) -> int:
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"gw.test"), (b"content-type", b"application/json"),
               (b"content-length", str(len(BODY)).encode()), (b"authorization", b"Bearer sk-work")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8080)}
    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.fixture
def app(tmp_path: Path) -> Any:
    (tmp_path / "policy.aigw").write_text(POLICY)
    (tmp_path / "keys.yaml").write_text("keys:\n  - key: sk-work\n    identity: {key: k1, team: research}\n")
    gw = Gateway(policy=tmp_path / "policy.aigw", upstream="http://127.0.0.1:9",
                 keys=load_keys(tmp_path / "keys.yaml"), watch=0, sighup=False)
    gw.proxy = gw.middleware.app = _upstream
    return gw


def test_a_served_request_runs_no_package_import_statement(app: Any) -> None:
    async def run() -> list[str]:
        for _ in range(3):  # warm: first uses may import (genai-prices' catalog, a lazy backend)
            assert await _one(app) == 200
        calls: list[str] = []

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event == "call" and frame.f_code.co_name == "_handle_fromlist":
                caller = frame.f_back
                calls.append(f"{caller.f_code.co_filename}:{caller.f_lineno}" if caller else "?")

        sys.setprofile(profile)
        try:
            for _ in range(5):
                assert await _one(app) == 200
        finally:
            sys.setprofile(None)
        return calls

    assert asyncio.run(run()) == []


def test_the_prometheus_tables_count_each_request_once(app: Any) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    async def run() -> None:
        for _ in range(7):
            assert await _one(app) == 200

    asyncio.run(run())
    body, _ctype = app.observer.metrics_text()
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    requests = [s for s in families["aigw_requests"].samples if s.name == "aigw_requests_total"]
    assert [(s.labels["verdict"], s.labels["status_code"], s.labels["model"], s.value) for s in requests] == [
        ("allow", "200", "gpt-4o", 7.0)]
    latency = {s.name: s for s in families["aigw_request_duration_seconds"].samples if "le" not in s.labels}
    assert latency["aigw_request_duration_seconds_count"].value == 7.0
    buckets = [s for s in families["gen_ai_client_token_usage"].samples
               if s.name.endswith("_bucket") and s.labels["gen_ai_token_type"] == "input"]
    by_bound = {s.labels["le"]: s.value for s in buckets}
    assert by_bound["4.0"] == 0.0 and by_bound["16.0"] == 7.0 and by_bound["+Inf"] == 7.0  # 9 input tokens each
    outcomes = {(s.labels["limit"], s.labels["outcome"]): s.value
                for s in families["aigw_limit_outcomes"].samples if s.name == "aigw_limit_outcomes_total"}
    assert outcomes == {("team-rpm", "ok"): 7.0, ("team-tpm", "ok"): 7.0}
