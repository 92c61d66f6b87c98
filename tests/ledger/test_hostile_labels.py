"""Labels a client or a keys file chose (a model name, a team, a deny's message rendered from
the request) in `usage`'s exports: a CSV cell that a spreadsheet would run as a formula is
text (a leading `'`), and the table a person reads shows control characters as `\\xNN`, so an
escape sequence cannot rewrite their terminal."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import aigw_policy as ap
from aigw_policy.cli import app
from aigw_policy.ledger import Ledger, make_record
from aigw_policy.providers import Usage

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
           "\tx", "\rx", "a\x1b[2Jb", "ok\x07", "plain"]
runner = CliRunner()


def _ledger(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'u.db'}"
    with Ledger(url) as ledger:
        ledger.record_many([make_record(f"r{i}", time=datetime(2026, 11, 26, 9, tzinfo=timezone.utc),
                                        usage=Usage.of(10, 5, source="provider", model=label),
                                        identity={"key": f"k{i}", "team": label})
                            for i, label in enumerate(HOSTILE)])
    return url


def _safe(cell: str) -> bool:
    return not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("by", ["team", "model", "team,key"])
def test_a_csv_export_holds_no_formula(tmp_path: Path, by: str) -> None:
    out = runner.invoke(app, ["usage", "--ledger", _ledger(tmp_path), "--by", by, "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.output, newline="")))
    labels = [row[0] for row in rows[1:]]
    assert all(_safe(cell) for row in rows for cell in row), rows
    kept = {label.removeprefix("'") for label in labels}
    assert len(labels) == len(HOSTILE) and {h for h in HOSTILE if "\x1b" not in h} <= kept  # the text itself is kept
    # (click's echo drops an escape sequence when the output is no terminal)


@pytest.mark.parametrize("by", ["team", "model"])
def test_a_table_prints_no_control_character(tmp_path: Path, by: str) -> None:
    out = runner.invoke(app, ["usage", "--ledger", _ledger(tmp_path), "--by", by])
    assert out.exit_code == 0, out.output
    assert not any(c < " " and c != "\n" or "\x7f" <= c <= "\x9f" for c in out.output), repr(out.output)
    assert "a\\x1b[2Jb" in out.output


def test_a_shadow_reason_from_the_request_is_text_in_csv(tmp_path: Path) -> None:
    url = f"jsonl:{tmp_path / 'u.jsonl'}"
    policy = ap.loads('on_http_request:\n  - name: "=cmd"\n    mode: shadow\n    actions: [{type: deny, config: '
                      '{status_code: 451, message: "${ai.model}"}}]\n', "yaml")
    ledger = Ledger(url)
    engine = ap.Engine(policy, ledger=ledger)
    for i, model in enumerate(["=1+2", "a\x1b[31mred"]):
        request = {"id": f"r{i}", "now": "2026-11-26T12:00:00Z", "identity": {"key": "k1"},
                   "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                               "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}},
                   "response": {"status_code": 200, "body": {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}}}
        assert engine.evaluate(request).verdict == "allow"
    ledger.close()
    rows = json.loads(runner.invoke(app, ["usage", "--ledger", url, "--shadow", "--format", "json"]).output)
    assert rows["would_deny"], rows
    out = runner.invoke(app, ["usage", "--ledger", url, "--shadow", "--format", "csv"]).output
    assert all(_safe(cell) for row in csv.reader(io.StringIO(out, newline="")) for cell in row), out
    table = runner.invoke(app, ["usage", "--ledger", url, "--shadow"]).output
    assert "\x1b" not in table, repr(table)
