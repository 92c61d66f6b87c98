"""replay --against reports the requests whose served model or cost changes (what would
this routing have cost?), and sums the known cost under each policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from aigw_policy.cli import app



POLICY = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_models: true
          providers:
            - id: openai
              api_keys: [{value: "${secrets.get('v','a')}", id: ka}]
              models: [MODELS]
"""


def write(tmp_path: Path, name: str, models: str) -> Path:
    path = tmp_path / name
    path.write_text(POLICY.replace("MODELS", models))
    return path


def test_replay_against_reports_served_model_and_cost_changes(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", "{id: gpt-4o}, {id: gpt-4o-mini}")
    new = write(tmp_path, "new.yaml", "{id: gpt-4o-mini}")
    usage = {"usage": {"prompt_tokens": 1000, "completion_tokens": 1000}}
    lines = [{"id": f"r{i}", "now": "2026-11-26T12:00:00Z",
              "request": {"url": "https://api.openai.com/v1/chat/completions",
                          "body": {"model": model, "models": [model, "gpt-4o-mini"], "max_tokens": 10,
                                   "messages": []}},
              "response": {"status_code": 200, "body": usage}}
             for i, model in enumerate(["gpt-4o", "gpt-4o-mini", "gpt-4o"])]
    traffic = tmp_path / "t.jsonl"
    traffic.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    runner = CliRunner()
    out = runner.invoke(app, ["replay", str(traffic), "--policy", str(new), "--against", str(old)])
    assert out.exit_code == 0, out.output
    changed = [json.loads(x) for x in out.output.splitlines()]
    assert [c["id"] for c in changed] == ["r0", "r2"]
    assert all(c["old"]["served"] == "openai:gpt-4o" and c["new"]["served"] == "openai:gpt-4o-mini" for c in changed)
    assert changed[0]["new"]["cost_usd"] < changed[0]["old"]["cost_usd"]
    summary = runner.invoke(app, ["replay", str(traffic), "--policy", str(new), "--against", str(old),
                                  "--format", "summary"])
    assert re.search(r" 2  served by another model$", summary.output, re.M)
    assert "known cost: $" in summary.output and "under the old policy" in summary.output
