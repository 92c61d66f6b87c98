"""``--help`` for people, and shell completion."""

from __future__ import annotations

from typing import Any

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


def _readme_rows() -> list[str]:
    from pathlib import Path

    text = (Path(__file__).parent.parent / "README.md").read_text()
    return [line.replace("\\|", "|").split("`")[1] for line in text.splitlines() if line.startswith("| `aigw-policy ")]


def _commands() -> dict[str, object]:
    """Every command line's leaf command, by its words (``prove rules``, ``ledger consume``)."""
    import typer.main

    out: dict[str, object] = {}

    def walk(prefix: str, command: Any) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            out[prefix] = command

    walk("", typer.main.get_command(app))
    return out



def _row_commands(usage: str) -> list[str]:
    """The commands a README row names: ``prove rules|query|equiv ...`` names three."""
    words = usage.split()[1:]
    if any(k.startswith(words[0] + " ") for k in _commands()):
        return [f"{words[0]} {sub}" for sub in words[1].split("|")]
    return [words[0]]


@pytest.mark.parametrize("usage", _readme_rows())
def test_each_flag_in_the_readme_table_is_its_command_s(usage: str) -> None:
    """README's command table gives each command's flags as they are spelt."""
    import re

    commands = _commands()
    named = _row_commands(usage)
    assert set(named) <= set(commands), f"README names {named}; the commands are {sorted(commands)}"
    known = {o for name in named for p in commands[name].params for o in (*p.opts, *p.secondary_opts)}  # type: ignore[attr-defined]
    assert set(re.findall(r"--[a-z][a-z-]*", usage)) <= known, usage


def test_every_command_is_in_the_readme_table() -> None:
    listed = {name for usage in _readme_rows() for name in _row_commands(usage)}
    assert sorted(set(_commands()) - listed) == []
