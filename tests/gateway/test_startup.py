"""`serve` start-up: the store and the ledger are checked before listening (exit 2 naming
the one that fails), URL passwords are never printed, every option can come from the
environment, and `--prices` feeds the gateway's price book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.redact import redact, scrub

POLICY = 'policy "s" { default allow }'


@pytest.fixture()
def policy(tmp_path: Path) -> Path:
    (tmp_path / "p.aigw").write_text(POLICY)
    return tmp_path / "p.aigw"


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """uvicorn.run replaced: what serve would have served, and how."""
    import uvicorn

    seen: dict[str, Any] = {}

    def run(asgi: Any, **kwargs: Any) -> None:
        seen["app"] = asgi
        seen.update(kwargs)

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


def serve(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["serve", *args], env=env)


def test_an_unreachable_store_exits_2_naming_it_without_its_password(policy: Path, served: dict[str, Any]) -> None:
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9", "--store", "redis://:s3cret@127.0.0.1:1/0"])
    assert result.exit_code == 2, result.output
    assert "limit store `redis://:***@127.0.0.1:1/0` is unreachable" in result.output
    assert "s3cret" not in result.output
    assert "app" not in served  # it never listened


def test_an_unreachable_ledger_exits_2_naming_it_without_its_password(policy: Path, served: dict[str, Any]) -> None:
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9",
                    "--ledger", "postgresql://aigw:pg-s3cret@127.0.0.1:1/usage"])
    assert result.exit_code == 2, result.output
    assert "usage ledger `postgresql://aigw:***@127.0.0.1:1/usage` cannot be opened" in result.output
    assert "pg-s3cret" not in result.output and "app" not in served


@pytest.mark.parametrize(("option", "url"), [
    ("--store", "redsi://:p%40ss@127.0.0.1:6379"),  # a misspelled scheme: the message quotes the URL
    ("--ledger", "postgrse://u:p%40ss@127.0.0.1/db"),
])
def test_a_bad_url_is_reported_without_its_password(policy: Path, served: dict[str, Any], option: str,
                                                    url: str) -> None:
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9", option, url])
    assert result.exit_code == 2, result.output
    assert "p%40ss" not in result.output and "p@ss" not in result.output
    assert "***" in result.output


def test_the_banner_prints_no_password(policy: Path, served: dict[str, Any], tmp_path: Path) -> None:
    result = serve(["-p", str(policy), "--upstream", "http://user:up-s3cret@127.0.0.1:9",
                    "--ledger", f"sqlite:{tmp_path / 'u.db'}"])
    assert result.exit_code == 0, result.output
    assert "http://user:***@127.0.0.1:9" in result.output and "up-s3cret" not in result.output
    served["app"].ledger.close()


def test_every_option_can_come_from_the_environment(policy: Path, served: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text("keys:\n  - key: sk-1\n    identity: {key: k1}\n"
                                        "upstream_auth: {anthropic: {x-api-key: up}}\n")
    (tmp_path / "prices.json").write_text(json.dumps({"models": {"house-model": {"input": 1, "output": 2}}}))
    env = {"AIGW_POLICY": str(policy), "AIGW_UPSTREAM": "http://127.0.0.1:9", "AIGW_KEYS": str(tmp_path / "keys.yaml"),
           "AIGW_STORE": f"sqlite:{tmp_path / 'limits.db'}", "AIGW_LEDGER": f"jsonl:{tmp_path / 'u.jsonl'}",
           "AIGW_PRICES": str(tmp_path / "prices.json"), "AIGW_HOST": "127.0.0.2", "AIGW_PORT": "18081",
           "AIGW_PROVIDER": "anthropic", "AIGW_TIMEOUT": "7.5", "AIGW_WATCH": "0", "AIGW_LOG_LEVEL": "warning",
           "AIGW_DECISION_LOG": "false"}
    result = serve([], env=env)
    assert result.exit_code == 0, result.output
    gw = served["app"]
    assert (served["host"], served["port"]) == ("127.0.0.2", 18081)
    assert type(gw.store).__name__ == "SQLiteStore" and gw.ledger is not None
    assert gw.proxy.upstream == "http://127.0.0.1:9" and gw.proxy.timeout == 7.5 and gw.watch == 0
    assert gw.proxy.provider_api == "anthropic" and gw.middleware.provider == "anthropic"
    assert len(gw.middleware.keys) == 1
    from aigw_policy.providers import Usage

    cost = gw.holder.current.prices.cost("openai", "house-model", Usage.of(1_000_000, 1_000_000))
    assert (cost.source, cost.as_float()) == ("override", 3.0)
    import logging

    assert logging.getLogger("aigw_policy.gateway").level == logging.WARNING
    assert logging.getLogger("aigw_policy.gateway.decisions").level == logging.CRITICAL
    gw.ledger.close()
    help_text = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    for name in env:
        assert name in help_text, name


def test_a_bad_price_file_exits_2(policy: Path, served: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text("{not json")
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9", "--prices", str(tmp_path / "prices.json")])
    assert result.exit_code == 2 and "bad --prices: price file" in result.output


def test_redact_and_scrub() -> None:
    assert redact("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("postgresql://u:pw@h/db?sslmode=require") == "postgresql://u:***@h/db?sslmode=require"
    assert redact("redis://u@h") == "redis://u@h" and redact("memory:") == "memory:"
    assert redact("redis://h/0?password=pw&db=1") == "redis://h/0?password=***&db=1"
    assert redact("postgresql://h/db?sslmode=require&PassWord=x%20y") == "postgresql://h/db?sslmode=require&PassWord=***"
    assert redact("http://[::1") == "http://[::1"  # unparseable: as is (no password can be found in it)
    assert redact("redis://:a@cache:6379/0") == "redis://:***@cache:6379/0"  # the password only, not every `a`
    assert redact("redis:/:hunter2@127.0.0.1:1") == "redis:***@127.0.0.1:1"  # malformed: still no password
    assert redact("redis://u:p@h/0?password=q&db=1") == "redis://u:***@h/0?password=***&db=1"
    assert scrub("cannot reach redis://:p%40ss@h (p@ss)", ["redis://:p%40ss@h"]) == "cannot reach redis://:***@h (***)"


def test_serve_leaves_no_log_handler_behind(policy: Path, served: dict[str, Any]) -> None:
    """The stderr handler serve adds goes when it returns: a stream an embedding caller or a
    test runner closes afterwards is never written to ("I/O operation on closed file")."""
    import logging

    gateway = logging.getLogger("aigw_policy.gateway")
    before = list(gateway.handlers)
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert "app" in served
    assert gateway.handlers == before and gateway.propagate


def test_serve_freezes_what_start_up_built_while_it_serves(policy: Path, served: dict[str, Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up objects are out of the collector's way while uvicorn runs (gc.freeze), and
    back in it when serve returns (a caller's process is left as it was)."""
    import gc

    import uvicorn

    during: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: during.append(gc.get_freeze_count()))
    assert gc.get_freeze_count() == 0
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert during and during[0] > 10_000
    assert gc.get_freeze_count() == 0


