"""Do the billing signals line up? The ledger, the limit counters and the provider's own usage,
per key and window, side by side; every difference with the requests that explain it.

**Ledger vs counters.** For each limit of the policy and each bucket the ledger names, the
window the store counts at ``now`` (a fixed or calendar window; a sliding window's current and
previous windows, the previous one weighted as the store weighs it) is summed from the ledger
records' ``limits`` entries that were charged, and set beside what the store holds
(:meth:`~aigw_policy.limits.LimitStore.check`, which writes nothing). A token bucket (GCRA)
drains continuously and keeps no window: it is listed, not compared.

**Ledger vs provider.** For each bucket of a provider's usage export (and model, when the
export names models), the ledger's forwarded requests to that provider in the bucket are
summed: input and output tokens, and requests when the provider counts them.

**Explaining a difference.** A difference is *explained* when the requests that can account
for it add up to at least its size: ``pending`` intents (in flight, or their gateway died: the
ledger holds their estimate, the store their reservation until it expires); limit entries the
store never confirmed (``unavailable``, or a final record whose reservation was not settled);
for the provider, records whose usage is an estimate and records within
:data:`EDGE_SECONDS` of a bucket's edge (the provider buckets by its own clock). Anything
else is *unexplained*: the command exits 1.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..ledger.record import PENDING, UsageRecord, format_time, parse_time
from ..limits.algorithms import locate
from ..limits.model import Charge, LimitSpec, LimitStore
from .provider_usage import ProviderBucket

__all__ = ["EDGE_SECONDS", "Explainer", "Reconciliation", "Row", "against_counters", "against_provider"]

EDGE_SECONDS = 120.0
"""A request this close to a provider bucket's edge may sit in the neighbouring bucket."""
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Explainer:
    """A request that can account for part of a difference, and how much of it."""

    request_id: str
    why: str
    amount: float


@dataclass
class Row:
    """One comparison: what (limit and bucket, or provider and model), over which window."""

    source: str  # counter | provider
    subject: str
    key: str
    start: str
    end: str
    measure: str  # tokens, usd, requests; input_tokens, output_tokens for the provider
    ledger: float
    other: float | None  # the counter or the provider; None: not compared
    status: str = "match"  # match | explained | unexplained | not compared
    explained_by: list[Explainer] = field(default_factory=list)
    note: str | None = None

    @property
    def difference(self) -> float | None:
        return None if self.other is None else self.other - self.ledger

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "subject": self.subject, "key": self.key, "start": self.start,
               "end": self.end, "measure": self.measure, "ledger": _num(self.ledger),
               "other": None if self.other is None else _num(self.other),
               "difference": None if self.difference is None else _num(self.difference),
               "status": self.status,
               "explained_by": [{"request_id": e.request_id, "why": e.why, "amount": _num(e.amount)}
                                for e in self.explained_by]}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Reconciliation:
    rows: list[Row] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Row]:
        return [r for r in self.rows if r.status == "unexplained"]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows],
                "differences": sum(r.status in ("explained", "unexplained") for r in self.rows),
                "unexplained": len(self.unexplained)}


def _num(x: float) -> float | int:
    r = round(x, 6)
    return int(r) if float(r).is_integer() else r


def _judge(row: Row, explainers: list[Explainer]) -> None:
    diff = row.difference
    if diff is None:
        row.status = "not compared"
        return
    tolerance = _EPS * max(1.0, abs(row.ledger), abs(row.other or 0.0))
    if abs(diff) <= tolerance:
        row.status = "match"
        return
    row.explained_by = explainers
    covered = sum(e.amount for e in explainers)
    row.status = "explained" if explainers and abs(diff) <= covered + tolerance else "unexplained"


# -- ledger vs counters ---------------------------------------------------------------------------


def against_counters(records: Iterable[UsageRecord], limits: Sequence[LimitSpec], store: LimitStore,
                     now: float) -> list[Row]:
    """One row per (limit, bucket) the ledger names: the ledger's sum over the store's window
    at ``now`` beside the store's count (nothing charged)."""
    by_name = {s.name: s for s in limits}
    # (name, key) -> [(time, entry, record)]
    seen: dict[tuple[str, str], list[tuple[float, dict[str, Any], UsageRecord]]] = defaultdict(list)
    for rec in records:
        t = parse_time(rec.time).timestamp()
        for e in rec.limit_entries():
            name, key = e.get("name"), e.get("key")
            if name in by_name and isinstance(key, str):
                seen[(name, key)].append((t, e, rec))
    pairs = sorted(seen)
    if not pairs:
        return []
    outcomes = store.check([Charge(by_name[n], k, 0.0) for n, k in pairs], now)
    rows = []
    for (name, key), out in zip(pairs, outcomes, strict=True):
        spec = by_name[name]
        slot = locate(spec, key, now)
        start, end = slot.start, slot.end
        if slot.kind == "gcra":
            row = Row("counter", name, key, "", "", spec.unit, 0.0, None,
                      note="token bucket: it drains continuously, no window to sum")
            row.ledger = sum(_charged(e) for _, e, _ in seen[(name, key)])
            row.status = "not compared"
            rows.append(row)
            continue
        weight = (slot.window - (now - start)) / slot.window if slot.kind == "sliding" else 0.0
        lo = start - slot.window if slot.kind == "sliding" else start
        total = 0.0
        explainers = []
        for t, e, rec in seen[(name, key)]:
            if not lo <= t < end:
                continue
            w = 1.0 if t >= start else weight
            amount = _charged(e) * w
            total += amount
            why = _counter_why(rec, e)
            if why:
                size = (e.get("cost") or 0.0) * w
                explainers.append(Explainer(rec.request_id, why, float(size)))
        row = Row("counter", name, key, _iso(lo), _iso(end), spec.unit, total, out.used)
        if slot.kind == "sliding":
            row.note = f"sliding window: the previous window weighted {weight:.3f}"
        _judge(row, explainers)
        rows.append(row)
    return rows


