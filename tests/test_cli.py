"""The command line: outputs and exit codes (0 clean, 1 check failed, 2 bad usage/input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

EXAMPLES = Path(__file__).parent.parent / "examples"
BROKEN = Path(__file__).parent / "data" / "broken"
runner = CliRunner()

GOOD = 'policy "p" {\n  on request {\n    rule "r" {\n      deny 403\n    }\n  }\n}\n'


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_lint_clean_examples_exit_0():
    result = run("lint", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_lint_errors_exit_1_with_code_location_and_help():
    result = run("lint", str(BROKEN / "misspelled-action.aigw"))
    assert result.exit_code == 1
    assert "error[AIGW110]" in result.output
    assert "misspelled-action.aigw:5:7" in result.output
    assert "did you mean `deny`?" in result.output


def test_lint_warnings_only_exit_0_unless_strict():
    path = str(BROKEN / "unreachable.aigw")
    assert run("lint", path).exit_code == 0
    assert run("lint", "--strict", path).exit_code == 1


def test_lint_missing_file_exit_2():
    result = run("lint", "/no/such/policy.aigw")
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_lint_not_utf8_exit_2(tmp_path: Path):
    path = tmp_path / "p.aigw"
    path.write_bytes(b"\xff\xfe\x00policy")
    assert run("lint", str(path)).exit_code == 2


def test_bad_option_exit_2():
    assert run("lint", "--format", "xml", str(EXAMPLES)).exit_code == 2


def test_lint_json_and_sarif():
    path = str(BROKEN / "several-errors.aigw")
    data = json.loads(run("lint", "--format", "json", path).output)
    assert [d["code"] for d in data["diagnostics"]] == ["AIGW110", "AIGW120", "AIGW125"]
    sarif = json.loads(run("lint", "--format", "sarif", path).output)
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) == 3


def test_fmt_check_and_rewrite(tmp_path: Path):
    path = tmp_path / "p.aigw"
    path.write_text('policy "p" { on request { rule "r" { deny 403 } } }')
    assert run("fmt", "--check", str(path)).exit_code == 1
    assert run("fmt", str(path)).exit_code == 0
    assert path.read_text() == GOOD
    assert run("fmt", "--check", str(path)).exit_code == 0


def test_fmt_stdin_to_stdout():
    result = run("fmt", "-", input='policy "p" { on request { rule "r" { deny 403 } } }')
    assert result.exit_code == 0
    assert result.output == GOOD


def test_fmt_refuses_yaml(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("on_http_request: []\n")
    assert run("fmt", str(path)).exit_code == 2


def test_fmt_broken_file_exit_1():
    result = run("fmt", "--check", str(BROKEN / "missing-closing-brace.aigw"))
    assert result.exit_code == 1
    assert "AIGW002" in result.output


@pytest.mark.parametrize("to", ["dsl", "yaml", "json"])
def test_convert_round_trip(tmp_path: Path, to: str):
    import aigw_policy as ap

    source = EXAMPLES / "monthly-budget.aigw"
    out = tmp_path / f"out.{ {'dsl': 'aigw', 'yaml': 'yaml', 'json': 'json'}[to] }"
    result = run("convert", str(source), "--to", to, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert ap.load(out) == ap.load(source)


def test_convert_broken_exit_1():
    assert run("convert", str(BROKEN / "misspelled-action.aigw"), "--to", "yaml").exit_code == 1


def test_schema_is_json():
    schema = json.loads(run("schema").output)
    assert "on_http_request" in schema["properties"]


def test_codes_lists_registry():
    from aigw_policy.codes import CODES

    output = run("codes").output
    assert all(code in output for code in CODES)


def test_lint_cost_is_shown_and_its_maximum_configurable():
    path = str(BROKEN / "costly-condition.aigw")
    shown = run("lint", "--show-cost", path)
    assert "cost 20,007,003,003,002" in shown.output and "AIGW310" in shown.output
    assert "AIGW310" not in run("lint", "--max-cost", "100000000000000", path).output
    cheap = run("lint", "--max-cost", "5", str(EXAMPLES / "acme-gateway.aigw"))
    assert "AIGW310" in cheap.output and cheap.exit_code == 1  # over the maximum is an error


def test_fmt_diff_writes_nothing(tmp_path: Path):
    path = tmp_path / "p.aigw"
    messy = 'policy "p" { on request { rule "r" { deny 403 } } }'
    path.write_text(messy)
    result = run("fmt", "--diff", str(path))
    assert "+policy \"p\" {" in result.output
    assert path.read_text() == messy


def test_convert_to_an_unwritable_path_exit_2(tmp_path: Path):
    result = run("convert", str(EXAMPLES / "acme-gateway.aigw"), "--to", "yaml",
                 "-o", str(tmp_path / "no" / "such" / "dir.yaml"))
    assert result.exit_code == 2 and "cannot write" in result.output


@pytest.mark.parametrize("deep", ["[" * 5000 + "]" * 5000, "[" * 300 + "]" * 300])
def test_explain_deeply_nested_request_exit_2(tmp_path: Path, deep: str):
    path = tmp_path / "deep.json"
    path.write_text(
        '{"now": "2026-11-26T12:00:00Z", "identity": {"key": "k"}, "request": {"method": "POST",'
        ' "url": "https://api.openai.com/v1/chat/completions", "body": {"model": "gpt-4o",'
        ' "messages": [], "x": ' + deep + "}}}"
    )
    result = run("explain", str(path), "--policy", str(EXAMPLES / "acme-gateway.aigw"))
    assert result.exit_code == 2, result.output
    assert "deep" in result.output


def test_policy_test_steps_without_now_share_one_clock(tmp_path: Path):
    (tmp_path / "p.aigw").write_text(
        'policy {\n  on request {\n    rule "rpm" {\n      rate-limit { name: "rpm", capacity: 1,'
        ' rate: 1m, bucket_key: [identity.key] }\n    }\n  }\n}\n'
    )
    req = ('{identity: {key: k}, request: {method: POST, url: "https://api.openai.com/v1/chat/'
           'completions", body: {model: gpt-4o, messages: []}}}')
    (tmp_path / "p.test.yaml").write_text(
        "policy: p.aigw\ncases:\n  - name: second is limited\n    steps:\n"
        f"      - request: {req}\n        expect: {{verdict: allow}}\n"
        f"      - request: {req}\n        expect: {{verdict: deny, status_code: 429, rule: rpm}}\n"
    )
    result = run("test", str(tmp_path))
    assert result.exit_code == 0, result.output


def test_lint_goes_on_after_an_unreadable_file_and_exits_2(tmp_path: Path):
    (tmp_path / "bad.aigw").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "broken.aigw").write_text("policy { on request { rule { dney } } }")
    result = run("lint", str(tmp_path))
    assert result.exit_code == 2
    assert "AIGW110" in result.output and "could not be read" in result.output


def test_version():
    from aigw_policy import __version__

    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_load_of_a_missing_file_is_a_policy_error():
    import aigw_policy as ap

    with pytest.raises(ap.PolicyError) as info:
        ap.load("/no/such/policy.aigw")
    assert info.value.diagnostics[0].code == "AIGW007"
