"""``--help`` for people, and shell completion."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

runner = CliRunner()
COMMANDS = ["lint", "fmt", "convert", "schema", "codes", "explain", "test", "replay", "usage", "report", "reconcile",
            "limits", "serve", "lsp"]


PROVE = [["prove"], ["prove", "rules"], ["prove", "query"], ["prove", "equiv"]]


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS), *PROVE],
                         ids=["main", *COMMANDS, *(" ".join(c) for c in PROVE)])
def test_help_shows_no_type_on_flags(command: list[str]) -> None:
    out = runner.invoke(app, [*command, "--help"], terminal_width=120)
    assert out.exit_code == 0, out.output
    assert "<bool>" not in out.output and "BOOLEAN" not in out.output
    assert "--help" in out.output


@pytest.mark.parametrize("command", ["explain", "replay", "convert", "usage", "report", "reconcile", "limits"])
def test_files_and_urls_are_named(command: str) -> None:
    out = runner.invoke(app, [command, "--help"], terminal_width=120)
    assert "<Path>" not in out.output and "<str>" not in out.output and "<list[str]>" not in out.output


def test_arguments_are_named_in_usage() -> None:
    out = runner.invoke(app, ["explain", "--help"])
    assert "Usage: aigw-policy explain [OPTIONS] {REQUEST}" in out.output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script(shell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # typer's own switch: take the shell named here rather than detect the parent process's
    # (detection fails when the suite runs without a shell above it, e.g. under a CI runner)
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    out = runner.invoke(app, ["--show-completion", shell])
    assert out.exit_code == 0, out.output
    assert "_AIGW_POLICY_COMPLETE" in out.output
