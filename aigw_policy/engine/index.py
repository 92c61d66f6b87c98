"""Rule indexing: dispatch rules keyed on identity, model, provider, method or path prefix.

A rule one of whose conditions is, at the top level of its ``&&`` chain, ``X == 'lit'``,
``'lit' == X`` or ``X in ['a', 'b']`` (``X`` one of :data:`INDEXED`), or
``req.url.path.startsWith('/seg/...')``, can only match a request whose ``X`` is one of
those strings. The index maps each such value to the rules that need it; a request's
candidate rules are the unindexed rules plus the hits for its values, evaluated in document
order exactly as without the index.

Why this gives identical decisions: a rule matches when all its conditions are true, and a
false condition wins over an error in another one (CEL's ``&&``, and the engine's rule for
several expressions). So a rule whose indexed conjunct is false never matches and never
fails, and skipping it changes nothing. When the request has no string value for ``X`` (the
variable is missing: the conjunct would be an error, not false), every rule indexed on
``X`` is a candidate. A traced evaluation uses the index too (its recorder shows a skipped
rule with its conditions, evaluated for the record only).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from ..cel import ast

__all__ = ["INDEXED", "RuleIndex", "build_index", "indexable_key"]

INDEXED = frozenset({
    "identity.key", "identity.user", "identity.team", "identity.org", "identity.tier",
    "ai.model", "ai.provider", "ai.operation", "req.method",
})
PATH = "req.url.path"


def _path(node: Any) -> str | None:
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Select) and not node.optional:
        base = _path(node.operand)
        return f"{base}.{node.field}" if base is not None else None
    return None


def _string(node: Any) -> str | None:
    return node.value if isinstance(node, ast.Literal) and node.kind == "string" else None


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.Call) and node.function == ast.LOGICAL_AND and node.target is None:
        return [c for a in node.args for c in _conjuncts(a)]
    return [node]


def _key(node: Any) -> tuple[str, frozenset[str]] | None:
    """(attribute, allowed values) for an indexable conjunct; attribute ``/`` for a path
    segment."""
    if not isinstance(node, ast.Call):
        return None
    if node.function == "_==_" and node.target is None and len(node.args) == 2:
        a, b = node.args
        for var, lit in ((a, b), (b, a)):
            name, value = _path(var), _string(lit)
            if name in INDEXED and value is not None:
                return name, frozenset((value,))
    if node.function == ast.IN and node.target is None and len(node.args) == 2:
        var, lst = node.args
        name = _path(var)
        if name in INDEXED and isinstance(lst, ast.CreateList) and lst.elements and not lst.optional_indices:
            values = [_string(e) for e in lst.elements]
            if all(v is not None for v in values):
                return name, frozenset(values)  # type: ignore[arg-type]
    if node.function == "startsWith" and node.target is not None and len(node.args) == 1:
        prefix = _string(node.args[0])
        if _path(node.target) == PATH and prefix and prefix.startswith("/"):
            seg_end = prefix.find("/", 1)
            if seg_end > 1:  # `/v1/...`: every matching path's first segment is `v1`
                return "/", frozenset((prefix[1:seg_end],))
    return None


def indexable_key(nodes: list[Any]) -> tuple[str, frozenset[str]] | None:
    """The index key of a rule with these parsed conditions, or None."""
    for node in nodes:
        if node is None:
            return None
        for c in _conjuncts(node):
            key = _key(c)
            if key is not None:
                return key
    return None


class RuleIndex:
    """Candidate rule positions for a request, in document order. Immutable after build."""

    __slots__ = ("size", "always", "tables", "every")

    def __init__(self, size: int, always: list[int], tables: dict[str, dict[str, list[int]]],
                 every: dict[str, list[int]]) -> None:
        self.size = size
        self.always = always  # positions of rules without an index key
        self.tables = tables  # attribute -> value -> positions
        self.every = every  # attribute -> every position indexed on it (value missing)

    def candidates(self, act: dict[str, Any], start: int = 0) -> list[int]:
        always = self.always
        out = always[bisect_left(always, start):] if start else list(always)
        for attr, table in self.tables.items():
            if attr == "/":
                path = act.get(PATH)
                if type(path) is str:
                    end = path.find("/", 1)
                    hits = table.get(path[1:end] if end > 0 else None) if path.startswith("/") else None  # type: ignore[arg-type]
                else:
                    hits = self.every[attr]
            else:
                value = act.get(attr)
                hits = table.get(value) if type(value) is str else self.every[attr]
            if hits:
                out.extend(hits[bisect_left(hits, start):] if start else hits)
        if len(out) > 1:
            out.sort()
        return out


def build_index(rules: Any, *, min_rules: int = 8) -> RuleIndex | None:
    """An index over compiled rules, or None when too few rules would be skipped."""
    if len(rules) < min_rules:
        return None
    always: list[int] = []
    tables: dict[str, dict[str, list[int]]] = {}
    every: dict[str, list[int]] = {}
    for rule in rules:
        key = indexable_key([e.node for e in rule.exprs]) if rule.exprs else None
        if key is None:
            always.append(rule.position)
            continue
        attr, values = key
        table = tables.setdefault(attr, {})
        for v in sorted(values):
            table.setdefault(v, []).append(rule.position)
        every.setdefault(attr, []).append(rule.position)
    if len(always) == len(rules):
        return None
    return RuleIndex(len(rules), always, tables, every)
