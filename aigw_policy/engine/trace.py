"""The trace of an evaluation: recorded only when asked, rendered elsewhere.

The core reports what it does to a recorder: :data:`NO_TRACE` records nothing (production),
a :class:`TraceRecorder` keeps a list of rule records in evaluation order::

    {"phase": "on_http_request", "rule": "premium-models-for-research", "line": 8,
     "matched": true | false | "error",
     "expressions": [{"source": "...", "span": {...}, "value": true} | {..., "error": "..."}],
     "actions": [{"type": "deny", "outcome": "denied", ...}]}

Both follow the same path (the rule index on): a rule the index skipped is recorded with its
conditions evaluated for the record only, as an evaluation without the index would show it.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from ..source import Span

__all__ = ["NO_TRACE", "Recorder", "TraceRecorder", "expr_record", "jsonable", "span_dict"]


def span_dict(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": span.file, "line": span.line, "column": span.column, "end_line": span.end_line,
            "end_column": span.end_column, "start": span.start, "end": span.end}


def jsonable(value: Any) -> Any:
    """A CEL value as JSON data (timestamps and durations as ``${...}`` writes them, bytes as base64)."""
    t = type(value)
    if value is None or t is bool or t is str or t is int:
        return value
    if t is float:
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):  # UInt
        return int(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(jsonable(k)) if not isinstance(k, str) else k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    from ..cel.runtime.ops import to_string
    from ..cel.runtime.values import Duration, Timestamp, go_text

    if t is Timestamp or t is Duration:
        return go_text(value)  # as `${...}` renders it
    try:
        return to_string(value)
    except Exception:  # noqa: BLE001 - a value we cannot print is shown by its repr
        return repr(value)


def expr_record(source: str, span: Span | None, value: Any = None, error: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"source": source, "span": span_dict(span)}
    if error is not None:
        rec["error"] = error
    else:
        rec["value"] = jsonable(value)
    return rec


class Recorder:
    """What the core reports as it goes; this one records nothing (production)."""

    __slots__ = ()

    on = False
    """Whether anything is recorded (the core skips work done only for the record)."""

    @property
    def records(self) -> list[dict[str, Any]] | None:
        return None

    def rule(self, phase: str, rule: Any) -> None:
        """A rule's conditions are about to be evaluated."""

    def expr(self, expr: Any, value: Any, error: str | None = None) -> None:
        """A condition's value (``error``: why it has none)."""

    def matched(self, how: bool | str) -> None:
        """The rule matched (True) or failed (``"error"``)."""

    def action(self, action: Any) -> None:
        """An action of the matched rule is about to run."""

    def outcome(self, text: str) -> None:
        """What the running action did."""

    def note(self, text: str) -> None:
        """More of what the running action did, after its outcome."""


NO_TRACE = Recorder()


class TraceRecorder(Recorder):
    """Keeps the trace (``records``)."""

    __slots__ = ("_action", "_records", "_rule")

    on = True

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self._records: list[dict[str, Any]] = [] if records is None else records
        self._rule: dict[str, Any] = {}
        self._action: dict[str, Any] = {}

    @property
    def records(self) -> list[dict[str, Any]]:
        return self._records

    def rule(self, phase: str, rule: Any) -> None:
        self._rule = {"phase": phase, "rule": rule.label, "line": rule.span.line if rule.span else None,
                      "matched": False, "expressions": [], "actions": []}
        self._records.append(self._rule)

    def expr(self, expr: Any, value: Any, error: str | None = None) -> None:
        self._rule["expressions"].append(expr_record(expr.source, expr.span, value, error))

    def matched(self, how: bool | str) -> None:
        self._rule["matched"] = how

    def action(self, action: Any) -> None:
        self._action = {"type": action.type, "outcome": "ran"}
        self._rule["actions"].append(self._action)

    def outcome(self, text: str) -> None:
        self._action["outcome"] = text

    def note(self, text: str) -> None:
        if self._action:
            self._action["outcome"] = f"{self._action.get('outcome', 'ran')}; {text}"
