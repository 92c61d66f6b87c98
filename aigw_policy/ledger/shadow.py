"""What shadow rules would have blocked (``aigw-policy usage --shadow``), from the ledger.

A record whose ``would_deny`` is set and whose request was let through (not denied by an
enforced rule after all) is one a rule in ``mode: shadow`` (or a limit with ``enforce: false``)
would have answered: grouped by that rule and status, with
the requests, tokens and cost it would have stopped, one reason as an example, the first and
last time, and up to :data:`EXAMPLES` request ids to look up.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .record import UsageRecord
from .report import Where, csv_text, shown

__all__ = ["EXAMPLES", "ShadowRow", "render_shadow", "shadow_rows"]

EXAMPLES = 3


@dataclass
class ShadowRow:
    rule: str
    status: int
    requests: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    reason: str = ""
    first: str = ""
    last: str = ""
    request_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "requests": self.requests,
                "total_tokens": self.total_tokens, "cost_usd": self.cost_usd, "reason": self.reason,
                "first": self.first, "last": self.last, "request_ids": list(self.request_ids)}


def shadow_rows(records: Iterable[UsageRecord], since: str | None = None, until: str | None = None,
                where: Where | None = None) -> list[ShadowRow]:
    """One row per (rule, status) a shadow rule would have answered, most requests first."""
    where = where or Where()
    rows: dict[tuple[str, int], ShadowRow] = {}
    for r in records:
        if (r.would_deny is None or r.verdict == "deny" or (since is not None and r.time < since)
                or (until is not None and r.time >= until)):
            continue  # no shadow denial, or the request was denied anyway: not let through
        if not where.matches(r):
            continue
        try:
            would = json.loads(r.would_deny)
        except ValueError:  # not written by the gateway: still counted, under no rule
            would = {}
        would = would if isinstance(would, dict) else {}
        group = (str(would.get("rule") or "-"), int(would.get("status") or 0))
        row = rows.get(group)
        if row is None:
            row = rows[group] = ShadowRow(*group, reason=str(would.get("reason") or ""), first=r.time)
        row.requests += 1
        row.total_tokens += r.total_tokens
        if r.cost_usd is not None:
            row.cost_usd = (row.cost_usd or 0.0) + r.cost_usd
        row.first, row.last = min(row.first, r.time), max(row.last, r.time)
        if len(row.request_ids) < EXAMPLES:
            row.request_ids.append(r.request_id)
    return sorted(rows.values(), key=lambda x: (-x.requests, x.rule, x.status))


def render_shadow(rows: list[ShadowRow], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"would_deny": [r.to_dict() for r in rows]}, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")  # RFC 4180: a CR or LF in a cell is quoted
        w.writerow(["rule", "status", "requests", "total_tokens", "cost_usd", "first", "last", "reason"])
        for r in rows:
            w.writerow([csv_text(r.rule), r.status, r.requests, r.total_tokens,
                        "" if r.cost_usd is None else f"{r.cost_usd:.6f}", r.first, r.last, csv_text(r.reason)])
        return out.getvalue()
    if not rows:
        return "no shadow rule would have denied a request\n"
    lines = ["shadow rules would have denied (the requests were let through):"]
    for r in rows:
        cost = "cost unknown" if r.cost_usd is None else f"${r.cost_usd:,.6f}"
        lines.append(f"  {shown(r.rule)} ({r.status}): {r.requests:,} requests, {r.total_tokens:,} tokens, {cost}; "
                     f"{r.first[:19]} .. {r.last[:19]}")
        lines.append(f"      e.g. {shown(r.reason)}  [{shown(', '.join(r.request_ids))}]")
    return "\n".join(lines) + "\n"
