"""``aigw-policy fmt`` and ``convert``: rewrite a policy, in canonical DSL or in another form."""

from __future__ import annotations

import difflib
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..diagnostic_formats import diagnostics_text
from ..diagnostics import PolicyError
from ..source import Source
from .common import UTF8_BOM, expand, fail_usage, read_source, read_text
from .failures import UNWRITABLE


_NOT_WRITTEN = ("AIGW102", "AIGW105")
"""What `convert` reads and does not write, said on stderr: a skipped phase's rules
(`on_tcp_connect`, `on_event_stream_message`) and what wraps an ngrok policy (a Kubernetes
resource, an agent configuration, an API object): the output is the policy alone."""


class ConvertTarget(str, Enum):
    dsl = "dsl"
    yaml = "yaml"
    json = "json"


def fmt(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="DSL files (.aigw), or - for stdin.")],
    check: Annotated[
        bool, typer.Option("--check", help="Report files that are not formatted; write nothing.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Rewrite DSL files in canonical form (it re-parses its output to prove the meaning holds)."""
    from ..fmt import format_policy

    files = [p for p in paths if str(p) == "-"] + expand([p for p in paths if str(p) != "-"])
    if not files:
        raise fail_usage("no files to format")
    unformatted: list[Path] = []
    failed = False
    for path in files:
        if str(path) != "-" and path.suffix.lower() != ".aigw":
            raise fail_usage(
                f"`{path}`: fmt formats DSL files (.aigw); use `aigw-policy convert` for YAML/JSON", where=path
            )
        text, bom = read_source(path)
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            formatted = format_policy(text, name=name)
        except PolicyError as error:
            typer.echo(diagnostics_text(error.diagnostics, {name: Source(text, name)}), err=True)
            failed = True
            continue
        if str(path) == "-":
            typer.echo(formatted, nl=False)
            continue
        if formatted == text:
            continue
        unformatted.append(path)
        if diff:
            typer.echo("".join(difflib.unified_diff(
                text.splitlines(True), formatted.splitlines(True), str(path), f"{path} (formatted)"
            )))
        if not check and not diff:
            path.write_bytes((UTF8_BOM if bom else b"") + formatted.encode("utf-8"))
            typer.echo(f"formatted {path}", err=True)
    if check and unformatted:
        for path in unformatted:
            typer.echo(f"would reformat {path}", err=True)
    if failed or (check and unformatted):
        raise typer.Exit(1)


def convert(
    path: Annotated[Path, typer.Argument(metavar="POLICY", help="A policy file (.aigw, .yaml, .yml, .json), or -.")],
    to: Annotated[ConvertTarget, typer.Option("--to", help="Target form.")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.")
    ] = None,
    source_format: Annotated[
        Optional[ConvertTarget], typer.Option("--from", help="Source form (default: by name).")
    ] = None,
) -> None:
    """Convert a policy between the DSL and the YAML/JSON form, losslessly (comments aside;
    a skipped phase or what wraps an ngrok policy is left out, and said on stderr)."""
    from ..fmt.printer import print_dsl
    from ..loader import read
    from ..syntax.yaml_form import dump_json, dump_yaml

    text = read_text(path)
    name = "<stdin>" if str(path) == "-" else str(path)
    policy, diagnostics = read(
        text, name=name, format=source_format.value if source_format else None
    )
    errors = [d for d in diagnostics if d.is_error]
    if policy is None or errors:
        typer.echo(diagnostics_text(errors or diagnostics, {name: Source(text, name)}), err=True)
        raise typer.Exit(1)
    left_out = [d for d in diagnostics if d.code in _NOT_WRITTEN]
    if left_out:  # what the output does not hold, said (the conversion is lossless but for it)
        typer.echo(diagnostics_text(left_out, {name: Source(text, name)}), err=True)
    if to is ConvertTarget.dsl:
        result = print_dsl(policy)
    elif to is ConvertTarget.yaml:
        result = dump_yaml(policy)
    else:
        result = dump_json(policy)
    if output is None:
        typer.echo(result, nl=not result.endswith("\n"))
    else:
        try:
            output.write_text(result, encoding="utf-8")
        except OSError as error:
            raise fail_usage(f"cannot write `{output}`: {error.strerror or error}", UNWRITABLE, output) from None
