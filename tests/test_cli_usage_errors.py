"""Bad usage of any command (an unknown option or command, a missing argument, a value not
among the choices, a number out of range) is one coded diagnostic, `error[AIGW900]`, with a
help line naming the command's --help, and exit 2: the same shape every bad input has
(docs/cli.md), never click's `Usage:`/`Error:` banner. Every code a command prints is
registered; lint lists an unreadable file among its findings, in JSON and SARIF too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.codes import CODES

EXAMPLES = Path(__file__).parent.parent / "examples"


def _commands() -> list[tuple[str, ...]]:
    """Every runnable command path: `lint`, `prove rules`, `ledger consume`, ..."""
    out: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, (*path, name))
        else:
            out.append(path)

    walk(typer.main.get_command(app), ())
    return sorted(out)


COMMANDS = _commands()


def _coded_usage(argv: list[str]) -> str:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, (argv, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert re.match(r"error\[AIGW900\]: \S", result.output), result.output
    assert "Usage:" not in result.output and "Error:" not in result.output, result.output
    assert "--help` lists its arguments and options" in result.output, result.output
    return result.output


def test_every_command_is_listed() -> None:
    assert {c[0] for c in COMMANDS} >= {"lint", "fmt", "explain", "test", "replay", "convert", "schema", "usage",
                                        "serve", "prove", "report", "reconcile", "lsp", "limits"}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unknown_option_is_a_coded_diagnostic(command: tuple[str, ...]) -> None:
    assert "--no-such-option" in _coded_usage([*command, "--no-such-option"])


@pytest.mark.parametrize("argv", [
    ["no-such-command"], ["prove", "no-such-question"], ["ledger", "no-such"],  # unknown command
    ["explain"], ["replay"], ["convert"], ["prove", "rules"], ["prove", "equiv", "a.aigw"],  # missing argument
    ["explain", "r.json"], ["limits", "--key", "k"],  # a required option missing
    ["lint", "--format", "yaml", "x.aigw"], ["convert", "x.aigw", "--to", "toml"],  # not among the choices
    ["prove", "query", "x.aigw", "--verdict", "maybe", "--where", "true"],
    ["lint", "--max-cost", "0", "x.aigw"], ["prove", "rules", "x.aigw", "--timeout", "0"],  # out of range
    ["lint", "--max-cost", "many", "x.aigw"],  # not a number
], ids=" ".join)
def test_bad_usage_is_a_coded_diagnostic(argv: list[str]) -> None:
    _coded_usage(argv)


def test_no_command_shows_the_help() -> None:  # not an error: the help, as before
    result = CliRunner().invoke(app, [])
    assert "Commands" in result.output and "AIGW" not in result.output


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_lint_lists_an_unreadable_file_among_its_findings(tmp_path: Path, fmt: str) -> None:
    missing = tmp_path / "missing.aigw"
    result = CliRunner().invoke(app, ["lint", "--format", fmt, str(missing), str(EXAMPLES / "key-limits.aigw")])
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    text = json.dumps(data)
    assert "AIGW007" in text and str(missing) in text


@pytest.mark.parametrize("argv", [
    ["lint", "{missing}"], ["explain", "{missing}", "--policy", str(EXAMPLES / "key-limits.aigw")],
    ["prove", "rules", "{missing}"], ["usage", "--ledger", "jsonl:{missing}"], ["test", "{missing}"],
    ["report", "--ledger", "jsonl:{missing}", "-o", "{out}"], ["lint", "--bogus"],
    ["convert", str(EXAMPLES / "key-limits.aigw"), "--to", "yaml", "-o", "{tmp}"],
    ["report", "--ledger", "jsonl:{empty}", "-o", "{tmp}"],
], ids=lambda a: " ".join(a)[:40])
def test_every_code_printed_is_registered(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    argv = [a.format(missing=tmp_path / "missing.aigw", out=tmp_path / "out.html", tmp=tmp_path,
                     empty=tmp_path / "empty.jsonl") for a in argv]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    printed = re.findall(r"error\[(AIGW\d{3})\]", result.output)
    assert printed and set(printed) <= set(CODES), result.output


@pytest.mark.parametrize("argv", [["fmt", "{yaml}"], ["test", "{dir}"], ["lint", "{dir}"], ["replay", "{dir}", "--policy",
                                  str(EXAMPLES / "key-limits.aigw")]], ids=" ".join)
def test_a_file_the_command_cannot_take_is_placed_at_it(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    named = {"{yaml}": str(EXAMPLES / "key-limits.yaml"), "{dir}": str(tmp_path / "empty")}
    path = next(named[a] for a in argv if a in named)
    result = CliRunner().invoke(app, [named.get(a, a) for a in argv])
    assert result.exit_code == 2, result.output
    assert re.match(rf"error\[AIGW\d{{3}}\]: [^\n]*\n  --> {re.escape(path)}\n", result.output), result.output
