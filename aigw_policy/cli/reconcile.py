"""``aigw-policy reconcile``: ledger, limit counters and the provider's usage, side by side."""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..ledger.sinks import DEFAULT_LEDGER
from .common import fail_usage, plural, read_text
from .failures import UNAVAILABLE
from .ledger_inputs import open_limits, read_records


class ReconcileFormat(str, Enum):
    text = "text"
    json = "json"


def _n(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.6f}".rstrip("0").rstrip(".")


def reconcile(
    ledger: Annotated[str, typer.Option("--ledger", metavar="URL",
                                        help="Ledger URL: sqlite:PATH, jsonl:PATH or postgresql://...")] = DEFAULT_LEDGER,
    store: Annotated[Optional[str], typer.Option("--store", metavar="URL", help="The limit store to compare (with --policy)")] = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", metavar="FILE", help="The policy whose limits --store counts")] = None,
    provider_usage: Annotated[Optional[list[Path]], typer.Option(
        "--provider-usage", metavar="FILE",
        help="A usage export of OpenAI or Anthropic, JSON or CSV (repeat for several)")] = None,
    format: Annotated[ReconcileFormat, typer.Option("--format", help="text for a person, json for scripts")] = ReconcileFormat.text,  # noqa: A002
) -> None:
    """Do the billing signals line up? Every difference between the ledger, the store's
    counters and the provider's usage, with the requests that explain it. Exit 1 when a
    difference is unexplained."""
    from ..limits.model import StoreUnavailable
    from ..report.provider_usage import UsageExportError, parse_usage_export
    from ..report.reconcile import Reconciliation, against_counters, against_provider

    if store is None and not provider_usage:
        raise fail_usage("nothing to compare the ledger with: give --store and --policy, or --provider-usage")
    buckets = []
    for path in provider_usage or ():
        try:
            buckets.extend(parse_usage_export(read_text(path), str(path)))
        except UsageExportError as exc:
            raise fail_usage(exc.message, exc.code, exc.location) from None
    records = read_records(ledger)
    specs, limit_store = open_limits(store, policy)
    result = Reconciliation()
    try:
        if limit_store is not None:
            result.rows += against_counters(records, specs, limit_store, time.time())
    except StoreUnavailable as exc:
        raise fail_usage(f"the store did not answer: {exc}", UNAVAILABLE) from None
    finally:
        close = getattr(limit_store, "close", None)
        if callable(close):
            close()
    if buckets:
        result.rows += against_provider(records, buckets)
    if format is ReconcileFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _text(result)
    if result.unexplained:
        raise typer.Exit(1)


def _text(result: object) -> None:
    from ..report.reconcile import Reconciliation

    assert isinstance(result, Reconciliation)
    if not result.rows:
        typer.echo("nothing to compare: the ledger names no limit bucket or provider window")
        return
    for source, title in (("counter", "ledger vs limit counters"), ("provider", "ledger vs provider usage")):
        rows = [r for r in result.rows if r.source == source]
        if not rows:
            continue
        typer.echo(title)
        for r in rows:
            window = f"[{r.start[:19]}Z, {r.end[:19]}Z)" if r.start else "(no window)"
            typer.echo(f"  {r.status:<12} {r.subject} {r.key!r} {window} {r.measure}: "
                       f"ledger {_n(r.ledger)}, {source} {_n(r.other)}, difference {_n(r.difference)}"
                       + (f"  ({r.note})" if r.note else ""))
            for e in r.explained_by:
                typer.echo(f"      {e.request_id}: {e.why} ({_n(e.amount)})")
    n = len(result.unexplained)
    typer.echo(f"{plural(len(result.rows), 'comparison')}, {plural(n, 'unexplained difference')}")
