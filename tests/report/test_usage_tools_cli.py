"""`report`, `reconcile` and `limits` from the command line: inputs, exit codes, read-only."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import aigw_policy as ap
from aigw_policy.cli import app
from aigw_policy.ledger import Ledger
from aigw_policy.limits.model import Charge
from aigw_policy.limits.sqlite import SQLiteStore
from aigw_policy.report.provider_usage import UsageExportError, parse_usage_export

from clock import steady

from . import fixture_ledger

runner = CliRunner()


@pytest.fixture(autouse=True)
def steady_hour(monkeypatch: pytest.MonkeyPatch) -> float:
    """Traffic is charged at the clock's now and read back by the commands at theirs: the clock
    is moved forward to 0.5 s into an hour, 15 minutes or more before a UTC midnight
    (tests/clock.py), or an hour's or a day's window could end between the two (`limits` read 0
    of 180 tokens with the clock just before a midnight)."""
    return steady(monkeypatch, 3600.0)

POLICY = """
on_http_request:
  - name: premium
    expressions: ["ai.model == 'gpt-4.1' && identity.team != 'research'"]
    actions: [{type: deny}]
  - name: key-tpm
    actions:
      - type: token-limit
        config: {name: key-tpm, capacity: 100000, rate: 1h, algorithm: fixed_window, bucket_key: [identity.key]}
  - name: team-daily
    expressions: ["identity.team == 'research'"]
    actions:
      - type: usage-cap
        config: {name: team-daily, limit: 5000, unit: tokens, period: day, bucket_key: [identity.team], warn_at: 0.5}
  - name: per-model
    expressions: ["ai.model.startsWith('gpt')"]
    actions:
      - type: rate-limit
        config: {name: model-rpm, capacity: 10, rate: 60s, bucket_key: [identity.key, ai.model]}
"""


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _traffic(tmp_path: Path, n: int = 4) -> tuple[Path, str, str]:
    """A policy file, a SQLite store and a JSONL ledger after ``n`` completed requests now."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    store_path, ledger_url = tmp_path / "limits.db", f"jsonl:{tmp_path}/usage.jsonl"
    store = SQLiteStore(str(store_path))
    ledger = Ledger(ledger_url)
    engine = ap.Engine(ap.load(policy), store=store, ledger=ledger)
    now = time.time()
    for i in range(n):
        req = {"id": f"r{i}", "identity": {"key": "k1", "team": "research"},
               "request": {"url": "https://api.openai.com/v1/chat/completions",
                           "body": {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}}}
        engine.evaluate(req, now=now)
        engine.complete(f"r{i}", {"status_code": 200, "body": {"model": "gpt-4o", "usage": {
            "prompt_tokens": 10 * (i + 1), "completion_tokens": 20, "total_tokens": 10 * (i + 1) + 20}}}, now=now)
    ledger.close()
    store.close()
    return policy, f"sqlite:{store_path}", ledger_url


# -- a ledger that does not exist ----------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["report", "-o", "{tmp}/r.html"],
    ["reconcile", "--provider-usage", "{tmp}/none.json"],
])
@pytest.mark.parametrize("scheme", ["sqlite", "jsonl"])
def test_a_missing_ledger_is_exit_2_and_is_not_created(tmp_path: Path, command: list[str], scheme: str) -> None:
    (tmp_path / "none.json").write_text('{"object": "page", "data": []}')
    missing = tmp_path / "missing.db"
    result = run(*(c.format(tmp=tmp_path) for c in command), "--ledger", f"{scheme}:{missing}")
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.output
    assert not missing.exists() and not (tmp_path / "r.html").exists()


# -- limits --------------------------------------------------------------------------------------


