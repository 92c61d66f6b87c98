"""The ``aigw-policy`` command line: one module per command or family of commands.

:mod:`.lint`, :mod:`.convert` (``fmt``, ``convert``), :mod:`.reference` (``schema``,
``codes``), :mod:`.explain`, :mod:`.policy_tests` (``test``), :mod:`.replay`, :mod:`.usage`,
:mod:`.serve`, :mod:`.prove` (``prove rules|query|equiv``); :mod:`.common` holds what they share. The commands are registered below, in the
order ``--help`` lists them.

Exit codes: 0 success or clean, 1 the check failed (lint errors, ``fmt --check`` found
unformatted files), 2 bad usage or unreadable input; ``prove`` adds 3, unknown.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import convert, explain, lint, policy_tests, prove, reference, replay, serve, usage

__all__ = ["app", "main"]

app = typer.Typer(
    name="aigw-policy",
    help="Lint, format, convert, explain, test and replay AI gateway traffic policies.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
    rich_markup_mode=None,  # plain help: rich help shows `<bool>` after every flag
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"aigw-policy {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Lint, format, convert, explain, test and replay AI gateway traffic policies."""


app.command()(lint.lint)
app.command()(convert.fmt)
app.command()(convert.convert)
app.command()(reference.schema)
app.command()(reference.codes)
app.command()(explain.explain)
app.command("test")(policy_tests.test_policies)
app.command()(replay.replay)
app.add_typer(prove.app, name="prove")
app.command("usage", help="Where did the tokens go: usage and cost from the ledger.")(usage.usage)
app.command("serve", help="Run the gateway: enforce the policy in front of an LLM API.")(serve.serve)


def main() -> None:
    app()
