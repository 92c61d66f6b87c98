"""What a macro's body does with its iteration variable: whether it only selects from it.

A ``dyn`` list's elements are host values, and an int past 64 bits among them is read as the
double a JSON number is (:mod:`.runtime.host`). A body that uses its variable only as the
operand of a select or an index (``m.role``, ``m['content']``, ``has(m.x)``) never reads an
element as a number: what it takes out is converted where it is taken, and an element that
is a number has no field to select. Such a range needs no pass over its elements first
(:mod:`.codegen`): the common ``messages.exists(m, m.role == 'system')`` pays nothing.
"""

from __future__ import annotations

from . import ast

__all__ = ["elements_unread", "only_selected"]

NOT_ELEMENTS = frozenset({"all", "exists", "exists_one", "existsOne", "map", "transformList"})
"""Macros whose result is not made of the range's elements themselves (``filter`` and
``sortBy`` return them)."""


def elements_unread(macro: str, name: str, bodies: tuple[ast.Expr, ...]) -> bool:
    """Whether macro ``macro`` over a ``dyn`` list, with element variable ``name`` and these
    bodies, never reads an element as a value: its range then needs no conversion pass."""
    return macro in NOT_ELEMENTS and all(only_selected(name, b) for b in bodies)


def only_selected(name: str, body: ast.Expr) -> bool:
    """Whether every use of ``name`` in ``body`` is the operand of a select or an index (a
    nested macro that binds the same name again counts as a use: the answer errs toward
    converting)."""
    stack: list[object] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ident):
            if node.name == name:
                return False
        elif isinstance(node, (ast.Select, ast.Index)):
            operand = node.operand
            if not (isinstance(operand, ast.Ident) and operand.name == name):
                stack.append(operand)
            if isinstance(node, ast.Index):
                stack.append(node.index)
        else:
            stack.extend(_children(node))
    return True


def _children(node: object) -> list[object]:
    """The sub-expressions of a node (its fields that are nodes, or tuples of them)."""
    out: list[object] = []
    for slot in getattr(node, "__slots__", ()):
        value = getattr(node, slot, None)
        if isinstance(value, tuple):
            out.extend(v for v in value if _is_node(v))
        elif _is_node(value):
            out.append(value)
    return out


def _is_node(value: object) -> bool:
    return type(value).__module__ == ast.__name__ and hasattr(value, "span")
