"""``--prices FILE`` on explain and replay: the same price overrides as the gateway's."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aigw_policy.cli import app

runner = CliRunner()
POLICY = "on_http_request:\n  - actions: [{type: log, config: {metadata: {m: '${ai.model}'}}}]\n"
REQUEST = {
    "now": "2026-12-01T00:00:00Z",
    "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                "headers": {"content-type": "application/json"},
                "body": {"model": "house-model", "messages": [{"role": "user", "content": "hi"}]}},
    "response": {"status_code": 200, "headers": {},
                 "body": {"model": "house-model", "usage": {"prompt_tokens": 1000000, "completion_tokens": 0}}},
}


def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    policy, request, prices = tmp_path / "p.yaml", tmp_path / "r.json", tmp_path / "prices.yaml"
    policy.write_text(POLICY)
    request.write_text(json.dumps(REQUEST))
    prices.write_text("models:\n  house-model: {input: 2.5, output: 10}\n")
    return policy, request, prices


def test_explain_with_prices(tmp_path: Path) -> None:
    policy, request, prices = files(tmp_path)
    plain = runner.invoke(app, ["explain", str(request), "-p", str(policy), "-f", "json"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.output)["cost_usd"] is None
    priced = runner.invoke(app, ["explain", str(request), "-p", str(policy), "-f", "json", "--prices", str(prices)])
    assert priced.exit_code == 0, priced.output
    assert json.loads(priced.output)["cost_usd"] == 2.5


def test_replay_with_prices(tmp_path: Path) -> None:
    policy, request, prices = files(tmp_path)
    traffic = tmp_path / "t.jsonl"
    traffic.write_text(json.dumps(REQUEST) + "\n")
    out = runner.invoke(app, ["replay", str(traffic), "-p", str(policy), "--prices", str(prices)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output.splitlines()[0])["cost_usd"] == 2.5


def test_a_bad_price_file_is_a_usage_error(tmp_path: Path) -> None:
    policy, request, prices = files(tmp_path)
    prices.write_text("models: [1, 2]\n")
    out = runner.invoke(app, ["explain", str(request), "-p", str(policy), "--prices", str(prices)])
    assert out.exit_code == 2 and "prices.yaml" in out.output
    missing = runner.invoke(app, ["replay", str(request), "-p", str(policy), "--prices", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "nope.json" in missing.output
