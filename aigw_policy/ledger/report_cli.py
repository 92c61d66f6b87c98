"""The ``aigw-policy usage`` command (registered by aigw_policy/cli.py as ``usage``)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .report import RENDERERS, ReportError, now_utc, parse_by, parse_since, summarize
from .sinks import DEFAULT_LEDGER, LedgerError, local_path, open_sink


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def usage(
    ledger: Annotated[
        str,
        typer.Option("--ledger", help="Ledger URL: sqlite:PATH, jsonl:PATH or postgresql://...", show_default=True),
    ] = DEFAULT_LEDGER,
    by: Annotated[
        str, typer.Option("--by", help="Group by a comma list of: key, user, team, org, model, provider, operation, verdict, day")
    ] = "model",
    since: Annotated[
        Optional[str], typer.Option("--since", help="Only records newer than this: 7d, 24h, 30m, 2w or an ISO date")
    ] = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="table for a person, json or csv for scripts")] = ReportFormat.table,  # noqa: A002
) -> None:
    """Where did my tokens go? Totals of tokens and cost from the usage ledger."""
    try:
        keys = parse_by(by)
        cutoff = parse_since(since, now_utc())
    except ReportError as exc:
        typer.echo(f"aigw-policy: {exc}", err=True)
        raise typer.Exit(2) from None
    local = local_path(ledger)
    if local is not None and not Path(local[1]).exists():
        typer.echo(f"aigw-policy: ledger `{ledger}` does not exist", err=True)
        raise typer.Exit(2)
    try:
        sink = open_sink(ledger)
        try:
            report = summarize(sink.read(cutoff), keys, cutoff)
        finally:
            sink.close()
    except LedgerError as exc:
        typer.echo(f"aigw-policy: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(RENDERERS[format.value](report), nl=False)
