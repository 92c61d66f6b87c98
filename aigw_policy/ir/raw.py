"""Raw values: what a surface form (DSL or YAML/JSON) read, with spans, before typing.

Both surface forms lower action configs into ``Raw`` trees; one shared builder
(:mod:`aigw_policy.ir.build`) turns them into typed configs, so both forms give the same
diagnostics for the same mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..source import Span

__all__ = ["REPORTED", "RawList", "RawMap", "RawScalar", "RawValue", "NOT_CONSTANT", "kind_of"]


class _NotConstant:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_CONSTANT"


NOT_CONSTANT: Any = _NotConstant()
"""The ``value`` of a DSL value that is a CEL expression and not a constant."""


class _Reported:
    __slots__ = ()

    def __repr__(self) -> str:
        return "REPORTED"


REPORTED: Any = _Reported()
"""The ``value`` of a DSL value the reader could not read and has already reported (a CEL
literal out of range): the key was written, so the builder says nothing more about it (no
"missing required key")."""


@dataclass(frozen=True, slots=True)
class RawScalar:
    """A scalar: str, int, float, bool or None.

    ``cel`` is the CEL source text when the value was written as CEL in the DSL (a constant
    literal has both ``value`` and ``cel``; a non-constant expression has only ``cel`` and
    ``value is NOT_CONSTANT``). Values read from YAML/JSON have ``cel=None``.
    """

    value: Any
    span: Span | None = None
    cel: str | None = None


@dataclass(frozen=True, slots=True)
class RawList:
    items: tuple[RawValue, ...]
    span: Span | None = None
    cel: str | None = None


@dataclass(frozen=True, slots=True)
class RawMap:
    """A mapping in source order; keys are strings with their own spans."""

    items: tuple[tuple[str, Span | None, RawValue], ...]
    span: Span | None = None
    cel: str | None = None
    key_spans: dict[str, Span | None] = field(default_factory=dict, compare=False)

    def get(self, key: str) -> RawValue | None:
        for k, _, v in self.items:
            if k == key:
                return v
        return None

    def key_span(self, key: str) -> Span | None:
        for k, s, _ in self.items:
            if k == key:
                return s
        return None


RawValue = RawScalar | RawList | RawMap


def to_plain(raw: RawValue) -> Any:
    """The plain Python value of a raw tree (lists, dicts, scalars)."""
    if isinstance(raw, RawScalar):
        return raw.value
    if isinstance(raw, RawList):
        return [to_plain(item) for item in raw.items]
    return {k: to_plain(v) for k, _, v in raw.items}


def kind_of(value: Any) -> str:
    """What ``value`` is, for messages: ``a string``, ``an integer``, ``a mapping``..."""
    if value is NOT_CONSTANT:
        return "an expression"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
