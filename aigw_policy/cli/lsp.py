"""``aigw-policy lsp``: the language server for editors, over stdio."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..analysis import LintOptions
from ..analysis.cost import DEFAULT_MAX_COST
from .common import fail_usage
from .failures import NOT_INSTALLED

if TYPE_CHECKING:
    from ..diagnostics import Diagnostic
    from ..ir import Policy
    from ..loader import Format


def lsp(
    runtime_lookups: Annotated[
        bool, typer.Option("--runtime-lookups", help="Also warn on identity/header lookups that can fail at run time (AIGW403), as `lint --runtime-lookups`.")
    ] = False,
    max_cost: Annotated[
        int, typer.Option("--max-cost", min=1, help="Refuse (AIGW310) CEL expressions whose worst-case cost is higher, as `lint --max-cost`.")
    ] = DEFAULT_MAX_COST,
) -> None:
    """Speak the Language Server Protocol over stdio, for .aigw and policy YAML/JSON files
    (diagnostics as `lint` reports them, hover, completion, definitions, symbols, `fmt`)."""
    try:
        from ..lsp import serve_stdio
    except ImportError as error:  # pygls is the `lsp` extra
        raise fail_usage(f"the language server needs pygls ({error.name} is missing): "
                         "pip install 'aigw-policy[lsp]'", NOT_INSTALLED) from None
    from .lint import lint_text

    options = LintOptions(max_cost=max_cost, runtime_lookups=runtime_lookups)

    def lint(path: Path, text: str, format: Format | None) -> tuple[Policy | None, list[Diagnostic]]:
        _, policy, found = lint_text(path, text, options, format)
        return policy, found

    raise typer.Exit(serve_stdio(lint))
