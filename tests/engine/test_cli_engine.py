"""explain, replay and test on the command line: outputs, exit codes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = ROOT / "examples"
REQUESTS = EXAMPLES / "requests"
runner = CliRunner()


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input)


def _policy_for(request: Path) -> Path:
    for p in sorted(EXAMPLES.glob("*.aigw"), key=lambda p: -len(p.stem)):
        if request.stem.startswith(p.stem):
            return p
    return EXAMPLES / "acme-gateway.aigw"


@pytest.mark.parametrize("request_file", sorted(REQUESTS.glob("*.json")), ids=lambda p: p.stem)
def test_explain_every_example_request(request_file: Path) -> None:
    policy = _policy_for(request_file)
    text = run("explain", str(request_file), "--policy", str(policy), "--trace")
    assert text.exit_code == 0, text.output
    first = text.output.splitlines()[0]
    assert first.split()[0] in ("ALLOW", "DENY", "RESPONDED")
    out = run("explain", str(request_file), "--policy", str(policy), "--format", "json")
    d = json.loads(out.output)
    for key in ("verdict", "status_code", "reason", "rule", "phase", "ai", "usage", "cost_usd", "limits",
                "effects", "errors", "trace"):
        assert key in d
    # deterministic: the same file twice gives the same decision
    again = run("explain", str(request_file), "--policy", str(policy), "--format", "json")
    assert again.output == out.output


def test_explain_text_leads_with_rule_and_source_line() -> None:
    out = run("explain", str(REQUESTS / "acme-research-near-limit.json"), "--policy", str(EXAMPLES / "acme-gateway.aigw"))
    lines = out.output.splitlines()
    assert lines[0].startswith("DENY 429: limit team-tpm: 199,990 of 200,000 tokens used, this request needs ~305")
    assert "rule `team-tokens-per-minute`" in lines[1]
    assert "token-limit" in lines[2] and lines[2].strip().startswith("14 |")


def test_explain_exit_code() -> None:
    denied = run("explain", str(REQUESTS / "acme-premium-denied.json"), "--policy", str(EXAMPLES / "acme-gateway.aigw"), "--exit-code")
    assert denied.exit_code == 1
    allowed = run("explain", str(REQUESTS / "content-guard-clamp.json"), "--policy", str(EXAMPLES / "content-guard.aigw"), "--exit-code")
    assert allowed.exit_code == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("{", "not valid JSON"),
        ("[]", "a request is a JSON object"),
        ('{"request": {"method": "GET"}}', "`request.url`: field required"),
        ('{"request": {"url": "https://x/"}, "now": "yesterday"}', "`now`: must be an RFC 3339 time"),
        ('{"request": {"url": 5}}', "`request.url`: must be a string"),
        ('{"request": {"url": "https://x/"}, "identity": {"team": 3}}', "`identity.team`: must be a string"),
        ('{"request": {"url": "https://x/"}, "reqest": {}}', "`reqest`: unknown field; did you mean `request`?"),
        ('{"request": {"url": "https://x/"}, "state": {"limits": {"team-tpm": {"a": {"used": -1}}}}}', "`state.limits.team-tpm.a.used`"),
        ('{"request": {"url": "https://x/"}, "state": {"limits": {"nope": {"a": {"used": 1}}}}}', "`state.limits.nope`"),
        ('{"request": {"url": "https://x/"}, "response": {"status_code": 42}}', "`response.status_code`"),
    ],
)
def test_malformed_request_names_the_field(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "req.json"
    f.write_text(body)
    out = run("explain", str(f), "--policy", str(EXAMPLES / "acme-gateway.aigw"))
    assert out.exit_code == 2
    assert needle in out.output
    assert "Traceback" not in out.output


def test_replay_jsonl_summary_and_against(tmp_path: Path) -> None:
    lines = []
    for i in range(70):
        lines.append(json.dumps({"now": f"2026-11-26T12:00:{i % 60:02d}Z" if i < 60 else "2026-11-26T12:00:59Z",
                                 "identity": {"key": "k1", "tier": "pro"},
                                 "request": {"url": "https://api.openai.com/v1/chat/completions",
                                             "body": {"model": "gpt-4o", "max_tokens": 10, "messages": []}}}))
    lines.append("garbage")
    traffic = tmp_path / "t.jsonl"
    traffic.write_text("\n".join(lines) + "\n")
    out = run("replay", str(traffic), "--policy", str(EXAMPLES / "key-limits.aigw"))
    assert out.exit_code == 2  # the garbage line: reported, replay went on, exit 2 at the end
    rows = [json.loads(x) for x in out.output.splitlines()]
    assert len(rows) == 71
    assert [r["verdict"] for r in rows[:60]] == ["allow"] * 60
    assert rows[60]["status_code"] == 429 and rows[60]["rule"] == "key-requests-per-minute"
    assert "error" in rows[-1]
    summary = run("replay", str(traffic), "--policy", str(EXAMPLES / "key-limits.aigw"), "--format", "summary")
    assert "71 requests, 1 unreadable" in summary.output
    stricter = tmp_path / "new.aigw"
    stricter.write_text((EXAMPLES / "key-limits.aigw").read_text().replace("capacity: 60", "capacity: 50"))
    diff = run("replay", str(traffic), "--policy", str(stricter), "--against", str(EXAMPLES / "key-limits.aigw"))
    changed = [json.loads(x) for x in diff.output.splitlines() if '"old"' in x]
    assert len(changed) == 10
    assert all(c["old"]["verdict"] == "allow" and c["new"]["verdict"] == "deny" for c in changed)


def test_policy_tests_pass_fail_and_coverage(tmp_path: Path) -> None:
    good = run("test", str(ROOT / "tests" / "engine" / "data"))
    assert good.exit_code == 0, good.output
    assert "rules no test exercises" in good.output
    bad = tmp_path / "x.test.yaml"
    bad.write_text(
        "policy: 'policy { on request { rule \"r\" { deny 403 } } }'\n"
        "cases:\n  - name: wrong\n    request: {now: '2026-11-26T12:00:00Z', request: {url: 'https://x/'}}\n"
        "    expect: {verdict: allow}\n"
    )
    out = run("test", str(bad))
    assert out.exit_code == 1
    assert "FAIL wrong" in out.output and 'verdict: expected "allow", got "deny"' in out.output
    broken = tmp_path / "y.test.yaml"
    broken.write_text("policy: 'policy { nope }'\ncases: []\n")
    assert run("test", str(broken)).exit_code == 2