def test_limits_reads_the_store_and_charges_nothing(tmp_path: Path) -> None:
    policy, store, _ = _traffic(tmp_path)
    args = ["limits", "--policy", str(policy), "--store", store, "--identity", '{"key": "k1", "team": "research"}',
            "--format", "json"]
    first = json.loads(run(*args).output)
    again = json.loads(run(*args).output)
    def state(out: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(v["name"], v["used"], v["remaining"], v["outcome"]) for v in out["limits"]]

    assert state(first) == state(again)  # asking twice used nothing up
    got = {v["name"]: v for v in first["limits"]}
    assert set(got) == {"key-tpm", "team-daily", "model-rpm"}
    used = sum(10 * (i + 1) + 20 for i in range(4))
    assert (got["key-tpm"]["used"], got["key-tpm"]["remaining"], got["key-tpm"]["outcome"]) == (used, 100000 - used, "ok")
    assert (got["team-daily"]["used"], got["team-daily"]["outcome"]) == (used, "ok")
    assert got["team-daily"]["reset_at"].endswith("T00:00:00Z")
    assert datetime.fromisoformat(got["key-tpm"]["reset_at"].replace("Z", "+00:00")).timestamp() > time.time()
    assert got["model-rpm"]["key"] is None and got["model-rpm"]["applies"] == "conditional"
    assert "ai.model" in got["model-rpm"]["note"]
    # another team: the research-only cap does not apply
    other = json.loads(run("limits", "--policy", str(policy), "--store", store, "--team", "sales",
                           "--format", "json").output)
    assert [v["name"] for v in other["limits"]] == ["key-tpm", "model-rpm"]
    text = run("limits", "--policy", str(policy), "--store", store, "--key", "k1").output
    assert "key-tpm (token-limit, bucket 'k1'): 180 of 100,000 tokens used" in text


