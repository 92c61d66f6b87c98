"""The CEL abstract syntax tree: small frozen dataclasses, one per expression kind.

Operators are :class:`Call` nodes named as in cel-go and cel-spec (``_+_``, ``_&&_``, ``!_``,
``-_``, ``_?_:_``, ``@in``, ...), so the type checker maps them 1:1 to the standard
overloads. Indexing and field selection keep their own nodes (:class:`Index`,
:class:`Select`), each with an ``optional`` flag for ``a[?i]`` and ``a.?f``; their cel-go
function names are :data:`INDEX`, :data:`OPT_INDEX` and :data:`OPT_SELECT`.

Macros (``has``, ``all``, ``exists``, ``exists_one``, ``map``, ``filter``) are plain calls
here; a later stage expands them. Names written with a leading dot (``.a.b``, ``.f()``)
keep the dot in ``Ident.name``, ``Call.function`` and ``CreateStruct.type_name``.

Every node has a ``span`` in the coordinates of the enclosing document; spans never take
part in equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal as TypingLiteral, Union

from ..source import Span

__all__ = [
    "CONDITIONAL", "INDEX", "IN", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "NEGATE",
    "OPT_INDEX", "OPT_SELECT", "BINARY_OPERATORS",
    "Call", "CreateList", "CreateMap", "CreateStruct", "Expr", "FieldInit", "Ident",
    "Index", "Literal", "LiteralKind", "MapEntry", "Select", "children", "count_nodes",
]

CONDITIONAL = "_?_:_"
LOGICAL_AND = "_&&_"
LOGICAL_OR = "_||_"
LOGICAL_NOT = "!_"
NEGATE = "-_"
IN = "@in"
INDEX = "_[_]"
OPT_INDEX = "_[?_]"
OPT_SELECT = "_?._"

BINARY_OPERATORS: dict[str, str] = {
    "||": LOGICAL_OR, "&&": LOGICAL_AND,
    "==": "_==_", "!=": "_!=_", "<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_",
    "in": IN,
    "+": "_+_", "-": "_-_", "*": "_*_", "/": "_/_", "%": "_%_",
}
"""Operator as written -> CEL function name."""

LiteralKind = TypingLiteral["int", "uint", "double", "string", "bytes", "bool", "null"]


def _span() -> Span:
    return field(compare=False, repr=False, kw_only=True)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: ``value`` is int (for int and uint), float, str, bytes, bool or None."""

    value: int | float | str | bytes | bool | None
    kind: LiteralKind
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ident:
    """A (possibly qualified, possibly leading-dot) identifier such as ``a`` or ``.a``."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Select:
    """Field selection ``operand.field``; ``optional`` for ``operand.?field``."""

    operand: Expr
    field: str
    optional: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Index:
    """Indexing ``operand[index]``; ``optional`` for ``operand[?index]``."""

    operand: Expr
    index: Expr
    optional: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A function or operator call; ``target`` is the receiver of ``target.f(args)``."""

    function: str
    args: tuple[Expr, ...] = ()
    target: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CreateList:
    """A list literal; ``optional_indices`` are the positions written ``?e``."""

    elements: tuple[Expr, ...] = ()
    optional_indices: tuple[int, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MapEntry:
    """One ``key: value`` of a map literal; ``optional`` for ``?key: value``."""

    key: Expr
    value: Expr
    optional: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CreateMap:
    """A map literal ``{k: v, ...}``."""

    entries: tuple[MapEntry, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FieldInit:
    """One ``field: value`` of a message literal; ``optional`` for ``?field: value``."""

    name: str
    value: Expr
    optional: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CreateStruct:
    """A message literal ``a.b.Type{field: value, ...}``."""

    type_name: str
    fields: tuple[FieldInit, ...] = ()
    span: Span = _span()


Expr = Union[Literal, Ident, Select, Index, Call, CreateList, CreateMap, CreateStruct]
"""Any CEL expression node."""


def children(node: Expr) -> tuple[Expr, ...]:
    """The sub-expressions of ``node``, in source order."""
    if isinstance(node, (Select,)):
        return (node.operand,)
    if isinstance(node, Index):
        return (node.operand, node.index)
    if isinstance(node, Call):
        return ((node.target,) if node.target is not None else ()) + node.args
    if isinstance(node, CreateList):
        return node.elements
    if isinstance(node, CreateMap):
        return tuple(x for e in node.entries for x in (e.key, e.value))
    if isinstance(node, CreateStruct):
        return tuple(f.value for f in node.fields)
    return ()


def count_nodes(node: Expr, limit: int) -> int:
    """How many nodes ``node`` has, counting no further than ``limit + 1`` (no recursion)."""
    count = 0
    stack = [node]
    while stack and count <= limit:
        n = stack.pop()
        count += 1
        stack.extend(children(n))
    return count
