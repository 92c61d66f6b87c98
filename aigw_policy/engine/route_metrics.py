"""The engine's default live routing metrics: in this process's memory, per (provider, model)
and per (provider, key): request count, average latency, error rates. The gateway passes a
store-backed :class:`~aigw_policy.routing.model.RouteMetrics` instead, shared by every
process (``Engine(..., route_metrics=...)``)."""

from __future__ import annotations

import threading
from typing import Any

from ..routing.model import Attempt, AttemptOutcome, MetricsSnapshot, RouteMetrics

__all__ = ["LocalRouteMetrics"]

_KINDS = ("total", "timeout", "rate_limit", "client", "server")


def _kinds(outcome: AttemptOutcome) -> tuple[str, ...]:
    status = outcome.status_code or 0
    if outcome.error == "timeout":
        return ("total", "timeout")
    if outcome.error is not None:
        return ("total",)
    if status == 429:
        return ("total", "rate_limit", "client")
    if status >= 500:
        return ("total", "server")
    if status >= 400:
        return ("total", "client")
    return ()


class LocalRouteMetrics(RouteMetrics):
    """Counts since this engine started (no window): enough for ``explain`` and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], dict[str, Any]] = {}
        self._keys: dict[tuple[str, str], dict[str, Any]] = {}

    def record(self, attempt: Attempt, outcome: AttemptOutcome, now: float) -> None:
        kinds = _kinds(outcome)
        with self._lock:
            pairs = [(self._models, (attempt.provider.id, attempt.model))]
            if attempt.key is not None:
                pairs.append((self._keys, (attempt.provider.id, attempt.key.id)))
            for table, pair in pairs:
                row = table.setdefault(pair, {"n": 0, "ms": 0.0, "timed": 0, **{k: 0 for k in _KINDS}})
                row["n"] += 1
                if outcome.latency_ms is not None:
                    row["ms"] += outcome.latency_ms
                    row["timed"] += 1
                for k in kinds:
                    row[k] += 1

    def snapshot(self, now: float) -> MetricsSnapshot:
        with self._lock:
            return {"models": {p: _view(r, latency=True) for p, r in self._models.items()},
                    "keys": {p: _view(r, latency=False) for p, r in self._keys.items()}}


def _view(row: dict[str, Any], *, latency: bool) -> dict[str, Any]:
    n = row["n"]
    out: dict[str, Any] = {"request_count": n, "error_rate": {k: row[k] / n for k in _KINDS}}
    if latency:
        avg = row["ms"] / row["timed"] if row["timed"] else 0.0
        out["latency"] = {"upstream_ms_avg": avg}
    return out
