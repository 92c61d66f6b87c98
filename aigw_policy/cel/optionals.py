"""``opt.or(other)`` and ``opt.orValue(other)`` that evaluate ``other`` only when needed.

CEL's optional library short-circuits both: ``optional.of(1).orValue(1 / 0)`` is ``1``.
Generated code passes the argument as a thunk; the standard implementations (which take
a value) decide the rest, so the semantics stay in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from .runtime import stdlib
from .runtime.values import Optional

__all__ = ["NAMES", "or_", "or_value"]


def or_(o: object, other: Callable[[], object]) -> object:
    if type(o) is Optional and o.present:
        return o
    return stdlib.FUNCTIONS[".or"](o, other())  # type: ignore[operator]


def or_value(o: object, other: Callable[[], object]) -> object:
    if type(o) is Optional and o.present:
        return o.value
    return stdlib.FUNCTIONS[".orValue"](o, other())  # type: ignore[operator]


NAMES: dict[str, object] = {"_optor": or_, "_optorvalue": or_value}
"""What generated code needs in its namespace."""