def test_serve_loads_the_price_catalog_before_it_serves(policy: Path, served: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """genai-prices' catalog is loaded at start-up (and frozen with the rest), not by the first
    priced request: that request cost ~50 ms more than the others."""
    import uvicorn

    from aigw_policy.providers.prices import LibraryPrices

    order: list[str] = []
    real = LibraryPrices.warm
    monkeypatch.setattr(LibraryPrices, "warm", lambda self: (order.append("warm"), real(self))[1])
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: order.append("run"))
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert order == ["warm", "run"]


def test_a_price_book_without_the_library_warms_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw_policy.providers.prices import LibraryPrices, PriceBook

    called: list[bool] = []
    monkeypatch.setattr(LibraryPrices, "warm", lambda self: called.append(True))
    PriceBook(use_library=False).warm()
    assert called == []
    PriceBook().warm()
    assert called == [True]


def test_serve_does_not_name_its_server(policy: Path, served: dict[str, Any]) -> None:
    """No `server: uvicorn` on every answer (the upstream's `server` is not passed on either:
    tests/gateway/test_upstream_state.py)."""
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert served["server_header"] is False


def test_serve_takes_over_no_websocket_upgrade(policy: Path, served: dict[str, Any]) -> None:
    """uvicorn hands an `Upgrade: websocket` request to its own WebSocket protocol whenever
    `websockets` or `wsproto` is installed (google-genai pulls `websockets` in): the request then
    never reaches the gateway's refusal of upgrades (tests/gateway/test_redteam_upgrade.py, whose
    server runs with the same setting). serve switches uvicorn's WebSocket support off."""
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert served["ws"] == "none"
