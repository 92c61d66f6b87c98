"""Red-team: the limit store stalls (Redis paused with ``CLIENT PAUSE``) under routed traffic.
A routed request then ends as the policy's ``store_failure`` says (``fail_open``: served;
``fail_closed``: 503), never a 500 from the routing metrics (kept in the same Redis), and the
gateway serves and counts again once the store is back. The Redis is the test's own: pausing
the machine's shared one would stall every other run."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest


from .conftest import ServerThread
from .providers_stub import StubProvider

CLIENT_KEY = "sk-gw-stall"


def _policy(mode: str, url: str) -> str:
    return f"""\
store_failure: {mode}
on_http_request:
  - name: team
    actions:
      - type: usage-cap
        config: {{name: team-tokens, limit: 1000000000, unit: tokens, period: day, bucket_key: ["identity.team"]}}
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: {url}/v1
              api_keys: [{{value: sk-alpha-stall-key, id: a1}}]
              models: [{{id: gpt-4o}}]
"""


@pytest.fixture(scope="module")
def redis_server() -> Any:
    from standalone_redis import own_redis

    server = own_redis()
    yield server
    server.stop()


def _cli(server: Any, *args: str) -> None:
    subprocess.run(["redis-cli", "-p", str(server.port), *args], capture_output=True, check=True)


def _ask(gw: Any, stream: bool = False) -> httpx.Response:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=60,
                      headers={"authorization": f"Bearer {CLIENT_KEY}"})


def _used(gw: Any) -> Any:
    r = httpx.get(f"{gw.url}/v1/aigw/limits", headers={"authorization": f"Bearer {CLIENT_KEY}"}, timeout=60)
    assert r.status_code == 200, r.text
    return next(x["used"] for x in r.json()["limits"] if x["name"] == "team-tokens")


@pytest.mark.parametrize("mode", ["fail_open", "fail_closed"])
def test_a_stalled_store_mid_traffic_ends_routed_requests_as_store_failure_says(
        redis_server: Any, tmp_path: Path, mode: str) -> None:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    redis_server.flush()
    provider = StubProvider("alpha")
    with ServerThread(provider) as upstream:
        (tmp_path / "policy.yaml").write_text(_policy(mode, upstream.url))
        (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {CLIENT_KEY}\n    identity: {{key: k-s, team: stall}}\n")
        app = Gateway(policy=tmp_path / "policy.yaml", keys=load_keys(tmp_path / "keys.yaml"),
                      store=redis_server.url, watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            assert _ask(gw).status_code == 200
            before = _used(gw)
            assert before > 0
            _cli(redis_server, "CLIENT", "PAUSE", "600000", "WRITE")
            try:
                answers = [_ask(gw), _ask(gw, stream=True)]
            finally:
                _cli(redis_server, "CLIENT", "UNPAUSE")
            expected = 200 if mode == "fail_open" else 503
            assert [a.status_code for a in answers] == [expected, expected], [a.text[:200] for a in answers]
            if mode == "fail_closed":
                assert all(a.json()["error"]["aigw"]["code"] for a in answers)
                assert len(provider.seen) == 1  # nothing went upstream while the budget could not be kept
            else:
                assert len(provider.seen) == 3
            # back: served and counted again, once the rest of a probe that timed out is over (serve28;
            # a probe under way when the store came back may time out after it and rest it again)
            for _ in range(12):
                time.sleep(app.store.breaker.resting + 0.05)
                if (back := _ask(gw)).status_code == 200:
                    break
            assert back.status_code == 200, back.text
            assert _used(gw) > before


def test_routing_metrics_on_a_dead_store_drop_records_and_rest() -> None:
    """Nothing listens: the first record is lost with a warning, never raised; while the store
    rests the next ones do not ask it, and a snapshot fails at once (the planner sees none)."""
    from redis_cluster import free_ports

    from aigw_policy.routing.metrics import MetricsUnavailable, RedisRouteMetrics
    from aigw_policy.routing.model import Attempt, AttemptOutcome, KeyRef, ProviderInfo

    (port,) = free_ports(1)
    metrics = RedisRouteMetrics(f"redis://127.0.0.1:{port}/0", timeout=1.0)
    attempt = Attempt(1, ProviderInfo("alpha", base_url="http://x"), "gpt-4o", KeyRef("a1", "sk", 0), "openai")
    calls = []
    client = metrics._sync()
    original = client.pipeline
    client.pipeline = lambda **kw: calls.append(1) or original(**kw)  # type: ignore[method-assign]
    metrics.record(attempt, AttemptOutcome(200, latency_ms=1.0), 1000.0)
    metrics.record(attempt, AttemptOutcome(200, latency_ms=1.0), 1000.0)
    assert calls == [1]  # the second record did not wait on the dead store
    with pytest.raises(MetricsUnavailable):
        metrics.snapshot(1000.0)
    metrics.close()
