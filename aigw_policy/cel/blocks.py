"""``cel.block``: the bindings extension's block of shared subexpressions, rewritten to nested
``cel.bind`` before the checker and the code generator see the tree.

``cel.block([e0, e1, ..., en], result)`` is what the common-subexpression optimizers of cel-go
and cel-cpp emit (Google's conformance suite tests it in ``block_ext``). ``cel.index(i)``, in a
later entry or in ``result``, reads entry ``i``; ``cel.iterVar(depth, n)`` and
``cel.accuVar(depth, n)`` are comprehension variables as the optimizer names them, usable as a
macro's variable and read inside its body. The block is
``cel.bind(@index0, e0, cel.bind(@index1, e1, ... result))``: each entry runs when first read,
at most once, and an entry never read is no error (the semantics of ``cel.bind``). The names
``@index0``, ``@it:0:0`` and ``@ac:0:0`` are those of cel-go; no CEL text can spell them, so
they shadow nothing.

:func:`expand_blocks` is the stage (``Expr -> Expr`` plus diagnostics). A tree that uses none
of these forms comes back as the same object, untouched; a bad use is an ``AIGW307``
diagnostic at the offending argument, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..diagnostics import Diagnostic
from . import ast
from .codegen import MACROS

__all__ = ["CODE_BLOCK", "FORMS", "expand_blocks"]

CODE_BLOCK = "AIGW307"

FORMS = frozenset({"block", "index", "iterVar", "accuVar"})
"""The receiver functions of ``cel`` this stage rewrites."""

_PREFIX = {"iterVar": "@it", "accuVar": "@ac"}


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a node may read: ``visible`` entries of the enclosing block of ``size`` entries
    (None outside a block), and the variables bound around it (macro and ``cel.bind``
    names; a bound ``cel`` is a variable, not the extension)."""

    visible: int | None = None
    size: int = 0
    bound: frozenset[str] = frozenset()


def expand_blocks(node: ast.Expr) -> tuple[ast.Expr, list[Diagnostic]]:
    """``node`` with every ``cel.block``, ``cel.index``, ``cel.iterVar`` and ``cel.accuVar``
    rewritten (see the module's docstring), and the diagnostics of their bad uses."""
    if not _mentions(node):
        return node, []
    rewriter = _Rewriter()
    try:
        out = rewriter.walk(node, _Scope())
    except RecursionError:
        return node, [Diagnostic.make("AIGW008", "expression is nested too deeply", node.span,
                                      help="split it into simpler expressions")]
    return out, sorted(rewriter.diagnostics, key=Diagnostic.sort_key)


def _is_form(node: ast.Expr) -> bool:
    return (isinstance(node, ast.Call) and node.function in FORMS and isinstance(node.target, ast.Ident)
            and node.target.name == "cel")


