"""The routing gateway of the tests: three stub providers on loopback (``alpha`` and
``beta`` speak OpenAI chat completions, ``gamma`` Anthropic messages), a policy that routes
with an ``ai-gateway`` action over them, keys whose values are ``${secrets.get(...)}``
resolved from a secrets file and the environment, and a JSONL ledger."""

from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from aigw_policy.limits.model import Charge

from .conftest import ServerThread, record_of
from .providers_stub import StubProvider

SECRETS = {"alpha": {"one": "sk-alpha-ONE-secret", "two": "sk-alpha-TWO-secret"},
           "gamma": {"key": "sk-gamma-KEY-secret"}}
ENV_SECRETS = {"AIGW_SECRET_BETA_ONLY": "sk-beta-ENV-secret"}
ALL_SECRETS = [v for names in SECRETS.values() for v in names.values()] + list(ENV_SECRETS.values())
GATEWAY_KEY = "sk-gw-route-client"

POLICY = """\
on_http_request:
  - name: budgets
    actions:
      - type: usage-cap
        config: {name: model-tokens, limit: 1000000000, unit: tokens, period: day, bucket_key: ["ai.model"]}
  - name: tight
    expressions: ["'x-tight' in req.headers"]
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 800ms
          total_timeout: 1200ms
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: ALPHA/v1
              api_keys: [{value: "${secrets.get('alpha', 'one')}", id: a1}, {value: "${secrets.get('alpha', 'two')}", id: a2}]
              models: [{id: gpt-4o}]
            - id: beta
              base_url: BETA/v1
              api_keys: [{value: "${secrets.get('beta', 'only')}", id: b1}]
              models: [{id: gpt-4o}]
  - name: anthropic
    expressions: ["req.url.path == '/v1/messages'"]
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 2s
          only_allow_configured_providers: true
          providers:
            - id: gamma
              base_url: GAMMA
              supported_api_surfaces: [{format: anthropic}]
              api_keys: [{value: "${secrets.get('gamma', 'key')}", id: g1}]
              models: [{id: claude-sonnet-4}, {id: claude-haiku-4}]
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 2s
          only_allow_configured_providers: true
          providers:
            - id: alpha
              base_url: ALPHA/v1
              api_keys: [{value: "${secrets.get('alpha', 'one')}", id: a1}, {value: "${secrets.get('alpha', 'two')}", id: a2}]
              models: [{id: gpt-4o}, {id: gpt-4o-mini}]
            - id: beta
              base_url: BETA/v1
              api_keys: [{value: "${secrets.get('beta', 'only')}", id: b1}]
              models: [{id: gpt-4o}]
"""

KEYS = f"""keys:
  - key: {GATEWAY_KEY}
    identity: {{key: k-route, user: rita, team: routing}}
"""


def write_files(d: Path, urls: dict[str, str]) -> dict[str, Path]:
    policy = POLICY.replace("ALPHA", urls["alpha"]).replace("BETA", urls["beta"]).replace("GAMMA", urls["gamma"])
    (d / "policy.yaml").write_text(policy)
    (d / "keys.yaml").write_text(KEYS)
    import yaml

    (d / "secrets.yaml").write_text(yaml.safe_dump(SECRETS))
    return {"policy": d / "policy.yaml", "keys": d / "keys.yaml", "secrets": d / "secrets.yaml",
            "ledger": d / "usage.jsonl"}


def grep_secrets(*texts: Any) -> list[str]:
    """The secrets (and the gateway key) found in any of ``texts``."""
    blob = "\n".join(t if isinstance(t, str) else repr(t) for t in texts)
    return [s for s in ALL_SECRETS if s in blob]


@pytest.fixture(scope="module")
def stubs() -> Any:
    apps = {name: StubProvider(name) for name in ("alpha", "beta", "gamma")}
    servers = {name: ServerThread(app) for name, app in apps.items()}
    for s in servers.values():
        s.__enter__()
    yield {name: (apps[name], servers[name].url) for name in apps}
    for s in servers.values():
        s.__exit__(None, None, None)


@pytest.fixture(scope="module")
def routed(stubs: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.routing.secrets import load_secrets

    files = write_files(tmp_path_factory.mktemp("route"), {n: url for n, (_, url) in stubs.items()})
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.addHandler(handler)
    decisions.setLevel(logging.INFO)
    app = Gateway(policy=files["policy"], keys=load_keys(files["keys"]), store="memory:",
                  ledger=f"jsonl:{files['ledger']}", watch=0,
                  secrets=load_secrets(files["secrets"], env={**os.environ, **ENV_SECRETS}))
    from aigw_policy.gateway.server import header_timeout_protocol

    with ServerThread(app, http=header_timeout_protocol(10.0)) as server:  # serve's own protocol
        server.app = app  # type: ignore[attr-defined]
        server.files = files  # type: ignore[attr-defined]
        server.log = log  # type: ignore[attr-defined]
        yield server
    decisions.removeHandler(handler)


@pytest.fixture(autouse=True)
def fresh(stubs: Any) -> None:
    for app, _ in stubs.values():
        app.reset()


def oai(gw: Any, **kw: Any) -> Any:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=20, **kw)


def record(gw: Any, rid: str) -> dict[str, Any]:
    return record_of(gw.files["ledger"], rid)


def model_used(gw: Any, model: str) -> float:
    """What the `model-tokens` cap holds for ``model`` now (a calendar cap: it does not decay)."""
    engine = gw.app.holder.current
    spec = engine.compiled.limits["model-tokens"][1].limit.spec
    return engine.store.check([Charge(spec, model, 0)], time.time())[0].used


def log_line(gw: Any, rid: str) -> dict[str, Any]:
    """The decision log line of request ``rid`` (written just after its answer: waited for)."""
    import json

    from .conftest import WAIT

    deadline = time.monotonic() + WAIT
    while True:
        for line in gw.log.getvalue().splitlines():
            found = json.loads(line)
            if found.get("aigw.request.id") == rid:
                return found
        assert time.monotonic() < deadline, f"no decision log line for {rid}"
        time.sleep(0.02)


def seen(stubs: Any, name: str) -> list[tuple[str, str]]:
    return [(s["model"], s["key"]) for s in stubs[name][0].seen]
