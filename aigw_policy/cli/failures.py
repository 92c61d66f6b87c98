"""How a command fails on what it was given: one coded diagnostic on stderr, shaped as lint's
(``error[CODE]: message``, ``--> where`` with ``line:column`` when known, ``= help: ...``), and
exit 2; never a traceback or an uncoded line.

Every command raises :class:`CommandFailure` (through ``common.fail_usage``); click's own usage
errors (an unknown option, a missing argument, a bad choice) are turned into one by
:class:`CodedGroup`, the class of the ``aigw-policy`` command group, so the nested groups
(``prove``, ``ledger``) are covered too. The codes are documented in docs/cli.md and
docs/diagnostics.md.
"""

from __future__ import annotations

import sys
from typing import IO, Any

import typer
from typer.core import TyperGroup

from ..diagnostics import Diagnostic
from ..source import Span

__all__ = ["CodedGroup", "CommandFailure", "UNREADABLE", "TOO_LARGE", "JSON_SYNTAX", "USAGE", "UNWRITABLE",
           "UNAVAILABLE", "NOT_INSTALLED", "BAD_PRICES", "BAD_REQUEST", "SKIPPED_LINES", "warn"]

UNREADABLE = "AIGW007"  # missing, a directory, no permission, not UTF-8
TOO_LARGE = "AIGW008"  # past the input bound, or nested too deeply to read
JSON_SYNTAX = "AIGW011"
BAD_REQUEST = "AIGW510"  # a REQUEST.json not of SPEC §8's shape
USAGE = "AIGW900"  # the command line: unknown option, missing or invalid argument, options that go together
UNWRITABLE = "AIGW901"
UNAVAILABLE = "AIGW902"  # a store or ledger that cannot be opened or did not answer
NOT_INSTALLED = "AIGW903"
BAD_PRICES = "AIGW904"
SKIPPED_LINES = "AIGW905"  # a warning: the command goes on

# the click typer runs on (its own copy since typer 0.24, the click package before)
_clicks = sys.modules[typer.BadParameter.__module__]


class CommandFailure(_clicks.ClickException):  # type: ignore[name-defined]  # typer's click, found at run time
    """The command cannot run on its input; shown as one coded diagnostic, exit 2."""

    exit_code = 2

    def __init__(self, code: str, message: str, where: object = None, *, line: int | None = None,
                 column: int | None = None, help: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.where = None if where is None else str(where)
        self.line = line
        self.column = column
        self.help = help

    def text(self) -> str:
        lines = [f"error[{self.code}]: {self.message}"]
        if self.where is not None:
            at = f":{self.line}:{self.column or 1}" if self.line is not None else ""
            lines.append(f"  --> {self.where}{at}")
        if self.help:
            lines.append(f"  = help: {self.help}")
        return "\n".join(lines)

    def show(self, file: IO[Any] | None = None) -> None:
        typer.echo(self.text(), file=file, err=file is None)

    def diagnostic(self) -> Diagnostic:
        """As a lint finding (lint's JSON and SARIF list an unreadable file too)."""
        line, column = self.line or 1, self.column or 1
        span = Span(0, 0, line, column, line, column, self.where)
        return Diagnostic.make(self.code, self.message, span, self.help)


def warn(code: str, message: str, where: object = None, *, line: int | None = None,
         help: str | None = None) -> None:
    """A coded warning on stderr, shaped as a failure's diagnostic; the command goes on."""
    text = CommandFailure(code, message, where, line=line, help=help).text()
    typer.echo("warning" + text.removeprefix("error"), err=True)


def coded_usage(error: Any) -> CommandFailure:
    """click's usage error as a coded diagnostic, its help naming the command's --help."""
    message = error.format_message()
    path = error.ctx.command_path if error.ctx is not None else "aigw-policy"
    return CommandFailure(USAGE, message[:1].lower() + message[1:].rstrip("."),
                          help=f"`{path} --help` lists its arguments and options")


def _coding(error: Any) -> Exception:
    if type(error).__name__ == "NoArgsIsHelpError":  # `aigw-policy prove`: the help
        return error
    return coded_usage(error)


class CodedGroup(TyperGroup):
    """The command group whose usage errors, its own and its subcommands', are coded."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _clicks.UsageError as error:
            raise _coding(error) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _clicks.UsageError as error:
            raise _coding(error) from None