def _mentions(node: ast.Expr) -> bool:
    """Whether some ``cel.<form>(...)`` call is in ``node`` (iterative: any depth)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if _is_form(n):
            return True
        stack.extend(ast.children(n))
    return False


def _variables(function: str, argc: int) -> int:
    """How many leading arguments of receiver macro ``function`` name its variables."""
    if function in ("map", "optMap", "optFlatMap", "sortBy"):
        return 1
    if function.startswith("transform"):
        return 2
    return 1 if argc == 2 else 2


def _count(node: ast.Expr) -> int | None:
    """The value of a non-negative int literal, else None."""
    if isinstance(node, ast.Literal) and node.kind == "int" and type(node.value) is int and node.value >= 0:
        return node.value
    return None


class _Rewriter:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, message: str, at: ast.Expr, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic.make(CODE_BLOCK, message, at.span, help))

    def walk(self, node: ast.Expr, scope: _Scope) -> ast.Expr:
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Select):
            return replace(node, operand=self.walk(node.operand, scope))
        if isinstance(node, ast.Index):
            return replace(node, operand=self.walk(node.operand, scope), index=self.walk(node.index, scope))
        if isinstance(node, ast.CreateList):
            return replace(node, elements=tuple(self.walk(e, scope) for e in node.elements))
        if isinstance(node, ast.CreateMap):
            return replace(node, entries=tuple(
                replace(e, key=self.walk(e.key, scope), value=self.walk(e.value, scope)) for e in node.entries))
        if isinstance(node, ast.CreateStruct):
            return replace(node, fields=tuple(replace(f, value=self.walk(f.value, scope)) for f in node.fields))
        return node

    def call(self, node: ast.Call, scope: _Scope) -> ast.Expr:
        f, args, target = node.function, node.args, node.target
        if _is_form(node) and "cel" not in scope.bound:
            if f == "block":
                return self.block(node, scope)
            if f == "index":
                return self.index(node, scope)
            return self.variable(node, scope, binding=False)
        if target is None:
            return replace(node, args=tuple(self.walk(a, scope) for a in args))
        out_target = self.walk(target, scope)
        if (f == "bind" and len(args) == 3 and isinstance(target, ast.Ident) and target.name == "cel"
                and "cel" not in scope.bound and isinstance(args[0], ast.Ident)):
            inner = replace(scope, bound=scope.bound | {args[0].name})
            return replace(node, target=out_target,
                           args=(args[0], self.walk(args[1], scope), self.walk(args[2], inner)))
        if (f, True, len(args)) in MACROS:
            k = _variables(f, len(args))
            names = [self.macro_variable(v, scope) for v in args[:k]]
            bound = {v.name for v in names if isinstance(v, ast.Ident)}
            inner = replace(scope, bound=scope.bound | bound)
            return replace(node, target=out_target, args=(*names, *(self.walk(a, inner) for a in args[k:])))
        return replace(node, target=out_target, args=tuple(self.walk(a, scope) for a in args))

    def macro_variable(self, node: ast.Expr, scope: _Scope) -> ast.Expr:
        """A variable argument of a macro: ``cel.iterVar``/``cel.accuVar`` names one."""
        if isinstance(node, ast.Call) and _is_form(node) and node.function in _PREFIX and "cel" not in scope.bound:
            return self.variable(node, scope, binding=True)
        return self.walk(node, scope)

    def block(self, node: ast.Call, scope: _Scope) -> ast.Expr:
        """``cel.block([e0, ..., en], result)`` -> nested ``cel.bind`` of ``@index0`` ... ."""
        if len(node.args) != 2:
            self.error("cel.block takes two arguments: a list of entries and a result", node)
            return node
        entries, result = node.args
        if not isinstance(entries, ast.CreateList):
            self.error("the first argument of cel.block must be a list literal", entries,
                       help="write the entries out: `cel.block([e0, e1], e)`")
            return node
        if scope.visible is not None:
            self.error("cel.block cannot be nested inside another cel.block", node)
            return node
        for i in entries.optional_indices:
            self.error("an entry of cel.block cannot be optional (`?e`)", entries.elements[i])
        n = len(entries.elements)
        body = [self.walk(e, _Scope(i, n, scope.bound)) for i, e in enumerate(entries.elements)]
        out = self.walk(result, _Scope(n, n, scope.bound))
        cel = node.target
        for i in reversed(range(n)):
            name = ast.Ident(f"@index{i}", span=entries.elements[i].span)
            out = ast.Call("bind", (name, body[i], out), cel, span=node.span)
        return out

    def index(self, node: ast.Call, scope: _Scope) -> ast.Expr:
        """``cel.index(i)`` -> ``@index<i>``, when entry ``i`` is before the reader."""
        i = _count(node.args[0]) if len(node.args) == 1 else None
        if i is None:
            self.error("cel.index takes one argument, a non-negative int literal", node)
        elif scope.visible is None:
            self.error(f"cel.index({i}) is outside any cel.block", node)
        elif i >= scope.size:
            entries = "1 entry" if scope.size == 1 else f"{scope.size} entries"
            self.error(f"cel.index({i}) is out of range: the block has {entries}", node)
        elif i >= scope.visible:
            self.error(f"cel.index({i}) is read by entry {scope.visible} of its cel.block: an entry reads "
                       "only the entries before it", node)
        else:
            return ast.Ident(f"@index{i}", span=node.span)
        return node

    def variable(self, node: ast.Call, scope: _Scope, *, binding: bool) -> ast.Expr:
        """``cel.iterVar(d, n)`` -> ``@it:<d>:<n>`` (``cel.accuVar``: ``@ac:...``); read only
        inside a macro that binds it (``binding``: this is that macro's variable)."""
        f = node.function
        counts = [_count(a) for a in node.args]
        if len(counts) != 2 or None in counts:
            self.error(f"cel.{f} takes two arguments, non-negative int literals", node)
            return node
        name = f"{_PREFIX[f]}:{counts[0]}:{counts[1]}"
        if not binding and name not in scope.bound:
            self.error(f"cel.{f}({counts[0]}, {counts[1]}) is read outside a macro that binds it", node,
                       help=f"make it the variable of a macro: `[1].map(cel.{f}(0, 0), cel.{f}(0, 0) + 1)`")
            return node
        return ast.Ident(name, span=node.span)
