"""CEL name resolution, shared by the checker and the code generator.

A name is looked up in its container first, innermost namespace out (``a.b.c`` inside
container ``x.y`` tries ``x.y.a.b.c``, ``x.a.b.c``, ``a.b.c``); a leading dot (``.a.b``)
names the root only. A dotted name resolves to its longest declared prefix.
"""

from __future__ import annotations

import re
from collections.abc import Container

from . import ast
from .runtime.wellknown import FIELDS

__all__ = ["MACRO_FUNCTIONS", "candidates", "function_names", "message_name", "qualified_name",
           "resolve"]

_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def qualified_name(node: ast.Expr) -> str | None:
    """The dotted name of an Ident/Select chain, or None. A field that is not a plain
    identifier (a backquoted ``a.`x.y``` or ``a.`x-y```) ends no name: it is a selection."""
    parts = []
    while isinstance(node, ast.Select) and not node.optional:
        if not _IDENT.fullmatch(node.field):
            return None
        parts.append(node.field)
        node = node.operand
    if not isinstance(node, ast.Ident):
        return None
    parts.append(node.name)
    return ".".join(reversed(parts))


def candidates(container: str, name: str) -> list[str]:
    """The names ``name`` may mean inside ``container``, in lookup order."""
    if name.startswith("."):
        return [name[1:]]
    out = []
    parts = container.split(".") if container else []
    for i in range(len(parts), 0, -1):
        out.append(".".join(parts[:i]) + "." + name)
    out.append(name)
    return out


MACRO_FUNCTIONS = frozenset({"math.greatest", "math.least"})
"""Macros in cel-go and cel-cpp (the parser expands the call written ``math.greatest(...)``):
no container reaches them (``greatest(1, 2)`` in container ``math``), nor a leading dot."""


def function_names(container: str, name: str) -> list[str]:
    """The functions a call of ``name`` (``f``, ``ns.f``, ``.ns.f``, as written) may mean inside
    ``container``, in lookup order; a macro's name only as it is written."""
    return [c for c in candidates(container, name) if c not in MACRO_FUNCTIONS or c == name]


def resolve(container: str, dotted: str, declared: Container[str]) -> tuple[str, int] | None:
    """Find the longest declared name that prefixes ``dotted``: (name, parts used)."""
    lead = dotted.startswith(".")
    parts = dotted.lstrip(".").split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        for cand in candidates(container, ("." if lead else "") + head):
            if cand in declared:
                return cand, n
    return None


def message_name(container: str, type_name: str) -> str | None:
    """The well-known protobuf message (``runtime/wellknown.py``) ``type_name`` means inside
    ``container``, or None: no other message type is supported."""
    return next((c for c in candidates(container, type_name) if c in FIELDS), None)