@pytest.mark.parametrize(("args", "message"), [
    ([], "give one of --key, --team or --identity"),
    (["--key", "k1", "--team", "t"], "give one of"),
    (["--identity", "{bad"], "--identity is not valid JSON"),
    (["--identity", "[1]"], "must be a JSON object"),
    (["--identity", '{"teem": "x"}'], "`teem`"),
])
def test_limits_bad_identity_is_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    result = run("limits", "--policy", str(policy), "--store", "memory:", *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_limits_reads_a_keys_identity_from_the_keys_file(tmp_path: Path) -> None:
    """``--key K`` alone knows only identity.key: a team's limits cannot be placed. With the
    gateway's keys file, the key's whole identity is used, as ``serve`` would."""
    policy, store, _ = _traffic(tmp_path)
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n  - key: sk-gw-1\n    identity: {key: k1, team: research}\n")
    base = ["limits", "--policy", str(policy), "--store", store, "--format", "json"]
    alone = {v["name"]: v for v in json.loads(run(*base, "--key", "k1").output)["limits"]}
    full = json.loads(run(*base, "--key", "k1", "--keys", str(keys)).output)
    assert full["identity"] == {"key": "k1", "team": "research"}
    got = {v["name"]: v for v in full["limits"]}
    assert got["team-daily"]["key"] == "research" and got["team-daily"]["used"] > 0
    assert alone["team-daily"]["key"] is None  # without the keys file: the team is unknown
    for args, message in ((["--key", "k9", "--keys", str(keys)], "no key of"),
                          (["--team", "research", "--keys", str(keys)], "--keys reads the identity of a --key"),
                          (["--key", "k1", "--keys", str(tmp_path / "none.yaml")], "AIGW600")):
        result = run("limits", "--policy", str(policy), "--store", store, *args)
        assert result.exit_code == 2 and message in result.output, result.output


# -- report with a store -------------------------------------------------------------------------


def test_report_reads_headroom_from_the_store(tmp_path: Path) -> None:
    policy, store, ledger = _traffic(tmp_path)
    out = tmp_path / "r.html"
    assert run("report", "--ledger", ledger, "-o", str(out), "--store", store).exit_code == 2  # --policy missing
    result = run("report", "--ledger", ledger, "-o", str(out), "--store", store, "--policy", str(policy))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert 'data-limit="key-tpm" data-key="k1"' in html and "now (store)" in html


# -- reconcile: ledger vs counters ---------------------------------------------------------------


def test_reconcile_ledger_and_counters_agree_then_disagree(tmp_path: Path) -> None:
    policy, store, ledger = _traffic(tmp_path)
    ok = run("reconcile", "--ledger", ledger, "--store", store, "--policy", str(policy), "--format", "json")
    assert ok.exit_code == 0, ok.output
    rows = json.loads(ok.output)["rows"]
    assert {(r["subject"], r["key"], r["status"]) for r in rows} == {
        ("key-tpm", "k1", "match"), ("team-daily", "research", "match"), ("model-rpm", "k1|gpt-4o", "match")}
    # a charge the ledger never heard of
    spec = ap.Engine(ap.load(policy)).compiled.limits["key-tpm"][1].limit.spec  # type: ignore[union-attr]
    with SQLiteStore(store.removeprefix("sqlite:")) as s:
        s.reserve("ghost", [Charge(spec, "k1", 50.0)], time.time())
    bad = run("reconcile", "--ledger", ledger, "--store", store, "--policy", str(policy))
    assert bad.exit_code == 1, bad.output
    assert "unexplained  key-tpm 'k1'" in bad.output and "difference 50" in bad.output


# -- reconcile: ledger vs provider ---------------------------------------------------------------


def _openai_export(delta: dict[tuple[str, str], int] | None = None) -> dict[str, Any]:
    """Daily buckets of the fixture ledger's forwarded requests, as OpenAI's Usage API pages them."""
    days: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for r in fixture_ledger.records():
        if r.usage_source != "none":
            cell = days[r.time[:10]][r.model or ""]
            cell[0] += r.input_tokens
            cell[1] += r.output_tokens
            cell[2] += 1
    data = []
    for day, models in sorted(days.items()):
        start = int(datetime.fromisoformat(day + "T00:00:00+00:00").timestamp())
        data.append({"object": "bucket", "start_time": start, "end_time": start + 86400, "results": [
            {"object": "organization.usage.completions.result", "model": m, "input_tokens": c[0] + (delta or {}).get((day, m), 0),
             "output_tokens": c[1], "input_cached_tokens": 0, "num_model_requests": c[2], "api_key_id": None}
            for m, c in sorted(models.items())]})
    return {"object": "page", "data": data, "has_more": False, "next_page": None}


def test_reconcile_against_an_openai_export(tmp_path: Path) -> None:
    ledger = fixture_ledger.write(tmp_path / "usage.jsonl")
    export = tmp_path / "openai.json"
    export.write_text(json.dumps(_openai_export(), indent=2))
    ok = run("reconcile", "--ledger", ledger, "--provider-usage", str(export), "--format", "json")
    assert ok.exit_code == 0, ok.output
    assert {r["status"] for r in json.loads(ok.output)["rows"]} == {"match"}
    # the pending request's estimate (40 input tokens) differs from what the provider saw: explained by it
    export.write_text(json.dumps(_openai_export({("2026-11-26", "gpt-4o"): -30})))
    explained = run("reconcile", "--ledger", ledger, "--provider-usage", str(export), "--format", "json")
    assert explained.exit_code == 0, explained.output
    (row,) = [r for r in json.loads(explained.output)["rows"] if r["status"] != "match"]
    assert (row["start"][:10], row["key"], row["measure"], row["difference"]) == ("2026-11-26", "gpt-4o", "input_tokens", -30)
    pending = [r.request_id for r in fixture_ledger.records() if r.verdict == "pending"]
    assert [e["request_id"] for e in row["explained_by"]] == pending
    # 500 tokens nobody can account for
    export.write_text(json.dumps(_openai_export({("2026-11-22", "gpt-4o"): 500})))
    bad = run("reconcile", "--ledger", ledger, "--provider-usage", str(export))
    assert bad.exit_code == 1 and "unexplained" in bad.output and "difference 500" in bad.output


ANTHROPIC = {"data": [{"starting_at": "2026-11-20T00:00:00Z", "ending_at": "2026-11-21T00:00:00Z", "results": [
    {"uncached_input_tokens": 100, "cache_read_input_tokens": 50,
     "cache_creation": {"ephemeral_1h_input_tokens": 5, "ephemeral_5m_input_tokens": 7},
     "output_tokens": 30, "model": "claude-sonnet-4-20250514", "api_key_id": "apikey_01", "workspace_id": None,
     "service_tier": "standard", "context_window": "0-200k", "server_tool_use": {"web_search_requests": 0}}]}],
    "has_more": False, "next_page": None}


def test_the_exports_read_the_same_from_json_and_csv() -> None:
    (a,) = parse_usage_export(json.dumps(ANTHROPIC, indent=2), "a.json")
    assert (a.provider, a.input_tokens, a.output_tokens, a.requests, a.start) == (
        "anthropic", 162, 30, None, "2026-11-20T00:00:00.000000Z")
    csv_text = ("starting_at,ending_at,model,uncached_input_tokens,cache_read_input_tokens,"
                "cache_creation_ephemeral_5m_input_tokens,cache_creation_ephemeral_1h_input_tokens,output_tokens\n"
                "2026-11-20T00:00:00Z,2026-11-21T00:00:00Z,claude-sonnet-4-20250514,100,50,7,5,30\n")
    (c,) = parse_usage_export(csv_text, "a.csv")
    assert (c.input_tokens, c.output_tokens, c.model) == (162, 30, "claude-sonnet-4-20250514")
    o = parse_usage_export("start_time,end_time,model,input_tokens,output_tokens,num_model_requests\n"
                           "1795132800,1795219200,gpt-4o,10,20,3\n", "o.csv")
    assert [(b.provider, b.input_tokens, b.requests) for b in o] == [("openai", 10, 3)]


@pytest.mark.parametrize(("text", "where"), [
    ('{"object": "page",\n "data": [\n  {"start_time": 1, "end_time": 2,\n   "results": [\n'
     '    {"input_tokens": "many", "output_tokens": 1}]}]}', "x.json:5:"),
    ('{"data": [\n {"start_time": 1, "end_time": 2, "results": [{"input_tokens": 1, "output_tokens": 2}]},\n {"oops": 1}\n]}', "x.json:3:"),
    ('{"data": [\n  {"starting_at": "yesterday", "ending_at": "2026-11-21T00:00:00Z", "results": []}]}', "x.json:2:"),
    ('{"data": [\n  {"start_time": 1,\n', "x.json:3:"),
    ("start_time,end_time,input_tokens,output_tokens\n1,2,3,4\n1,2,-3,4\n", "x.json:3:"),
    ("start_time,end_time,input_tokens,output_tokens\n1,2,3\n", "x.json:2:"),
    ("when,tokens\n1,2\n", "x.json:1:"),
])
def test_a_malformed_export_names_the_line(text: str, where: str) -> None:
    with pytest.raises(UsageExportError) as bad:
        parse_usage_export(text, "x.json")
    assert str(bad.value).startswith(where), str(bad.value)


def test_a_malformed_export_is_exit_2_on_the_command_line(tmp_path: Path) -> None:
    ledger = fixture_ledger.write(tmp_path / "usage.jsonl")
    export = tmp_path / "bad.csv"
    export.write_text("start_time,end_time,input_tokens,output_tokens\n1,2,x,4\n")
    result = run("reconcile", "--ledger", ledger, "--provider-usage", str(export))
    assert result.exit_code == 2, result.output
    assert "error[AIGW800]: `input_tokens` must be a non-negative integer" in result.output
    assert f"--> {export}:2" in result.output


def test_a_ledger_without_records_is_an_empty_report_and_stays_unwritten(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "usage.db"
    sqlite3.connect(db).close()  # a file with no table yet: the gateway has written nothing
    before = db.read_bytes()
    out = tmp_path / "r.html"
    result = run("report", "--ledger", f"sqlite:{db}", "-o", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count("No requests in this period.") == 4 and "Nothing was denied." in html
    assert db.read_bytes() == before and not list(tmp_path.glob("usage.db-*"))


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "2026-11-02", "--until", "2026-11-01"]])
def test_report_bad_period_is_exit_2(tmp_path: Path, args: list[str]) -> None:
    ledger = fixture_ledger.write(tmp_path / "usage.jsonl")
    result = run("report", "--ledger", ledger, "-o", str(tmp_path / "r.html"), *args)
    assert result.exit_code == 2 and "error[AIGW900]:" in result.output
    assert not (tmp_path / "r.html").exists()
