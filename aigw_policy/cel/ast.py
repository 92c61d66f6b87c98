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

import re
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral, Union

from ..source import Span

__all__ = [
    "CONDITIONAL", "INDEX", "IN", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "NEGATE",
    "OPT_INDEX", "OPT_SELECT", "BINARY_OPERATORS",
    "Call", "CreateList", "CreateMap", "CreateStruct", "Expr", "FieldInit", "Ident",
    "Index", "Literal", "LiteralKind", "MapEntry", "Select", "children", "count_nodes", "invalid",
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
    kind = type(node)
    if kind is Literal or kind is Ident:  # the leaves, most of a tree's nodes: no isinstance chain
        return ()
    if kind is Call:
        return ((node.target,) if node.target is not None else ()) + node.args  # type: ignore[union-attr]
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


_NAME = re.compile(r"\.?[_a-zA-Z][_a-zA-Z0-9]*(?:\.[_a-zA-Z][_a-zA-Z0-9]*)*")
_OPERATORS: dict[str, int] = {  # operator -> arity (operators take no receiver)
    **{op: 2 for op in BINARY_OPERATORS.values()},
    CONDITIONAL: 3, LOGICAL_NOT: 1, NEGATE: 1, INDEX: 2, OPT_INDEX: 2, OPT_SELECT: 2,
}
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,), "uint": (int,), "double": (float,), "string": (str,), "bytes": (bytes,),
    "bool": (bool,), "null": (type(None),),
}
_NODES = (Literal, Ident, Select, Index, Call, CreateList, CreateMap, CreateStruct)


def invalid(node: object) -> tuple[str, object] | None:
    """Why ``node`` is not a well-formed expression, and the offending node; None if it is.

    The parser only builds well-formed trees; this is for trees built by hand (the public
    ``compile_ast``): exactly these node classes, names that are CEL identifiers (dotted,
    maybe with a leading dot), operators CEL has, literals whose Python type is the one
    their kind stands for (no subclasses) and in range, flags that are bools, spans with
    int offsets. Iterative: any depth is checked without recursion.
    """
    stack: list[object] = [node]
    while stack:
        n = stack.pop()
        t = type(n)
        if t not in _NODES:
            return f"not an expression node: {t.__name__}", n
        span = getattr(n, "span", None)
        if span is not None and not (type(getattr(span, "start", None)) is int
                                     and type(getattr(span, "end", None)) is int):
            return "a span's offsets must be ints", n
        if t is Literal:
            why = _literal(n)  # type: ignore[arg-type]
            if why is not None:
                return why, n
        elif t is Ident:
            if type(n.name) is not str or not _NAME.fullmatch(n.name):  # type: ignore[union-attr]
                return f"not a CEL name: {n.name!r}", n  # type: ignore[union-attr]
        elif t is Select:
            if type(n.field) is not str or type(n.optional) is not bool:  # type: ignore[union-attr]
                return "a field name is a str and `optional` a bool", n
            stack.append(n.operand)  # type: ignore[union-attr]
        elif t is Index:
            if type(n.optional) is not bool:  # type: ignore[union-attr]
                return "`optional` is a bool", n
            stack.extend((n.operand, n.index))  # type: ignore[union-attr]
        elif t is Call:
            f = n.function  # type: ignore[union-attr]
            if type(f) is not str or not (_NAME.fullmatch(f) or f in _OPERATORS):
                return f"not a CEL function name: {f!r}", n
            if type(n.args) is not tuple:  # type: ignore[union-attr]
                return "call arguments are a tuple", n
            arity = _OPERATORS.get(f)
            if arity is not None and (len(n.args) != arity or n.target is not None):  # type: ignore[union-attr]
                return f"`{f}` takes {arity} operands and no receiver", n
            stack.extend(n.args)  # type: ignore[union-attr]
            if n.target is not None:  # type: ignore[union-attr]
                stack.append(n.target)  # type: ignore[union-attr]
        elif t is CreateList:
            if type(n.elements) is not tuple or type(n.optional_indices) is not tuple or not all(  # type: ignore[union-attr]
                    type(i) is int for i in n.optional_indices):  # type: ignore[union-attr]
                return "list elements and optional indices are tuples (of ints)", n
            stack.extend(n.elements)  # type: ignore[union-attr]
        elif t is CreateMap:
            if type(n.entries) is not tuple:  # type: ignore[union-attr]
                return "map entries are a tuple", n
            for e in n.entries:  # type: ignore[union-attr]
                if type(e) is not MapEntry or type(e.optional) is not bool:
                    return "a map entry is a MapEntry with a bool `optional`", n
                stack.extend((e.key, e.value))
        elif t is CreateStruct:
            if type(n.type_name) is not str or not _NAME.fullmatch(n.type_name) or type(n.fields) is not tuple:  # type: ignore[union-attr]
                return "not a CEL message literal", n
            for fi in n.fields:  # type: ignore[union-attr]
                if type(fi) is not FieldInit or type(fi.name) is not str or type(fi.optional) is not bool:
                    return "a message field is a FieldInit with a str name and a bool `optional`", n
                stack.append(fi.value)
    return None


def _literal(n: Literal) -> str | None:
    kinds = _KINDS.get(n.kind) if type(n.kind) is str else None
    if kinds is None:
        return f"not a literal kind: {n.kind!r}"
    v = n.value
    if type(v) not in kinds:
        return f"a {n.kind} literal holding a {type(v).__name__}"
    if n.kind == "int" and not -(2**63) <= v < 2**63:  # type: ignore[operator]
        return "int literal out of range"
    if n.kind == "uint" and not 0 <= v < 2**64:  # type: ignore[operator]
        return "uint literal out of range"
    return None
