"""The policy CEL environment (SPEC §5) and the calls the compiler and lint make in it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..cel import ast
from ..cel.budget import DEFAULT_BUDGET
from ..cel.environment import Environment
from ..cel.program import Program
from ..cel.runtime.values import CelError
from ..cel.types import Type
from .declarations import POLICY_FUNCTIONS, POLICY_OPERATORS, POLICY_VARIABLES
from .ngrok import ACTIVATION_FUNCTIONS, FUNCTIONS

__all__ = ["POLICY", "bad_patterns", "check_condition", "check_text", "compile_condition", "compile_conditions"]

POLICY = Environment(
    POLICY_VARIABLES, [*POLICY_OPERATORS, *POLICY_FUNCTIONS], FUNCTIONS, activation_functions=ACTIVATION_FUNCTIONS,
    dotted_variables=True, always_check=True, typed_activation=True, name="policy",
)
"""Every declared variable, ngrok's functions, one flat activation key per dotted name;
expressions are always type-checked."""


def compile_condition(
    source: str,
    declarations: Mapping[str, str | Type] | None = None,
    *,
    name: str | None = None,
    node: ast.Expr | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> Program:
    """Compile a policy expression against the SPEC §5 environment (plus ``declarations``).

    Type-checked; raises :class:`CelError` (with ``.diagnostics`` for type errors).
    Compiled programs are cached by source, declarations, name, budget and engine version.
    """
    return POLICY.compile(source, declarations, name=name, node=node, cache_dir=cache_dir, budget=budget)


def compile_conditions(
    sources: Sequence[str],
    declarations: Mapping[str, str | Type] | None = None,
    *,
    names: Sequence[str | None] | None = None,
    nodes: Sequence[ast.Expr | None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> list[Program | CelError]:
    """A policy's conditions compiled together (:meth:`Environment.compile_many`)."""
    return POLICY.compile_many(sources, declarations, names=names, nodes=nodes, cache_dir=cache_dir,
                               budget=budget)


def check_condition(node: ast.Expr, declarations: Mapping[str, str | Type] | None = None) -> list:
    """Type-check a parsed policy expression: a list of diagnostics (AIGW3xx), maybe empty."""
    return POLICY.check(node, declarations)


def check_text(source: str) -> tuple[ast.Expr, list, int | None] | None:
    """A policy expression parsed and checked on its own, memoized by its text: the node,
    the type errors (spans relative to ``source``) and the worst-case cost (None when it
    does not type-check). None when it does not parse. Lint passes share this."""
    return POLICY.check_text(source)


def bad_patterns(node: ast.Expr) -> list[str]:
    """Why each constant pattern of ``matches`` and of the regex extension's functions in
    ``node`` does not compile, or a constant ``regex.replace`` rewrite does not fit its constant
    pattern (none: empty).

    CEL evaluates such a call to an error (cel-go's default: ``'a'.matches('(') || true`` is
    true), so a CEL text with one compiles; a policy with one is refused when it loads
    (AIGW304), as a rule that fails on every request it reaches is no policy anyone meant."""
    from ..cel.runtime.regexes import regex
    from ..cel.runtime.regexext import check_rewrite

    found: list[str] = []
    todo = [node]
    while todo:  # no recursion: a text may nest deeply
        n = todo.pop()
        pattern = rewrite = None
        if type(n) is ast.Call and n.function == "matches":
            pattern = n.args[-1] if n.args else None
        elif (type(n) is ast.Call and n.function in ("replace", "extract", "extractAll") and len(n.args) >= 2
              and type(n.target) is ast.Ident and n.target.name == "regex"):
            count = n.args[3] if len(n.args) == 4 else None
            if not (type(count) is ast.Literal and count.value == 0):  # a count of 0 compiles nothing
                pattern = n.args[1]
                rewrite = n.args[2] if n.function == "replace" and len(n.args) >= 3 else None
        if type(pattern) is ast.Literal and type(pattern.value) is str:
            try:
                compiled = regex(pattern.value)
                if type(rewrite) is ast.Literal and type(rewrite.value) is str:
                    check_rewrite(rewrite.value, compiled.groups)
            except CelError as error:
                found.append(str(error))
        todo.extend(reversed(ast.children(n)))  # popped in source order
    return found
