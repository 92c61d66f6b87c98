"""What the HTML report shows, computed from the ledger (and a store): pure data, no HTML.

Totals by day, team, key and model come from :class:`aigw_policy.ledger.report.Summary`, the
``usage`` command's own aggregation. The rest is read from each record's ``limits`` entries:
each limit's latest state (headroom and reset time) per bucket, the denials by rule and reason
(the record's ``reason``; inferred for a ledger written before records kept one), and what shadow
rules would have blocked: the ``would_deny`` a record carries, else a limit over with
``enforce: false``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..ledger.record import PENDING, UsageRecord, format_time, parse_time
from ..ledger.report import Report, Summary
from ..limits.model import Charge, LimitSpec, LimitStore, Outcome

__all__ = ["Facts", "Headroom", "gather"]


@dataclass(frozen=True, slots=True)
class Headroom:
    """One limit's bucket: how much is used and left, and when it resets."""

    name: str
    key: str
    unit: str
    used: float
    limit: float
    remaining: float
    reset_at: str | None
    outcome: str
    source: str  # "store" (read now) or "ledger" (as of its last request)
    as_of: str


@dataclass
class Facts:
    since: str | None
    until: str | None
    generated: str
    total: Report
    by_day: Report
    by_team: Report
    by_key: Report
    by_model: Report
    headroom: list[Headroom] = field(default_factory=list)
    denials: list[tuple[str, str, int]] = field(default_factory=list)  # rule, reason, count
    shadow: list[tuple[str, str, int]] = field(default_factory=list)  # rule, what, count
    unpriced: list[tuple[str, int, int, int]] = field(default_factory=list)  # model, requests, tokens, pending


def _would_deny(rec: UsageRecord) -> list[dict[str, Any]]:
    """The record's ``would_deny`` (an object, a list of them, or their JSON text), if any."""
    value: Any = rec.would_deny
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _reason(rec: UsageRecord, entries: list[dict[str, Any]]) -> str:
    """The record's own reason; a record written before records kept one: inferred from its
    limits' entries and status."""
    if rec.reason:
        return rec.reason
    over = [e["name"] for e in entries if e.get("outcome") == "limited" and e.get("enforce", True)
            and isinstance(e.get("name"), str)]
    if over:
        return f"limit {', '.join(over)} exceeded"
    unavailable = [e for e in entries if e.get("outcome") == "unavailable"]
    if unavailable:
        return "limit store unavailable"
    return f"denied with status {rec.status_code}" if rec.status_code else "denied"


def gather(records: Iterable[UsageRecord], *, since: str | None, until: str | None, now: datetime,
           store: LimitStore | None = None, limits: Sequence[LimitSpec] = ()) -> Facts:
    """The report's facts for the records with ``since <= time < until``, in one pass: the
    records are read as they come (a ledger's page at a time), never held together."""
    summaries = [Summary(by) for by in ((), ("day",), ("team",), ("key",), ("model",))]
    latest: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    denials: Counter[tuple[str, str]] = Counter()
    shadow: Counter[tuple[str, str]] = Counter()
    unpriced: dict[str, list[int]] = {}
    for r in records:
        if (since is not None and r.time < since) or (until is not None and r.time >= until):
            continue
        for summary in summaries:
            summary.add(r)
        if r.cost_usd is None:
            u = unpriced.setdefault(r.model or "-", [0, 0, 0])
            u[0] += 1
            u[1] += r.total_tokens
            u[2] += r.verdict == PENDING
        entries = r.limit_entries()
        # what shadow rules would have blocked: of the requests let through (one denied anyway
        # is counted with the denials)
        would = _would_deny(r) if r.verdict != "deny" else []
        for e in entries:
            name, key = e.get("name"), e.get("key")
            if isinstance(name, str) and isinstance(key, str) and isinstance(e.get("used"), (int, float)):
                if (name, key) not in latest or latest[(name, key)][0] <= r.time:
                    latest[(name, key)] = (r.time, e)
            if (e.get("enforce") is False and e.get("outcome") == "limited" and isinstance(name, str)
                    and not would and r.verdict != "deny"):  # a record that says what it would have denied counts once, below
                shadow[(str(e.get("rule") or name), f"limit {name} over (enforce: false)")] += 1
        for w in would:
            what = str(w.get("reason") or f"status {w.get('status', w.get('status_code', '?'))}")
            shadow[(str(w.get("rule") or "(unnamed rule)"), what)] += 1
        if r.verdict == "deny":
            denials[(r.rule or "(default decision)", _reason(r, entries))] += 1
    facts = Facts(since, until, format_time(now), *(summary.done() for summary in summaries))
    facts.by_day.rows.sort(key=lambda row: row.group)
    facts.denials = [(rule, reason, n) for (rule, reason), n in sorted(denials.items(), key=lambda kv: (-kv[1], kv[0]))]
    facts.shadow = [(rule, what, n) for (rule, what), n in sorted(shadow.items(), key=lambda kv: (-kv[1], kv[0]))]
    facts.unpriced = sorted(((m, *u) for m, u in unpriced.items()),  # type: ignore[misc]
                            key=lambda x: (-x[2], x[0]))
    facts.headroom = _headroom(latest, now, store, limits)
    return facts


def _headroom(latest: dict[tuple[str, str], tuple[str, dict[str, Any]]], now: datetime,
              store: LimitStore | None, limits: Sequence[LimitSpec]) -> list[Headroom]:
    specs = {s.name: s for s in limits}
    live: dict[tuple[str, str], Outcome] = {}
    if store is not None:
        pairs = [p for p in sorted(latest) if p[0] in specs]
        if pairs:
            answers = store.check([Charge(specs[n], k, 0.0) for n, k in pairs], now.timestamp())
            live = dict(zip(pairs, answers, strict=True))
    rows = []
    stamp = format_time(now)
    for (name, key), (time, e) in sorted(latest.items()):
        out = live.get((name, key))
        if out is not None:
            rows.append(Headroom(name, key, out.unit, out.used, out.limit, out.remaining,
                                 format_time(now + timedelta(seconds=out.reset_after)), out.outcome, "store", stamp))
            continue
        limit = float(e.get("limit") or 0.0)
        used = float(e["used"])
        after = e.get("reset_after")
        reset = (format_time(parse_time(time) + timedelta(seconds=float(after)))
                 if isinstance(after, (int, float)) else None)
        left = e.get("remaining")
        remaining = float(left) if isinstance(left, (int, float)) else max(0.0, limit - used)
        rows.append(Headroom(name, key, str(e.get("unit") or ""), used, limit, remaining,
                             reset, str(e.get("outcome") or ""), "ledger", time))
    return rows

