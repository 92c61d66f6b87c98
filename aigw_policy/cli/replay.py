"""``aigw-policy replay``: recorded traffic through a policy, or through two to compare them."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..files import bounded_lines
from .common import PRICES_HELP, fail_usage, load_policy, load_prices
from .failures import UNREADABLE

if TYPE_CHECKING:
    from ..ir import Policy
    from ..providers import PriceBook


SHOWN_ERRORS = 20
"""How many unreadable lines get a record of their own; the rest are counted (stderr)."""

MAX_LINE = 64 * 1024 * 1024
"""Bytes in a line past which it is no request (the gateway takes 32 MiB bodies; JSON
escapes can double them): skipped as it streams by, never held whole."""


class ReplayFormat(str, Enum):
    jsonl = "jsonl"
    summary = "summary"


def replay(
    traffic: Annotated[Path, typer.Argument(metavar="TRAFFIC", help="Requests, one REQUEST.json object per line (JSONL).")],
    policy: Annotated[Path, typer.Option("--policy", "-p", metavar="FILE", help="The policy file.")],
    against: Annotated[Optional[Path], typer.Option("--against", metavar="FILE", help="An older policy: print only the requests whose decision, served model or cost changes.")] = None,
    format: Annotated[ReplayFormat, typer.Option("--format", "-f", help="One decision per line, or a summary.")] = ReplayFormat.jsonl,
    prices: Annotated[Optional[Path], typer.Option("--prices", metavar="FILE", help=PRICES_HELP)] = None,
) -> None:
    """Replay recorded traffic through a policy, in order, with in-memory limits (never a real store)."""
    book = load_prices(prices)
    doc = load_policy(policy)
    old = load_policy(against) if against is not None else None
    if not traffic.is_file():
        raise fail_usage(f"cannot read `{traffic}`: {'a directory' if traffic.is_dir() else 'no such file'}",
                         UNREADABLE, traffic)
    write = typer.echo
    summary_text, code = _replay(doc, traffic, against=old, fmt=format.value, write=write,
                                 progress=sys.stderr.isatty(), prices=book)
    if summary_text is not None:
        typer.echo(summary_text)
    raise typer.Exit(code)


class _TooLong(Exception):
    """A line past ``MAX_LINE``."""


def _brief(d: Any) -> dict[str, Any]:
    out = {"verdict": d.verdict, "status_code": d.status_code, "rule": d.rule, "reason": d.reason,
           "served": _served(d), "cost_usd": d.cost_usd}
    if d.would_deny is not None:
        out["would_deny"] = d.would_deny
    return out


def _served(d: Any) -> str | None:
    """``provider:model`` that served a routed request (None: not routed, or none served)."""
    served = (d.routing or {}).get("served")
    return f"{served['provider']}:{served['model']}" if served else None


def _change(o: Any, d: Any) -> str | None:
    """How the new decision differs from the old one, or None: verdict, status or rule first,
    then the served model, then the cost (more than a millionth of a dollar)."""
    if (o.verdict, o.status_code, o.rule) != (d.verdict, d.status_code, d.rule):
        return f"{o.verdict} -> {d.verdict}" if o.verdict != d.verdict else f"{d.verdict}, other status or rule"
    if o.would_deny != d.would_deny:  # a shadow rule added, enforced or changed
        return "a shadow rule would deny otherwise"
    if _served(o) != _served(d):
        return "served by another model"
    if (o.cost_usd is None) != (d.cost_usd is None) or abs((o.cost_usd or 0.0) - (d.cost_usd or 0.0)) > 1e-6:
        return "other cost"
    return None


def _replay(policy: Policy, path: Path, *, against: Policy | None, fmt: str, write: Callable[[str], None],
            progress: bool, prices: PriceBook | None = None) -> tuple[str | None, int]:
    """Stream a JSONL file of requests through the policy (and the old
    one) with in-memory stores, in order, time from each ``now``. Memory does not grow with
    the file: lines are read one at a time and nothing is kept per request beyond the
    stores' own windows. Returns (summary text or None, exit code)."""
    from ..env.request import RequestError
    from ..engine.runner import Engine
    from ..limits import MemoryStore

    new = Engine(policy, store=MemoryStore(), prices=prices)
    old = Engine(against, store=MemoryStore(), prices=prices) if against is not None else None
    verdicts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    rules: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    shadowed: Counter[tuple[str, int]] = Counter()  # (rule, status) a shadow rule would have answered
    costs = [0.0, 0.0]  # old, new: the known costs, summed
    bad = 0
    total = 0
    size = path.stat().st_size
    bar = None
    if progress and size > 1_000_000:
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                       TimeRemainingColumn(), transient=True)
        task = bar.add_task("replaying", total=size)
        bar.start()
    done = 0
    try:
        with open(path, "rb") as f:
            for n, (raw, length) in enumerate(bounded_lines(f, MAX_LINE), 1):
                done += length
                if bar is not None and n % 256 == 0:
                    bar.update(task, completed=done)
                line = raw.strip() if raw is not None else None
                if line == b"":
                    continue
                total += 1
                try:
                    if line is None:
                        raise _TooLong(f"longer than {MAX_LINE:,} bytes: no request is this long")
                    data = json.loads(line)
                    d = new.evaluate(data, apply_state=True, request_id=f"line-{n}", expect_response=False)
                    o = (old.evaluate(data, apply_state=True, request_id=f"line-{n}", expect_response=False)
                         if old is not None else None)
                except (ValueError, RequestError, RecursionError, _TooLong) as error:
                    bad += 1
                    msg = (str(error) if isinstance(error, (RequestError, _TooLong))
                           else "nested too deeply to read" if isinstance(error, RecursionError)
                           else f"not valid JSON: {error}")
                    if fmt == "jsonl" and bad <= SHOWN_ERRORS:
                        write(json.dumps({"line": n, "error": msg}))
                    continue
                verdicts[d.verdict] += 1
                statuses[d.status_code] += 1
                rules[d.rule or "(default)"] += 1
                if d.would_deny is not None:
                    shadowed[(d.would_deny["rule"], d.would_deny["status"])] += 1
                if o is not None:
                    costs[0] += o.cost_usd or 0.0
                    costs[1] += d.cost_usd or 0.0
                    key = _change(o, d)
                    if key is not None:
                        changes[key] += 1
                        if fmt == "jsonl":
                            write(json.dumps({"line": n, "id": d.id, "now": d.now, "old": _brief(o), "new": _brief(d)}))
                elif fmt == "jsonl":
                    out = d.to_dict()
                    out["line"] = n
                    write(json.dumps(out, default=str))
    finally:
        if bar is not None:
            bar.stop()
    code = 2 if bad else 0  # unreadable input: reported line by line, then exit 2
    if fmt != "summary":
        if bad > SHOWN_ERRORS:
            typer.echo(f"aigw-policy: `{path}`: {bad:,} of {total:,} lines are no request; "
                       f"the first {SHOWN_ERRORS} are shown", err=True)
        return None, code
    lines = [f"{total:,} requests" + (f", {bad:,} unreadable" if bad else "")]
    for v, c in verdicts.most_common():
        lines.append(f"  {v:<6} {c:>10,}")
    if statuses:
        lines.append("by status:")
        for s, c in sorted(statuses.items()):
            lines.append(f"  {s:<6} {c:>10,}")
    if rules:
        lines.append("by deciding rule:")
        for r, c in rules.most_common(20):
            lines.append(f"  {c:>10,}  {r}")
    if shadowed:
        lines.append("shadow rules would have denied (let through):")
        for (r, s), c in shadowed.most_common(20):
            lines.append(f"  {c:>10,}  {r} ({s})")
    if old is not None:
        changed = sum(changes.values())
        lines.append(f"changed against the old policy: {changed:,}")
        for k, c in changes.most_common():
            lines.append(f"  {c:>10,}  {k}")
        lines.append(f"known cost: ${costs[0]:,.6f} under the old policy, ${costs[1]:,.6f} under this one")
    return "\n".join(lines), code
