"""``aigw-policy report``: the usage report as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..ledger.report import ReportError, now_utc, parse_since
from ..ledger.sinks import DEFAULT_LEDGER, LedgerError
from .common import fail_usage
from .failures import UNAVAILABLE, UNWRITABLE
from .ledger_inputs import open_limits, shown_url, stream_records


def report(
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE", help="Where to write the HTML page")],
    ledger: Annotated[str, typer.Option("--ledger", metavar="URL",
                                        help="Ledger URL: sqlite:PATH, jsonl:PATH or postgresql://...")] = DEFAULT_LEDGER,
    since: Annotated[Optional[str], typer.Option("--since", metavar="TIME",
                                                 help="Only records newer than this: 30d, 24h, 2w or an ISO date")] = "30d",
    until: Annotated[Optional[str], typer.Option("--until", metavar="TIME", help="Only records older than this")] = None,
    store: Annotated[Optional[str], typer.Option("--store", metavar="URL",
                                                 help="Read each limit's headroom now from this store (with --policy)")] = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE", help="The policy whose limits --store holds")] = None,
) -> None:
    """A usage report a team lead can read: spend and tokens by day, team, key and model,
    limits' headroom, denials, shadow rules, unpriced usage. One HTML file, nothing loaded
    when it is viewed. Reading never writes to the ledger."""
    from ..report.facts import gather
    from ..report.html_page import render_html

    now = now_utc()
    try:
        cutoff = parse_since(since, now)
        end = parse_since(until, now, "--until")
        if cutoff is not None and end is not None and end <= cutoff:
            raise ReportError(f"--until {end} is not after --since {cutoff}")
    except ReportError as exc:
        raise fail_usage(str(exc)) from None
    records = stream_records(ledger, cutoff, end)
    specs, limit_store = open_limits(store, policy)
    try:
        facts = gather(records, since=cutoff, until=end, now=now, store=limit_store, limits=specs)
    except LedgerError as exc:
        raise fail_usage(str(exc), UNAVAILABLE) from None
    finally:
        close = getattr(limit_store, "close", None)
        if callable(close):
            close()
    try:
        output.write_text(render_html(facts, ledger=shown_url(ledger)), encoding="utf-8")
    except OSError as exc:
        raise fail_usage(f"cannot write `{output}`: {exc.strerror or exc}", UNWRITABLE, output) from None
    typer.echo(f"wrote {output} ({facts.total.total.requests} requests)", err=True)
