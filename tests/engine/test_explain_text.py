"""``explain`` as text, for a person: no empty headings, no repeated words, durations in
days and hours, numbers without binary noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.engine.explain_text import duration_text
from aigw_policy.template import double_text

runner = CliRunner()

REQUEST = {
    "now": "2026-12-10T11:00:00Z",
    "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                "headers": {"content-type": "application/json"},
                "body": {"model": "gpt-3.5", "messages": [{"role": "user", "content": "hi"}]}},
    "identity": {"team": "research"},
    "response": {"status_code": 200, "headers": {},
                 "body": {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}},
}

DENY_EARLY = """
on_http_request:
  - name: only-gpt
    expressions: ["ai.model != 'gpt-4o'"]
    actions: [{type: deny, config: {status_code: 403}}]
  - name: tpm
    actions:
      - type: token-limit
        config: {name: team-tpm, capacity: 100000, rate: 1m}
on_http_response:
  - name: show
    actions:
      - type: add-headers
        config: {headers: {x-remaining: "${limits['team-tpm'].remaining}"}}
"""

MONTHLY = """
on_http_request:
  - actions:
      - type: usage-cap
        config: {name: cap, limit: 500, unit: usd, period: month}
      - type: set-vars
        config: {vars: [{x: "${0.1 + 0.2}"}]}
      - type: add-headers
        config: {headers: {x-a: "${0.1 + 0.2}", x-b: "sum ${0.1 + 0.2}"}}
on_http_response:
  - actions:
      - type: log
        config: {metadata: {d: "${0.1 + 0.2}"}}
"""


def priced(model: str = "gpt-4o") -> dict:
    request = json.loads(json.dumps(REQUEST))
    request["request"]["body"]["model"] = model
    return request


def explain(tmp_path: Path, policy: str, request: dict | None = None) -> str:
    (tmp_path / "p.yaml").write_text(policy)
    (tmp_path / "r.json").write_text(json.dumps(request or REQUEST))
    out = runner.invoke(app, ["explain", str(tmp_path / "r.json"), "-p", str(tmp_path / "p.yaml")])
    assert out.exit_code == 0, out.output
    return out.output


def headings_have_content(text: str) -> None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(":") and not line.startswith(" "):
            assert i + 1 < len(lines) and lines[i + 1].startswith(" "), f"empty `{line}`:\n{text}"


def test_no_empty_effects_heading(tmp_path: Path) -> None:
    text = explain(tmp_path, DENY_EARLY)
    headings_have_content(text)
    assert "errors:" in text


def test_the_default_is_named_once(tmp_path: Path) -> None:
    text = explain(tmp_path, "on_http_request: []\n")
    assert "(default)" not in text
    assert "no rule ended the request: the document's default is `allow`" in text


def test_resets_in_days_and_hours(tmp_path: Path) -> None:
    text = explain(tmp_path, MONTHLY, priced())
    assert "resets in 21d 13h" in text  # 2026-12-10 11:00 to 2027-01-01 00:00
    headings_have_content(text)


def test_dollars_read_as_dollars(tmp_path: Path) -> None:
    text = explain(tmp_path, MONTHLY, priced())
    line = next(x for x in text.splitlines() if x.strip().startswith("cap "))
    assert "$0 of $500 used before this request, which adds ~$0.000075;" in line
    assert "$500.00 left" in line and "usd" not in line


def test_interpolated_doubles_without_noise(tmp_path: Path) -> None:
    text = explain(tmp_path, MONTHLY, priced())
    assert "x-a: 0.3" in text and "x-b: sum 0.3" in text
    assert "x=0.3" in text and "d=0.3" in text
    assert "0000000" not in text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.4, "1s"), (54, "54s"), (60, "1m"), (90, "1m 30s"), (3600, "1h"),
    (3661, "1h 1m"), (86_400, "1d"), (1_857_600, "21d 12h"), (1_857_659, "21d 12h"),
])
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(("value", "text"), [
    (0.1 + 0.2, "0.3"), (165.00642399999998, "165.006424"), (1.0, "1"), (2.5e-7, "2.5e-07"),
    (1e21, "1e+21"), (-0.0, "-0"), (float("inf"), "+Inf"), (123456789.123, "1.23456789123e+08"), (1e300 / 3, "3.33333333333333e+299"),
])
def test_double_text(value: float, text: str) -> None:
    assert double_text(value) == text
