"""The usage report: grouping, --since, renderings, and the CLI function."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import typer
from typer.testing import CliRunner

from aigw_policy.ledger import Ledger, ReportError, make_record, parse_by, parse_since, summarize
from aigw_policy.cli.usage import usage
from aigw_policy.providers import Usage

NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


def _records():
    def rec(rid, day, team, user, model, i, o, cost, source="provider"):
        r = make_record(rid, time=datetime(2026, 11, day, 9, tzinfo=timezone.utc),
                        usage=Usage.of(i, o, source=source, model=model),
                        identity={"key": f"k-{user}", "team": team, "user": user})
        return _with_cost(r, cost)

    return [
        rec("1", 25, "research", "alice", "gpt-4o", 100, 50, 0.01),
        rec("2", 26, "research", "bob", "gpt-4o", 1000, 500, 0.1),
        rec("3", 26, "sales", "carol", "claude-x", 10, 5, None, source="estimate"),
        rec("4", 10, "sales", "carol", "gpt-4o", 7, 7, 0.001),
    ]


def _with_cost(r, cost):
    from dataclasses import replace

    return replace(r, cost_usd=cost, cost_source="override" if cost is not None else "unknown")


def test_group_by_team_and_model() -> None:
    rep = summarize(_records(), parse_by("team,model")).to_dict()
    assert rep["rows"][0] == {"team": "research", "model": "gpt-4o", "requests": 2, "input_tokens": 1100,
                              "output_tokens": 550, "cached_input_tokens": 0, "cache_creation_input_tokens": 0,
                              "cache_creation_1h_input_tokens": 0, "reasoning_tokens": 0, "total_tokens": 1650, "cost_usd": 0.11,
                              "unpriced_requests": 0, "estimated_requests": 0}
    assert rep["total"]["requests"] == 4 and rep["total"]["unpriced_requests"] == 1
    assert rep["total"]["estimated_requests"] == 1


def test_since_and_day() -> None:
    since = parse_since("7d", NOW)
    assert since == "2026-11-19T12:00:00.000000Z"
    rep = summarize(_records(), ("day",), since).to_dict()
    assert [r["day"] for r in rep["rows"]] == ["2026-11-26", "2026-11-25"]
    assert parse_since("2026-11-01", NOW) == "2026-11-01T00:00:00.000000Z"
    with pytest.raises(ReportError):
        parse_since("yesterday", NOW)
    with pytest.raises(ReportError):
        parse_by("team,colour")


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(usage)
    return app


def test_cli_table_json_csv(tmp_path) -> None:
    url = f"sqlite:{tmp_path / 'u.db'}"
    with Ledger(url) as ledger:
        ledger.record_many(_records())
    runner = CliRunner()
    out = runner.invoke(_app(), ["--ledger", url, "--by", "user"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].split()[:3] == ["user", "requests", "input"]
    assert "TOTAL" in out.output and "no known price" in out.output
    js = runner.invoke(_app(), ["--ledger", url, "--by", "team", "--format", "json"])
    data = json.loads(js.output)
    assert [r["team"] for r in data["rows"]] == ["research", "sales"]
    csv_out = runner.invoke(_app(), ["--ledger", url, "--by", "model,day", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("model,day,requests,")


def test_cli_bad_input_exits_2(tmp_path) -> None:
    runner = CliRunner()
    assert runner.invoke(_app(), ["--ledger", f"sqlite:{tmp_path / 'missing.db'}"]).exit_code == 2
    assert runner.invoke(_app(), ["--ledger", "bogus"]).exit_code == 2
    url = f"jsonl:{tmp_path / 'u.jsonl'}"
    (tmp_path / "u.jsonl").write_text("")
    assert runner.invoke(_app(), ["--ledger", url, "--by", "colour"]).exit_code == 2
    assert runner.invoke(_app(), ["--ledger", url, "--since", "soon"]).exit_code == 2
    assert runner.invoke(_app(), ["--ledger", url]).exit_code == 0


def test_a_request_the_gateway_denied_costs_nothing_and_is_not_unpriced(tmp_path):
    import aigw_policy as ap
    from aigw_policy.ledger import Ledger
    from aigw_policy.ledger.report import summarize

    url = f"sqlite:{tmp_path / 'l.db'}"
    ledger = Ledger(url)
    engine = ap.Engine(ap.loads(
        'policy { on request { rule "no" { deny 403 } } }', "dsl"), ledger=ledger)
    engine.evaluate({"id": "r1", "now": "2026-11-26T12:00:00Z", "identity": {"key": "k"},
                     "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                 "body": {"model": "gpt-4.1", "messages": []}}})
    ledger.close()
    from aigw_policy.ledger import open_sink

    records = list(open_sink(url).read(None))
    assert [(r.cost_usd, r.cost_source, r.usage_source) for r in records] == [(0.0, "not-forwarded", "none")]
    report = summarize(records, by=["model"], since=None)
    total = report.total.metrics()
    assert (total["unpriced_requests"], total["estimated_requests"], total["cost_usd"]) == (0, 0, 0)


@pytest.mark.parametrize("text", ["99999999999d", "1000000w", "9" * 5000 + "h"])
@pytest.mark.parametrize("command", ["usage", "report"])
def test_a_count_past_any_date_is_bad_input(tmp_path, command: str, text: str) -> None:
    from aigw_policy.cli import app

    url = f"sqlite:{tmp_path / 'u.db'}"
    with Ledger(url) as ledger:
        ledger.record_many(_records())
    for option in ("--since", "--until"):
        argv = [command, "--ledger", url, option, text] + (["-o", str(tmp_path / "r.html")] if command == "report" else [])
        out = CliRunner().invoke(app, argv)
        assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)
        assert out.exit_code == 2, out.output
        assert "too far back" in out.output, out.output


def test_a_date_before_year_1000_keeps_time_order() -> None:
    # text order is time order only with four-digit years: `999-...` sorted after `2026-...`
    assert parse_since("0999-01-01", NOW) == "0999-01-01T00:00:00.000000Z"
    rep = summarize(_records(), ("team",), parse_since("0999-01-01", NOW)).to_dict()
    assert rep["total"]["requests"] == 4
