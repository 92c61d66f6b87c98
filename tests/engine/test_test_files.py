"""Policy test files are checked as strictly as policies: a typo never makes a test that
passes while checking nothing, and a failure shows the actual rule and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.engine.testing import TestFileError, check_text, run_file

POLICY = '''policy "gw" {
  on request {
    rule "premium-models" {
      when ai.model in ["gpt-4.1"]
      when identity.team != "research"
      deny 403 "model ${ai.model} is reserved for research"
    }
    rule "per-key-rpm" {
      rate-limit { name: "key-rpm", capacity: 60, rate: 1m, bucket_key: [identity.key] }
    }
  }
}
'''
REQUEST = {"now": "2026-11-26T12:00:00Z", "identity": {"key": "k1", "team": "marketing"},
           "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                       "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}}}
REQ = json.dumps(REQUEST)


def _file(tmp_path: Path, cases: str) -> Path:
    (tmp_path / "gw.aigw").write_text(POLICY)
    (tmp_path / "request.json").write_text(REQ)
    path = tmp_path / "gw.test.yaml"
    path.write_text("policy: gw.aigw\ncases:\n" + cases)
    return path


def _codes(path: Path) -> list[tuple[str, int, int, str | None]]:
    diags = check_text(path.read_text(), str(path), path.parent)
    return [(d.code, d.span.line, d.span.column, d.help) for d in diags if d.span]


def test_a_misspelled_expect_is_an_error_not_a_pass(tmp_path: Path) -> None:
    path = _file(tmp_path, "  - name: premium\n    request_file: request.json\n"
                           "    expct: {verdict: allow}\n")
    assert ("AIGW700", 5, 5, "did you mean `expect`?") in _codes(path)
    assert any(c[0] == "AIGW702" for c in _codes(path))  # and the case checks nothing
    with pytest.raises(TestFileError) as error:
        run_file(path)
    assert "gw.test.yaml:5:5" in str(error.value) and "did you mean `expect`?" in str(error.value)
    out = CliRunner().invoke(app, ["test", str(path)])
    assert out.exit_code == 2 and "AIGW700" in out.output, out.output


@pytest.mark.parametrize(("cases", "want"), [
    # every level: the file, a case, a step, expect
    ("  - name: x\n    request_file: request.json\n    expect: {verdikt: deny}\n",
     ("AIGW700", 5, 14, "did you mean `verdict`?")),
    ("  - name: x\n    steps:\n      - request_file: request.json\n        expct: {verdict: deny}\n",
     ("AIGW700", 6, 9, "did you mean `expect`?")),
    ("  - name: x\n    requst_file: request.json\n    expect: {verdict: deny}\n",
     ("AIGW700", 4, 5, "did you mean `request_file`?")),
], ids=["expect-key", "step-key", "case-key"])
def test_unknown_keys_anywhere_are_coded_errors(tmp_path: Path, cases: str, want: tuple) -> None:
    assert want in _codes(_file(tmp_path, cases))


def test_an_unknown_top_level_key(tmp_path: Path) -> None:
    (tmp_path / "gw.aigw").write_text(POLICY)
    path = tmp_path / "gw.test.yaml"
    path.write_text("policy: gw.aigw\ncase:\n  - request: {}\n")
    assert ("AIGW700", 2, 1, "did you mean `cases`?") in _codes(path)


@pytest.mark.parametrize(("cases", "code"), [
    ("  - name: x\n    request_file: request.json\n    expect: {}\n", "AIGW702"),
    ("  - name: x\n    request_file: request.json\n    expect:\n", "AIGW702"),
    ("  - name: x\n    request_file: request.json\n", "AIGW702"),
    ("  - {}\n", "AIGW702"),
    ("  - name: x\n    request_file: request.json\n    expect: {reason_contains: ''}\n", "AIGW702"),
    ("  - name: x\n    request_file: request.json\n    expect: {error: x, verdict: deny}\n", "AIGW701"),
    ("  - name: x\n    request_file: request.json\n    expect: {verdict: denied}\n", "AIGW701"),
    ("  - name: x\n    request_file: request.json\n    expect: {rule: premium-model}\n", "AIGW705"),
    ("  - name: x\n    request_file: request.json\n    expect: {limits: {key_rpm: {outcome: ok}}}\n",
     "AIGW705"),
    ("  - name: x\n    request_file: request.json\n    expect: {verdict: deny}\n    expect: {verdict: allow}\n",
     "AIGW013"),
    (("  - name: x\n    request: {identty: {key: k1}, request: {method: GET, url: 'https://x/'}}\n"
      "    expect: {verdict: allow}\n"), "AIGW704"),
    ("  - name: x\n    request_file: nope.json\n    expect: {verdict: allow}\n", "AIGW704"),
    ("  - name: x\n    request: 5\n    expect: {verdict: allow}\n", "AIGW704"),
], ids=["empty-expect", "null-expect", "no-expect", "empty-case", "empty-reason", "error-and-more",
        "bad-verdict", "no-such-rule", "no-such-limit", "duplicate-key", "bad-request", "no-request-file",
        "request-not-a-mapping"])
def test_expectations_that_check_nothing_or_the_wrong_thing(tmp_path: Path, cases: str, code: str) -> None:
    path = _file(tmp_path, cases)
    assert code in [c[0] for c in _codes(path)]
    with pytest.raises(TestFileError):
        run_file(path)


def test_did_you_mean_for_a_rule_name(tmp_path: Path) -> None:
    path = _file(tmp_path, "  - name: x\n    request_file: request.json\n    expect: {rule: premium-model}\n")
    assert ("AIGW705", 5, 20, "did you mean `premium-models`?") in _codes(path)


def test_a_failure_shows_the_actual_rule_and_reason(tmp_path: Path) -> None:
    path = _file(tmp_path, "  - name: wrong\n    request_file: request.json\n"
                           "    expect: {verdict: allow, rule: per-key-rpm}\n")
    [case] = run_file(path).cases
    text = "\n".join(case.failures)
    assert not case.passed
    assert "gw.test.yaml:5:14: verdict: expected \"allow\", got \"deny\"" in text
    assert 'expected: verdict "allow", rule "per-key-rpm"' in text
    assert 'actual:   verdict "deny", status_code 403, rule "premium-models", ' \
           'reason "model gpt-4.1 is reserved for research"' in text
    out = CliRunner().invoke(app, ["test", str(path)])
    assert out.exit_code == 1 and 'rule "premium-models"' in out.output


def test_a_nested_key_the_decision_lacks_fails_with_a_hint(tmp_path: Path) -> None:
    path = _file(tmp_path, "  - name: nested\n    request_file: request.json\n"
                           "    expect: {verdict: deny, response: {status_cod: 403}}\n")
    [case] = run_file(path).cases
    text = "\n".join(case.failures)
    assert "gw.test.yaml:5:40: response.status_cod: not in the decision" in text
    assert "did you mean `status_code`?" in text


def test_a_correct_file_runs_and_passes(tmp_path: Path) -> None:
    path = _file(tmp_path, "  - name: premium\n    request_file: request.json\n"
                           "    expect: {verdict: deny, status_code: 403, rule: premium-models,"
                           " reason_contains: reserved}\n")
    assert _codes(path) == []
    assert [c.passed for c in run_file(path).cases] == [True]


def test_a_policy_path_that_does_not_exist(tmp_path: Path) -> None:
    path = tmp_path / "gw.test.yaml"
    path.write_text("policy: gatway.aigw\ncases:\n  - {request: {}, expect: {error: x}}\n")
    [problem] = [d for d in check_text(path.read_text(), str(path), tmp_path) if d.code == "AIGW703"]
    assert "gatway.aigw" in problem.message and (problem.span.line, problem.span.column) == (1, 9)