def _charged(e: dict[str, Any]) -> float:
    cost = e.get("cost")
    return float(cost) if e.get("charged") and isinstance(cost, (int, float)) else 0.0


def _counter_why(rec: UsageRecord, e: dict[str, Any]) -> str | None:
    if rec.verdict == PENDING:
        return "pending intent: in flight, or its gateway died (the store holds its reservation until it expires)"
    if e.get("outcome") == "unavailable":
        return "the store was unavailable for this request: not counted there"
    if e.get("charged") and not e.get("settled") and e.get("type") != "rate-limit":
        return "reservation not confirmed settled by the store (a reconcile may be queued for retry)"
    return None


def _iso(t: float) -> str:
    return format_time(datetime.fromtimestamp(t, timezone.utc))


# -- ledger vs provider ---------------------------------------------------------------------------

_PROVIDER_OF = {"openai": ("openai",), "anthropic": ("anthropic",)}


def against_provider(records: Iterable[UsageRecord], buckets: Sequence[ProviderBucket]) -> list[Row]:
    """One row per bucket, model and measure of the export beside the ledger's forwarded
    requests to that provider in the same bucket."""
    forwarded = sorted((r for r in records if r.usage_source != "none" and r.provider is not None),
                       key=lambda r: r.time)
    times = [r.time for r in forwarded]
    windows: dict[tuple[str, str, str], dict[str | None, dict[str, float | None]]] = defaultdict(dict)
    for b in buckets:
        models = windows[(b.provider, b.start, b.end)]
        cell = models.setdefault(b.model, {"input_tokens": 0.0, "output_tokens": 0.0, "requests": 0.0})
        cell["input_tokens"] = (cell["input_tokens"] or 0.0) + b.input_tokens
        cell["output_tokens"] = (cell["output_tokens"] or 0.0) + b.output_tokens
        cell["requests"] = None if b.requests is None or cell["requests"] is None else cell["requests"] + b.requests
    rows = []
    for (provider, start, end), models in sorted(windows.items()):
        lo = format_time(parse_time(start) - timedelta(seconds=EDGE_SECONDS))
        hi = format_time(parse_time(end) + timedelta(seconds=EDGE_SECONDS))
        accepted = _PROVIDER_OF.get(provider, (provider,))
        near = [r for r in forwarded[bisect_left(times, lo):bisect_left(times, hi)] if r.provider in accepted]
        mine = [r for r in near if start <= r.time < end]
        by_model = None in models
        names: list[str | None] = [None] if by_model else sorted(set(models) | {r.model for r in mine}, key=str)
        for model in names:
            theirs = models.get(model) or {"input_tokens": 0.0, "output_tokens": 0.0,
                                           "requests": None if any(c["requests"] is None for c in models.values()) else 0.0}
            ours = mine if model is None else [r for r in mine if r.model == model]
            around = near if model is None else [r for r in near if r.model == model]
            for measure in ("input_tokens", "output_tokens", "requests"):
                other = theirs[measure]
                if other is None:
                    continue
                value = float(len(ours)) if measure == "requests" else float(sum(getattr(r, measure) for r in ours))
                row = Row("provider", provider, model or "(all models)", start, end, measure, value, other)
                _judge(row, _provider_explainers(around, measure, start, end))
                rows.append(row)
    return rows


def _provider_explainers(records: list[UsageRecord], measure: str, start: str, end: str) -> list[Explainer]:
    """The requests near this bucket that can account for a difference in ``measure``."""
    lo, hi = parse_time(start), parse_time(end)
    edge = timedelta(seconds=EDGE_SECONDS)
    out = []
    for r in records:
        amount = 1.0 if measure == "requests" else float(getattr(r, measure))
        t = parse_time(r.time)
        inside = lo <= t < hi
        if inside and r.verdict == PENDING:
            why = "pending intent: its usage is the request-time estimate"
        elif inside and r.usage_source == "estimate" and measure != "requests":
            why = "usage estimated (the provider reported none)"
        elif abs(t - lo) < edge or abs(hi - t) < edge:
            why = f"within {EDGE_SECONDS:g}s of the bucket's edge: the provider may count it in the bucket beside"
        else:
            continue
        out.append(Explainer(r.request_id, why, amount))
    return out
