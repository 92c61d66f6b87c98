"""What cel-go's and cel-cpp's macro expanders refuse while parsing, whatever the types.

``math.greatest``/``math.least`` and ``sortBy`` are macros there: their arguments are looked
at as syntax before anything is type-checked, so these are errors of a type-checked and an
unchecked expression alike (and ``false && ...`` does not absorb them).
"""

from __future__ import annotations

from . import ast
from ..source import Span

# (name, receiver?, number of arguments): the calls cel-go and cel-cpp expand as macros
MACROS = {
    ("has", False, 1), ("all", True, 2), ("exists", True, 2), ("exists_one", True, 2),
    ("existsOne", True, 2), ("map", True, 2), ("map", True, 3), ("filter", True, 2),
    ("all", True, 3), ("exists", True, 3), ("exists_one", True, 3), ("existsOne", True, 3),
    ("transformList", True, 3), ("transformList", True, 4), ("transformMap", True, 3),
    ("transformMap", True, 4), ("transformMapEntry", True, 3),
    ("transformMapEntry", True, 4), ("optMap", True, 2), ("optFlatMap", True, 2),
    ("sortBy", True, 2),
}  # fmt: skip


SORT_BY_TARGET = "sortBy can only be applied to a list, identifier, comprehension, call or select expression"


def numeric_arg(e: ast.Expr) -> bool:
    """An argument the math macros take: no literal but a number (any other expression is
    left to the checker or the run)."""
    if isinstance(e, ast.Literal):
        return e.kind in ("int", "uint", "double")
    return not isinstance(e, (ast.CreateList, ast.CreateMap, ast.CreateStruct))


def macro_variables(function: str, nargs: int) -> int:
    """How many of a receiver macro's first arguments name its variables."""
    if function in ("transformList", "transformMap", "transformMapEntry"):
        return 2
    return 2 if nargs == 3 and function in ("all", "exists", "exists_one", "existsOne") else 1


def macro_arg_error(node: ast.Call) -> tuple[str, Span] | None:
    """The message and place of what the macro expanders refuse in ``node``, or None."""
    target = node.target
    if target is not None and (node.function, True, len(node.args)) in MACROS:
        for a in node.args[:macro_variables(node.function, len(node.args))]:
            if not isinstance(a, ast.Ident) or a.name.startswith("."):  # `[1].map(x.y, 1)`, `l.all(1, true)`
                return f"{node.function}() variable name must be a simple identifier", a.span
    if node.function == "sortBy" and len(node.args) == 2 and target is not None:
        if isinstance(target, (ast.Literal, ast.CreateMap, ast.CreateStruct)):
            return SORT_BY_TARGET, target.span
    elif node.function in ("greatest", "least") and isinstance(target, ast.Ident) and target.name == "math":
        args = node.args
        if not args:
            return f"math.{node.function}() requires at least one argument", node.span
        lone = args[0] if len(args) == 1 and isinstance(args[0], ast.CreateList) else None
        if any(not numeric_arg(a) for a in (lone.elements if lone is not None else args)) or (
                lone is not None and not lone.elements):
            return f"math.{node.function}() simple literal arguments must be numeric", node.span
    return None
