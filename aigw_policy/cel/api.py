"""The public entry points of generic CEL: ``compile(source, declarations) -> Program``.

They compile in :data:`DEFAULT`, an :class:`~.environment.Environment` with nothing
declared beyond the standard library (undeclared variables are ``dyn``). For another world
(the policy environment of SPEC §5 is :data:`aigw_policy.env.POLICY`) make an
``Environment`` and call its methods.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import ast
from .budget import DEFAULT_BUDGET
from .environment import Environment
from .program import Program
from .runtime.values import CelError
from .types import Type

__all__ = ["DEFAULT", "Environment", "compile", "compile_ast", "clear_cache", "CelError", "Program"]

DEFAULT = Environment()
"""The environment of :func:`compile`: the standard library, nothing declared."""


def compile_ast(
    node: ast.Expr,
    declarations: Mapping[str, str | Type] | None = None,
    *,
    source: str = "",
    name: str | None = None,
    container: str = "",
    check: bool = True,
    function_decls: dict | None = None,
    budget: int | None = DEFAULT_BUDGET,
    env: Environment = DEFAULT,
) -> Program:
    """Compile a parsed (or hand-built) expression in ``env`` (uncached), see
    :meth:`Environment.compile_ast`."""
    return env.compile_ast(node, declarations, source=source, name=name, container=container, check=check,
                           function_decls=function_decls, budget=budget)


def compile(
    source: str,
    declarations: Mapping[str, str | Type] | None = None,
    *,
    name: str | None = None,
    container: str = "",
    cache_dir: str | os.PathLike[str] | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> Program:
    """Compile a CEL expression; with no declarations every variable is ``dyn``.

    Raises :class:`CelError` for a syntax, type or compile error. Programs are cached in
    memory; with ``cache_dir`` also on disk (see :mod:`.cache`). An evaluation performing
    more than ``budget`` comprehension iterations ends with a CEL error (:mod:`.budget`).
    """
    return DEFAULT.compile(source, declarations, name=name, container=container, cache_dir=cache_dir,
                           budget=budget)


def clear_cache() -> None:
    """Forget the programs compiled in every live environment (each keeps its own cache)."""
    for env in list(Environment.live):
        env.clear_cache()
