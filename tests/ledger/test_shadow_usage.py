"""``aigw-policy usage --shadow`` and ``replay``: what shadow rules would have blocked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import aigw_policy as ap
from aigw_policy.cli import app
from aigw_policy.ledger import Ledger

runner = CliRunner()
POLICY = '''policy "s" {
  on request {
    rule "no-big" {
      mode shadow
      when ai.model == "gpt-4.1"
      deny 451 "no gpt-4.1"
    }
    rule "rpm" {
      rate-limit { name: "rpm", capacity: 2, rate: 1h, bucket_key: [identity.key], enforce: false }
    }
  }
}
'''


def request(rid: str, model: str, minute: int) -> dict[str, object]:
    return {"id": rid, "now": f"2026-11-26T12:{minute:02d}:00Z", "identity": {"key": "k1", "team": "t"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}}


def traffic() -> list[dict[str, object]]:
    return [request(f"r{i}", "gpt-4.1" if i % 2 else "gpt-4o", i) for i in range(5)]


def test_usage_shadow_lists_what_would_have_been_denied(tmp_path: Path) -> None:
    url = f"jsonl:{tmp_path / 'u.jsonl'}"
    ledger = Ledger(url)
    engine = ap.Engine(ap.loads(POLICY, "dsl"), ledger=ledger)
    resp = {"status_code": 200, "body": {"model": "gpt-4o", "usage": {"prompt_tokens": 5, "completion_tokens": 7,
                                                                         "total_tokens": 12}}}
    for r in traffic():
        assert engine.evaluate({**r, "response": resp}).verdict == "allow"
    ledger.close()
    out = runner.invoke(app, ["usage", "--ledger", url, "--shadow", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {(r["rule"], r["status"]): r for r in json.loads(out.output)["would_deny"]}
    # r1, r3: gpt-4.1 (the earlier rule); r2, r4: over the unenforced rpm (r0 and r1 used it); r0: nothing
    assert set(rows) == {("no-big", 451), ("rpm", 429)}
    assert rows[("no-big", 451)]["request_ids"] == ["r1", "r3"] and rows[("no-big", 451)]["total_tokens"] == 24
    assert rows[("rpm", 429)]["request_ids"] == ["r2", "r4"]
    assert rows[("rpm", 429)]["reason"].startswith("limit rpm: 2 of 2 requests used")
    table = runner.invoke(app, ["usage", "--ledger", url, "--shadow"]).output
    assert "no-big (451): 2 requests, 24 tokens" in table and "r1, r3" in table
    assert runner.invoke(app, ["usage", "--ledger", url, "--shadow", "--format", "csv"]).output.splitlines()[0] \
        == "rule,status,requests,total_tokens,cost_usd,first,last,reason"
    empty = runner.invoke(app, ["usage", "--ledger", url, "--shadow", "--team", "other"])
    assert empty.output == "no shadow rule would have denied a request\n"


def test_replay_lists_them_too(tmp_path: Path) -> None:
    (tmp_path / "p.aigw").write_text(POLICY)
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in traffic()))
    out = runner.invoke(app, ["replay", str(tmp_path / "t.jsonl"), "--policy", str(tmp_path / "p.aigw"),
                              "--format", "summary"])
    assert out.exit_code == 0, out.output
    assert "shadow rules would have denied (let through):" in out.output
    assert "2  no-big (451)" in out.output and "2  rpm (429)" in out.output
    lines = runner.invoke(app, ["replay", str(tmp_path / "t.jsonl"), "--policy", str(tmp_path / "p.aigw")]).output
    decisions = [json.loads(x) for x in lines.splitlines()]
    assert [d.get("would_deny", {}).get("rule") for d in decisions] == [None, "no-big", "rpm", "no-big", "rpm"]
    assert all(d["verdict"] == "allow" for d in decisions)
    # against the same policy with the shadow rule enforced: the requests it would deny change
    (tmp_path / "e.aigw").write_text(POLICY.replace("      mode shadow\n", ""))
    diff = runner.invoke(app, ["replay", str(tmp_path / "t.jsonl"), "--policy", str(tmp_path / "e.aigw"),
                               "--against", str(tmp_path / "p.aigw")]).output
    changed = [json.loads(x) for x in diff.splitlines()]
    assert [c["id"] for c in changed if c["new"]["verdict"] == "deny"] == ["r1", "r3"]
    assert all(c["old"]["would_deny"]["rule"] == "no-big" for c in changed if c["new"]["verdict"] == "deny")
