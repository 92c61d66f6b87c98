"""``aigw-policy usage``: where the tokens went, from the usage ledger."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..ledger.reader import read_ledger
from ..ledger.report import RENDERERS, ReportError, Where, now_utc, parse_by, parse_since, summarize
from ..ledger.shadow import render_shadow, shadow_rows
from ..ledger.sinks import DEFAULT_LEDGER, LedgerError, local_path
from .common import fail_usage
from .ledger_inputs import warn_skipped
from .failures import UNAVAILABLE, UNREADABLE


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def usage(
    ledger: Annotated[
        str,
        typer.Option("--ledger", metavar="URL", help="Ledger URL: sqlite:PATH, jsonl:PATH or postgresql://...", show_default=True),
    ] = DEFAULT_LEDGER,
    by: Annotated[
        str, typer.Option("--by", metavar="KEYS", help="Group by a comma list of: key, user, team, org, model, provider, operation, verdict, day, month")
    ] = "model",
    since: Annotated[
        Optional[str], typer.Option("--since", metavar="TIME", help="Only records newer than this: 7d, 24h, 30m, 2w or an ISO date")
    ] = None,
    until: Annotated[
        Optional[str], typer.Option("--until", metavar="TIME", help="Only records older than this (same forms as --since)")
    ] = None,
    team: Annotated[Optional[list[str]], typer.Option("--team", metavar="TEAM", help="Only this team (repeat for several)")] = None,
    key: Annotated[Optional[list[str]], typer.Option("--key", metavar="KEY", help="Only this key id (repeat for several)")] = None,
    verdict: Annotated[Optional[list[str]], typer.Option("--verdict", metavar="allow|deny", help="Only this verdict")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="table for a person, json or csv for scripts")] = ReportFormat.table,  # noqa: A002
    shadow: Annotated[bool, typer.Option("--shadow", help="List what shadow rules (mode: shadow, enforce: false) would have denied, by rule and status")] = False,
) -> None:
    """Where did my tokens go? Totals of tokens and cost from the usage ledger.

    Reading never writes: a ledger whose table does not exist yet has no usage."""
    try:
        keys = parse_by(by)
        now = now_utc()
        cutoff = parse_since(since, now)
        end = parse_since(until, now, "--until")
        where = Where(tuple(team or ()), tuple(key or ()), tuple(verdict or ()))
    except ReportError as exc:
        raise fail_usage(str(exc)) from None
    local = local_path(ledger)
    if local is not None and not Path(local[1]).exists():
        raise fail_usage(f"ledger `{ledger}` does not exist", UNREADABLE, local[1])
    try:
        if shadow:
            rows = shadow_rows(read_ledger(ledger, cutoff, end, skipped=warn_skipped(ledger)), cutoff, end, where)
            typer.echo(render_shadow(rows, format.value), nl=False)
            return
        report = summarize(read_ledger(ledger, cutoff, end, skipped=warn_skipped(ledger)), keys, cutoff, until=end,
                           where=where)
    except (LedgerError, ReportError) as exc:
        raise fail_usage(str(exc), UNAVAILABLE, local[1] if local is not None else None) from None
    typer.echo(RENDERERS[format.value](report), nl=False)
