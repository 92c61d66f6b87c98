"""``aigw-policy usage``: where did my tokens go? Grouping and rendering (pure)."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..providers.usage import TOKEN_FIELDS
from .record import UsageRecord, format_time, parse_time

GROUP_KEYS: dict[str, str] = {
    "key": "key",
    "user": "user",
    "team": "team",
    "org": "org",
    "model": "model",
    "provider": "provider",
    "operation": "aigw_operation",
    "verdict": "verdict",
    "day": "day",
    "month": "month",
}
VERDICTS = ("allow", "deny")
METRICS: tuple[str, ...] = ("requests", *TOKEN_FIELDS, "cost_usd", "unpriced_requests", "estimated_requests")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ReportError(ValueError):
    """Bad report arguments (``--by``, ``--since``, ``--until``, ``--verdict``)."""


@dataclass(frozen=True)
class Where:
    """Which records count: any of the teams, keys and verdicts given (all when empty)."""

    teams: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    verdicts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for v in self.verdicts:
            if v not in VERDICTS:
                raise ReportError(f"unknown verdict `{v}` (use {' or '.join(VERDICTS)})")

    def matches(self, r: UsageRecord) -> bool:
        return ((not self.teams or r.team in self.teams) and (not self.keys or r.key in self.keys)
                and (not self.verdicts or r.verdict in self.verdicts))

    def describe(self) -> str:
        parts = [f"{word} {', '.join(values)}" for word, values in
                 (("team", self.teams), ("key", self.keys), ("verdict", self.verdicts)) if values]
        return "; ".join(parts)


def parse_by(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    for k in keys:
        if k not in GROUP_KEYS:
            raise ReportError(f"unknown group `{k}` (use {', '.join(GROUP_KEYS)})")
    return keys


def parse_since(text: str | None, now: datetime, option: str = "--since") -> str | None:
    """``7d``, ``24h``, ``30m``, ``2w`` before ``now``, or an ISO date/time; None for all.
    ``--until`` takes the same forms (``--until 1d``: up to a day ago)."""
    if text is None or text == "":
        return None
    m = re.fullmatch(r"(\d+)([mhdw])", text.strip(), re.ASCII)  # `٣d`, `７d`: no count of days
    shown = text if len(text) <= 40 else text[:40] + "..."
    if m:
        try:
            return format_time(now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
        except (OverflowError, ValueError):  # `99999999999d`: before any date
            raise ReportError(f"bad {option} `{shown}`: too far back (use e.g. `7d`, `24h`, `2026-11-01`)") from None
    try:
        return format_time(parse_time(text.strip()))
    except (OverflowError, ValueError):
        raise ReportError(f"bad {option} `{shown}` (use e.g. `7d`, `24h`, `2026-11-01`)") from None


@dataclass
class Row:
    group: tuple[str, ...]
    requests: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_FIELDS, 0))
    cost_usd: float = 0.0
    unpriced_requests: int = 0
    estimated_requests: int = 0

    def add(self, r: UsageRecord) -> None:
        self.requests += 1
        tokens = self.tokens
        for name in TOKEN_FIELDS:
            tokens[name] += getattr(r, name)
        if r.cost_usd is None:
            self.unpriced_requests += 1
        else:
            self.cost_usd += r.cost_usd
        if r.usage_source == "estimate":
            self.estimated_requests += 1

    def metric(self, name: str) -> Any:
        """One of :data:`METRICS`, as counted (the cost not rounded)."""
        return self.tokens[name] if name in self.tokens else getattr(self, name)

    def metrics(self) -> dict[str, Any]:
        d = {m: self.metric(m) for m in METRICS}
        # no priced request at all: the cost is unknown, not $0
        d["cost_usd"] = None if self.requests and self.unpriced_requests == self.requests else round(self.cost_usd, 6)
        return d


@dataclass
class Report:
    by: tuple[str, ...]
    since: str | None
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row(()))
    until: str | None = None
    where: Where = field(default_factory=Where)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": list(self.by),
            "since": self.since,
            "until": self.until,
            "teams": list(self.where.teams),
            "keys": list(self.where.keys),
            "verdicts": list(self.where.verdicts),
            "rows": [{**dict(zip(self.by, r.group, strict=True)), **r.metrics()} for r in self.rows],
            "total": self.total.metrics(),
        }


def _group_value(r: UsageRecord, key: str) -> str:
    if key == "day":
        return r.time[:10]
    if key == "month":
        return r.time[:7]
    if key == "model":
        return r.model or "-"
    value = getattr(r, GROUP_KEYS[key])
    return "-" if value is None else str(value)


class Summary:
    """Totals per group, built a record at a time (:meth:`add`), so one pass over a ledger can
    feed several groupings (the HTML report's by day, team, key and model)."""

    def __init__(self, by: Sequence[str], since: str | None = None, *, until: str | None = None,
                 where: Where | None = None) -> None:
        if since is not None and until is not None and until <= since:
            raise ReportError(f"--until {until} is not after --since {since}")
        self.by = tuple(by)
        self.since, self.until = since, until
        self.where = where or Where()
        self.groups: dict[tuple[str, ...], Row] = {}
        self.report = Report(self.by, since, until=until, where=self.where)

    def add(self, r: UsageRecord) -> None:
        since, until = self.since, self.until
        if (since is not None and r.time < since) or (until is not None and r.time >= until):
            return
        if not self.where.matches(r):
            return
        g = tuple(_group_value(r, k) for k in self.by)
        row = self.groups.get(g)
        if row is None:
            row = self.groups[g] = Row(g)
        row.add(r)
        self.report.total.add(r)

    def done(self) -> Report:
        """The report: biggest total_tokens first (ties by group), plus the grand total."""
        self.report.rows = sorted(self.groups.values(), key=lambda row: (-row.tokens["total_tokens"], row.group))
        return self.report


def summarize(records: Iterable[UsageRecord], by: Sequence[str], since: str | None = None, *,
              until: str | None = None, where: Where | None = None) -> Report:
    """Totals per group, biggest total_tokens first (ties by group), plus the grand total,
    of the records with ``since <= time < until`` that ``where`` matches."""
    summary = Summary(by, since, until=until, where=where)
    for r in records:
        summary.add(r)
    return summary.done()


# ---------------------------------------------------------------------------------------------
# rendering

_HEAD = {
    "requests": "requests",
    "input_tokens": "input",
    "output_tokens": "output",
    "cached_input_tokens": "cached",
    "cache_creation_input_tokens": "cache-write",
    "cache_creation_1h_input_tokens": "cache-write-1h",
    "reasoning_tokens": "reasoning",
    "total_tokens": "total",
    "cost_usd": "cost (usd)",
    "unpriced_requests": "unpriced",
    "estimated_requests": "estimated",
}


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def csv_text(value: object) -> object:
    """A text cell of a CSV export as a spreadsheet opens it safely: a text that begins as a
    formula does (``=``, ``+``, ``-``, ``@``, a tab or a carriage return; OWASP's list) gets a
    leading ``'``, so ``=HYPERLINK(...)`` in a model name a client sent stays text. Numbers
    are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def shown(value: str) -> str:
    """A label as a terminal prints it harmlessly: control characters (an escape sequence in
    a team name or a model a client sent) as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: East Asian wide and full-width characters
    (CJK, most emoji) two, combining marks and format characters (a zero-width space) none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, *, left: bool) -> str:
    fill = " " * max(0, width - columns(text))
    return text + fill if left else fill + text


