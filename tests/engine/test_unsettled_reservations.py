"""Replay and policy tests never call complete(): a forwarded request's reservation must
stand until its window ends, not be released when an unsettled reservation expires (15 min).
A daily cap of 2 requests, hours apart, must still limit the third."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from aigw_policy.cli import app

POLICY = {"on_http_request": [{"name": "cap", "actions": [{"type": "usage-cap", "config": {
    "name": "daily-req", "limit": 2, "unit": "requests", "period": "day", "bucket_key": ["identity.key"]}}]}]}


def _req(i: int, hour: str) -> dict:
    return {"id": f"r{i}", "now": f"2026-11-26T{hour}Z", "identity": {"key": "k1"},
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


HOURS = ["10:00:00", "11:00:00", "23:59:00"]


def test_replay_keeps_reservations_for_the_window(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(POLICY))
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(_req(i, h)) + "\n" for i, h in enumerate(HOURS)))
    res = CliRunner().invoke(app, ["replay", str(tmp_path / "t.jsonl"), "--policy", str(tmp_path / "p.yaml")])
    assert res.exit_code == 0, res.output
    got = [(d["verdict"], d["status_code"]) for d in map(json.loads, res.stdout.splitlines())]
    assert got == [("allow", 200), ("allow", 200), ("deny", 429)]


def test_policy_test_steps_keep_reservations_for_the_window(tmp_path: Path) -> None:
    steps = [{"request": _req(i, h), "expect": {"verdict": v}} for i, (h, v) in
             enumerate(zip(HOURS, ["allow", "allow", "deny"]))]
    (tmp_path / "cap.test.yaml").write_text(yaml.safe_dump({"policy": POLICY, "cases": [{"name": "daily", "steps": steps}]}))
    res = CliRunner().invoke(app, ["test", str(tmp_path)])
    assert res.exit_code == 0, res.output
