"""Static worst-case cost of a CEL expression, in the manner of cel-go / Kubernetes.

Every node costs 1 (a literal, a variable, a field, an operator); string and list operations
cost in proportion to the sizes they touch; a comprehension costs its range size times its
body. Sizes that cannot be known statically (a list or string read from the request) use
:class:`Limits`. The runtime guard (:data:`MAX_ITERATIONS`, :data:`MAX_STRING`) stops what the
static estimate cannot bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from .types import Type

__all__ = ["Limits", "estimate", "DEFAULT_LIMITS", "MAX_ITERATIONS", "MAX_NODES", "MAX_POLICY_NODES",
           "MAX_STRING"]

MAX_ITERATIONS = 1_000_000
"""Runtime guard: the most elements one comprehension may range over."""
MAX_STRING = 10_000_000
"""Runtime guard: the longest string or list that ``+`` may build."""

MAX_NODES = 10_000
"""Compile budget: the most AST nodes one expression may have (AIGW305). Compiling costs
~50-100 us a node (parse, check, generate, Python's compile), so this is ~1 s at worst; a
long `||` chain of equalities is better written `x in [...]` (one node per element)."""
MAX_POLICY_NODES = 500_000
"""Compile budget: the most AST nodes all the CEL texts of one policy may have together
(AIGW305). A 10,000-rule policy keyed on identity and model (SPEC §9) has ~100,000."""


@dataclass(frozen=True)
class Limits:
    """Assumed worst-case sizes of values whose size is not known statically."""

    list_size: int = 1_000
    string_size: int = 100_000
    map_size: int = 1_000
    max_cost: int | None = 1_000_000


DEFAULT_LIMITS = Limits()

_MACROS = {"all", "exists", "exists_one", "existsOne", "map", "filter", "transformList",
           "transformMap", "transformMapEntry", "sortBy"}  # fmt: skip
_LINEAR = {"contains", "startsWith", "endsWith", "_+_", "_==_", "_!=_", "size", "string",
           "indexOf", "lastIndexOf", "replace", "split", "join", "lowerAscii", "upperAscii",
           "trim", "reverse", "format", "substring", "charAt", "@in", "base64.encode",
           "base64.decode", "distinct", "flatten", "sort", "sets.contains",
           "sets.equivalent", "sets.intersects", "regex.replace", "regex.extract",
           "regex.extractAll", "optional.unwrap", "unwrapOpt"}  # fmt: skip


def _size(node: ast.Expr, types: dict[int, Type], limits: Limits) -> int:
    if isinstance(node, ast.Literal) and isinstance(node.value, (str, bytes)):
        return len(node.value)
    if isinstance(node, ast.CreateList):
        return len(node.elements)
    if isinstance(node, ast.CreateMap):
        return len(node.entries)
    t = types.get(id(node))
    if t is not None and t.kind == "map":
        return limits.map_size
    if t is not None and t.kind in ("string", "bytes"):
        return limits.string_size
    return limits.list_size


def estimate(node: ast.Expr, types: dict[int, Type] | None = None, limits: Limits = DEFAULT_LIMITS) -> int:
    """The worst-case cost of evaluating ``node`` once."""
    types = types or {}

    def cost(n: ast.Expr) -> int:
        if isinstance(n, (ast.Literal, ast.Ident)):
            return 1 if isinstance(n, ast.Ident) else 0
        if isinstance(n, ast.Select):
            return 1 + cost(n.operand)
        if isinstance(n, ast.Index):
            return 1 + cost(n.operand) + cost(n.index)
        if isinstance(n, ast.CreateList):
            return 1 + sum(cost(e) for e in n.elements)
        if isinstance(n, ast.CreateMap):
            return 1 + sum(cost(e.key) + cost(e.value) for e in n.entries)
        if isinstance(n, ast.CreateStruct):
            return 1 + sum(cost(f.value) for f in n.fields)
        if isinstance(n, ast.Call):
            args = list(n.args)
            target = n.target
            if n.function in _MACROS and target is not None and args:
                body = sum(cost(a) for a in args[1:])
                return cost(target) + _size(target, types, limits) * (body + 1)
            base = sum(cost(a) for a in args) + (cost(target) if target is not None else 0)
            subject = target if target is not None else (args[0] if args else None)
            if subject is not None and (n.function == "matches" or n.function.endswith("matches")):
                return base + 1 + _size(subject, types, limits)
            if n.function in _LINEAR:
                operands = ([target] if target is not None else []) + args
                sizes = [_size(a, types, limits) for a in operands] or [1]
                touched = min(sizes) if n.function in ("_==_", "_!=_", "startsWith", "endsWith") else max(sizes)
                return base + 1 + touched // 10
            return base + 1
        return 1

    try:
        return cost(node)
    except RecursionError:
        return limits.max_cost or 1_000_000_000
