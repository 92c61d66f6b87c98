"""``aigw-policy explain``: decide one request and say why."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .common import PRICES_HELP, fail_usage, load_policy, load_prices, read_json
from .failures import BAD_REQUEST

if TYPE_CHECKING:
    from ..ir import Policy
    from ..providers import PriceBook


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"


def explain(
    request: Annotated[Path, typer.Argument(metavar="REQUEST", help="A request file (REQUEST.json), or - for stdin.")],
    policy: Annotated[Path, typer.Option("--policy", "-p", metavar="FILE", help="The policy file.")],
    format: Annotated[ExplainFormat, typer.Option("--format", "-f", help="Output format.")] = ExplainFormat.text,
    trace: Annotated[bool, typer.Option("--trace", help="Show every expression's value and every action's outcome.")] = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when the request is denied.")] = False,
    prices: Annotated[Optional[Path], typer.Option("--prices", metavar="FILE", help=PRICES_HELP)] = None,
) -> None:
    """Decide one request and explain why: deterministic, with a fresh in-memory store seeded
    from the request's `state` (never a real store)."""
    book = load_prices(prices)
    doc = load_policy(policy)
    data = read_json(request)
    out, denied = _explain(doc, data, json_output=format is ExplainFormat.json, trace=trace, prices=book)
    typer.echo(out)
    if exit_code and denied:
        raise typer.Exit(1)


def _explain(policy: Policy, data: object, *, json_output: bool, trace: bool,
             prices: PriceBook | None) -> tuple[str, bool]:
    """One decision with a fresh in-memory store seeded from ``state``; (output, denied).
    ``prices``: overrides before the built-in prices (``--prices FILE``)."""
    from ..env.request import RequestError
    from ..engine.runner import Engine
    from ..limits import MemoryStore

    engine = Engine(policy, store=MemoryStore(), trace=True, prices=prices)
    try:
        decision = engine.evaluate(data, apply_state=True, request_id="explain")  # type: ignore[arg-type]
    except RequestError as error:
        raise fail_usage(str(error), BAD_REQUEST) from None
    if json_output:
        return json.dumps(decision.to_dict(), indent=2, sort_keys=False, default=str), decision.verdict == "deny"
    return decision.text(trace=trace), decision.verdict == "deny"
