"""`serve` with an ai-gateway policy: no --upstream needed, secrets from `--secrets FILE` or
`AIGW_SECRET_*`, and a missing secret stops the start naming vault and name, never a value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

from .routing_env import POLICY

ROUTED = POLICY.replace("ALPHA", "http://127.0.0.1:9").replace("BETA", "http://127.0.0.1:9").replace(
    "GAMMA", "http://127.0.0.1:9")
PLAIN = 'policy "s" { default allow }'
FILE_SECRETS = "alpha: {one: sk-file-one, two: sk-file-two}\ngamma: {key: sk-file-gamma}\n"


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(app=asgi, **kw))
    return seen


def serve(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["serve", *args], env=env)


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def test_routes_without_upstream_from_file_and_env(tmp_path: Path, served: dict[str, Any]) -> None:
    result = serve(["-p", write(tmp_path, "p.yaml", ROUTED), "--secrets", write(tmp_path, "s.yaml", FILE_SECRETS)],
                   env={"AIGW_SECRET_BETA_ONLY": "sk-env-beta"})
    assert result.exit_code == 0, result.output
    assert "3 ai-gateway routes" in result.output
    gw = served["app"]
    assert gw.upstream is None
    assert gw.secrets.resolve("${secrets.get('beta', 'only')}") == "sk-env-beta"
    assert gw.secrets.resolve("${secrets.get('alpha', 'one')}") == "sk-file-one"
    assert "sk-" not in result.output


def test_a_missing_secret_stops_the_start(tmp_path: Path, served: dict[str, Any]) -> None:
    result = serve(["-p", write(tmp_path, "p.yaml", ROUTED), "--secrets", write(tmp_path, "s.yaml", FILE_SECRETS)],
                   env={"AIGW_SECRET_BETA_ONLY": ""})  # empty: not a key
    assert result.exit_code == 2, result.output
    assert "secret `only` of vault `beta` is not set" in result.output
    assert "AIGW_SECRET_BETA_ONLY" in result.output and "[AIGW607]" in result.output
    assert "sk-file" not in result.output and "app" not in served


def test_a_bad_secrets_file_stops_the_start(tmp_path: Path, served: dict[str, Any]) -> None:
    result = serve(["-p", write(tmp_path, "p.yaml", ROUTED), "--secrets", write(tmp_path, "s.yaml", "alpha: [sk-x]\n")])
    assert result.exit_code == 2 and "[AIGW606]" in result.output and "sk-x" not in result.output


def test_without_a_route_upstream_is_needed(tmp_path: Path, served: dict[str, Any]) -> None:
    result = serve(["-p", write(tmp_path, "p.aigw", PLAIN)])
    assert result.exit_code == 2
    assert "--upstream is needed" in result.output and "app" not in served


def test_unrouted_request_without_upstream_is_502(tmp_path: Path) -> None:
    import asyncio

    import httpx

    from aigw_policy.gateway import Gateway

    gw = Gateway(policy=write(tmp_path, "p.aigw", PLAIN), watch=0)

    async def post() -> Any:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw") as client:
            return await client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": []})

    r = asyncio.run(post())
    assert r.status_code == 502 and r.json()["error"]["code"] == "no_upstream"


def test_passthrough_without_keys_file_and_without_provider_keys(tmp_path: Path) -> None:
    import asyncio

    import httpx

    from aigw_policy.gateway import Gateway

    from .conftest import ServerThread
    from .providers_stub import StubProvider

    stub = StubProvider("own")
    with ServerThread(stub) as up:
        policy = ("on_http_request:\n  - actions:\n      - type: ai-gateway\n        config:\n"
                  "          only_allow_configured_providers: true\n"
                  f"          providers: [{{id: own, base_url: '{up.url}/v1', models: [{{id: gpt-4o}}]}}]\n")
        gw = Gateway(policy=write(tmp_path, "p.yaml", policy), watch=0)  # no keys: nobody authenticated

        async def post(auth: str) -> Any:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw") as client:
                r = await client.post("/v1/chat/completions", headers={"authorization": auth},
                                      json={"model": "gpt-4o", "messages": []})
            await gw.router.aclose()
            return r

        r = asyncio.run(post("Bearer sk-client-own-provider-key"))
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "own:gpt-4o"
    assert stub.seen[-1]["headers"]["authorization"] == "Bearer sk-client-own-provider-key"


def test_a_reload_that_needs_a_missing_secret_keeps_the_running_policy(tmp_path: Path, caplog: Any) -> None:
    import logging

    from aigw_policy.gateway import Gateway
    from aigw_policy.routing.secrets import Secrets

    path = write(tmp_path, "p.yaml", ROUTED)
    secrets = Secrets({"alpha": {"one": "sk-1", "two": "sk-2"}, "gamma": {"key": "sk-3"}, "beta": {"only": "sk-4"}},
                      env={})
    gw = Gateway(policy=path, watch=0, secrets=secrets)
    version = gw.holder.version
    (tmp_path / "p.yaml").write_text(ROUTED.replace("'beta', 'only'", "'beta', 'gone'"))
    with caplog.at_level(logging.ERROR, logger="aigw_policy.gateway"):
        assert gw.holder.reload() is False
    assert gw.holder.version == version
    assert "secret `gone` of vault `beta` is not set" in caplog.text
    assert not any(v in caplog.text for v in ("sk-1", "sk-2", "sk-3", "sk-4"))
