"""`aigw-policy prove` and lint's solver warnings from the command line: output shapes and
exit codes (0 proved, 1 possible/counterexample, 2 bad input, 3 unknown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

from .helpers import compiled, explain

POLICY = """\
on_http_request:
  - name: support-no-opus
    expressions: ["identity.team == 'support' && ai.model.startsWith('claude-opus')"]
    actions: [{type: deny, config: {status_code: 403}}]
  - name: opus-for-support
    expressions: ["identity.team == 'support' && ai.model == 'claude-opus-4'"]
    actions: [{type: allow}]
  - name: never
    expressions: ["ai.max_output_tokens > 10 && ai.max_output_tokens < 5"]
    actions: [{type: log}]
"""
STRICTER = POLICY.replace("status_code: 403", "status_code: 451")
RESPONSE = POLICY + "on_http_response:\n  - name: tag\n    actions: [{type: log}]\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("p", POLICY), ("q", STRICTER), ("r", RESPONSE)):
        out[name] = tmp_path / f"{name}.yaml"
        out[name].write_text(text)
    return out


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_rules_text_and_json(files: dict[str, Path]) -> None:
    code, out = run("prove", "rules", str(files["p"]))
    assert code == 0
    assert "reachable    support-no-opus" in out and "shadowed     opus-for-support" in out
    assert "unreachable  never" in out
    code, out = run("prove", "rules", str(files["p"]), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["result"] == "proved" and data["witness"] is None
    by_rule = {d["rule"]: d for d in data["details"]}
    assert by_rule["opus-for-support"]["shadowed_by"] == ["support-no-opus"]
    witness = by_rule["support-no-opus"]["witness"]
    assert explain(compiled(POLICY), witness)[:3] == ("deny", 403, "support-no-opus")


def test_rules_unknown_exits_3(files: dict[str, Path]) -> None:
    code, out = run("prove", "rules", str(files["r"]), "-f", "json")
    assert code == 3 and json.loads(out)["result"] == "unknown"


@pytest.mark.parametrize("where, verdict, code, result", [
    ("identity.team == 'support' && ai.model == 'claude-opus-4'", "allow", 0, "impossible"),
    ("identity.team == 'support' && ai.model == 'claude-sonnet-4'", "allow", 1, "possible"),
])
def test_query(files: dict[str, Path], where: str, verdict: str, code: int, result: str) -> None:
    got, out = run("prove", "query", str(files["p"]), "--where", where, "--verdict", verdict, "-f", "json")
    data = json.loads(out)
    assert got == code and data["result"] == result
    assert (data["witness"] is not None) == (result == "possible")


# a coded diagnostic placed in the option's text (docs/cli.md), the code its own, not nested
@pytest.mark.parametrize(("where", "found", "place"), [
    ("identity.tem == 1", "AIGW300", "--where:1:1"),  # undeclared
    ("ai.model ==", "AIGW200", "--where:1:12"),  # does not parse
    ("1", "AIGW303", "--where"),  # not a bool: was answered `unknown` (exit 3), as if it were a question
    ("ai.model", "AIGW303", "--where"),
    ("req.url.query_params", "AIGW303", "--where"),
])
def test_query_bad_where_exits_2(files: dict[str, Path], where: str, found: str, place: str) -> None:
    code, out = run("prove", "query", str(files["p"]), "--where", where, "--verdict", "deny")
    assert code == 2 and out.startswith(f"error[{found}]: --where: ") and f"\n  --> {place}\n" in out + "\n", out
    assert out.count("AIGW") == 1 and "Traceback" not in out


def test_query_response_rules_make_a_proof_unknown(files: dict[str, Path]) -> None:
    code, out = run("prove", "query", str(files["r"]), "--where", "identity.team == 'support' && "
                    "ai.model == 'claude-opus-4'", "--verdict", "allow")
    assert code == 3 and out.startswith("unknown: response-phase rules")


def test_equiv(files: dict[str, Path]) -> None:
    code, out = run("prove", "equiv", str(files["p"]), str(files["p"]))
    assert code == 0 and out.startswith("equivalent")
    code, out = run("prove", "equiv", str(files["p"]), str(files["q"]), "-f", "json")
    data = json.loads(out)
    assert code == 1 and data["result"] == "counterexample"
    old, new = explain(compiled(POLICY), data["witness"]), explain(compiled(STRICTER), data["witness"])
    assert (old[1], new[1]) == (403, 451)
    assert data["details"] == [{"policy": "old", "verdict": "deny", "status_code": 403, "rule": "support-no-opus"},
                               {"policy": "new", "verdict": "deny", "status_code": 451, "rule": "support-no-opus"}]


def test_bad_policy_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("on_http_request:\n  - expressions: ['nope(']\n    actions: [{type: deny}]\n")
    assert run("prove", "rules", str(bad))[0] == 2


def test_missing_z3_says_how_to_install(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import aigw_policy.prove as prove

    monkeypatch.setattr(prove, "available", lambda: False)
    code, out = run("prove", "rules", str(files["p"]))
    assert code == 2 and "pip install 'aigw-policy[prove]'" in out


def test_lint_reports_the_solver_warnings_instead_of_never_runs(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY + "  - name: all\n    actions: [{type: deny}]\n  - name: after\n    actions: [{type: log}]\n")
    code, out = run("lint", str(path), "--format", "json")
    found = {(d["code"], d["message"].split("`")[1]) for d in json.loads(out)["diagnostics"]}
    assert ("AIGW421", "opus-for-support") in found and ("AIGW420", "never") in found
    assert ("AIGW421", "after") in found and not any(c == "AIGW401" for c, _ in found)
    code, out = run("lint", str(path), "--format", "json", "--prove-seconds", "0")
    codes = {d["code"] for d in json.loads(out)["diagnostics"]}
    assert "AIGW401" in codes and not codes & {"AIGW420", "AIGW421"}


LIMITED = """\
on_http_request:
  - name: rpm
    actions: [{type: rate-limit, config: {name: rpm, capacity: 10, rate: 1m, bucket_key: ["ai.model"]}}]
"""
UNLIMITED = "on_http_request:\n  - name: log\n    actions: [{type: log}]\n"


@pytest.mark.parametrize("question, flags, code, result", [
    # a limit may be in any state: only an over limit denies, which no witness (empty counters) shows
    (["query", "{limited}", "--where", "true", "--verdict", "deny"], [], 3, "unknown"),
    (["query", "{limited}", "--where", "true", "--verdict", "deny"], ["--limits-ok"], 0, "impossible"),
    (["equiv", "{limited}", "{unlimited}"], [], 3, "unknown"),
    (["equiv", "{limited}", "{unlimited}"], ["--limits-ok"], 0, "equivalent"),
    (["equiv", "{limited}", "{unlimited}"], ["--limits-ok", "--timeout", "5"], 0, "equivalent"),
])
def test_limits_ok_says_every_limit_has_room(tmp_path: Path, question: list[str], flags: list[str],
                                             code: int, result: str) -> None:
    """SPEC §13: limits are free unless `--limits-ok` (a flag of every question) says every
    limit has room."""
    paths = {"limited": tmp_path / "limited.yaml", "unlimited": tmp_path / "unlimited.yaml"}
    paths["limited"].write_text(LIMITED)
    paths["unlimited"].write_text(UNLIMITED)
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in question]
    got, out = run("prove", *args, *flags, "-f", "json")
    assert (got, json.loads(out)["result"]) == (code, result), out
