"""The ``aigw-policy`` command line: one module per command or family of commands.

:mod:`.lint`, :mod:`.convert` (``fmt``, ``convert``), :mod:`.reference` (``schema``,
``codes``), :mod:`.explain`, :mod:`.policy_tests` (``test``), :mod:`.replay`, :mod:`.usage`,
:mod:`.report`, :mod:`.reconcile`, :mod:`.limits`, :mod:`.serve`, :mod:`.ledger` (``ledger consume``),
:mod:`.prove` (``prove rules|query|equiv``), :mod:`.lsp`; :mod:`.common` and :mod:`.ledger_inputs` hold what they
share. The commands are registered below, in the
order ``--help`` lists them.

Exit codes: 0 success or clean, 1 the check failed (lint errors, ``fmt --check`` found
unformatted files), 2 bad usage or unreadable input, shown as a coded diagnostic
(:mod:`.failures`); ``prove`` adds 3, unknown.
"""

from __future__ import annotations

import io
import sys
from typing import Annotated

import typer

from . import convert, explain, ledger, limits, lint, lsp, policy_tests, prove, reconcile, reference, replay, report, serve, usage
from .failures import CodedGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="aigw-policy",
    cls=CodedGroup,  # bad usage, as every bad input, is a coded diagnostic (docs/cli.md)
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
app.command("report", help="The usage report as one self-contained HTML page.")(report.report)
app.command("reconcile", help="Ledger, limit counters and provider usage, side by side.")(reconcile.reconcile)
app.command("limits", help="What's left for a key or team: every limit that applies, from the store.")(limits.limits)
app.command("serve", help="Run the gateway: enforce the policy in front of an LLM API.")(serve.serve)
app.add_typer(ledger.app)
app.command("lsp", help="Run the language server for editors (LSP over stdio).")(lsp.lsp)


def main() -> None:
    # A request's JSON may hold a lone surrogate (`"\ud800"`), which no UTF-8 stream takes:
    # printed as its escape, visible in text and the same escape again in JSON output.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    app()