def _cell(row: Row, metric: str) -> str:
    value = row.metric(metric)
    if metric == "cost_usd":
        if row.requests and row.unpriced_requests == row.requests:
            return "unknown"
        return f"{value:,.4f}" + ("+" if row.unpriced_requests else "")  # "+": a lower bound
    return f"{value:,}"


def render_table(report: Report) -> str:
    head = [*report.by, *(_HEAD[m] for m in METRICS)]
    body = [[*map(shown, r.group), *(_cell(r, m) for m in METRICS)] for r in report.rows]
    total = [*(["TOTAL"] + [""] * (len(report.by) - 1) if report.by else []), *(
        _cell(report.total, m) for m in METRICS
    )]
    if not report.by:
        body = []
    rows = [head, *body, total]
    widths = [max(columns(row[i]) for row in rows) for i in range(len(head))]  # as a terminal draws them
    nby = len(report.by)

    def fmt(row: list[str]) -> str:
        return "  ".join(_pad(c, w, left=i < nby) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [fmt(head), rule, *(fmt(r) for r in body)]
    if body:
        lines.append(rule)
    lines.append(fmt(total))
    since = f"since {report.since}" if report.since else "all time"
    if report.until:
        since += f" until {report.until}"
    if report.where.describe():
        since += f"; {report.where.describe()}"
    note = ""
    if report.total.unpriced_requests:
        note = f"\n{report.total.unpriced_requests} request(s) have no known price: cost is a lower bound"
    return "\n".join(lines) + f"\n({report.total.requests} requests, {since}){note}\n"


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_csv(report: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180: a CR or LF in a cell is quoted
    w.writerow([*report.by, *METRICS])
    for r in report.rows:
        m = r.metrics()
        w.writerow([*map(csv_text, r.group), *(m[k] for k in METRICS)])
    return buf.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
