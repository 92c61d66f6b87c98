"""The trace of an evaluation: recorded only when asked, rendered elsewhere.

A trace is a list of rule records in evaluation order::

    {"phase": "on_http_request", "rule": "premium-models-for-research", "line": 8,
     "matched": true | false | "error",
     "expressions": [{"source": "...", "span": {...}, "value": true} | {..., "error": "..."}],
     "actions": [{"type": "deny", "outcome": "denied", ...}]}
"""

from __future__ import annotations

import base64
import math
from typing import Any

from ..source import Span

__all__ = ["jsonable", "span_dict", "expr_record"]


def span_dict(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": span.file, "line": span.line, "column": span.column, "end_line": span.end_line,
            "end_column": span.end_column, "start": span.start, "end": span.end}


def jsonable(value: Any) -> Any:
    """A CEL value as JSON data (timestamps and durations as CEL strings, bytes as base64)."""
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
