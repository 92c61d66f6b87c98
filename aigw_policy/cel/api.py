"""The public entry points: ``compile(source, declarations) -> Program``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from . import ast
from .codegen import CompileError, Info, generate
from .program import Program, build
from .runtime.values import CelError
from .types import DYN, Type, TypeParseError, parse_type

__all__ = ["compile", "compile_ast", "CelError", "Program"]

ENGINE_VERSION = "cel-py-1"


def _decls(declarations: Mapping[str, str | Type] | None) -> dict[str, Type]:
    out: dict[str, Type] = {}
    for name, t in (declarations or {}).items():
        if isinstance(t, Type):
            out[name] = t
        else:
            try:
                out[name] = parse_type(t)
            except TypeParseError as e:
                raise CelError(f"declaration of `{name}`: {e}", "invalid_declaration") from None
    return out


def compile_ast(
    node: ast.Expr,
    declarations: Mapping[str, str | Type] | None = None,
    *,
    source: str = "",
    name: str | None = None,
    container: str = "",
    check: bool = True,
    function_decls: dict | None = None,
) -> Program:
    decls = _decls(declarations)
    info = Info()
    result_type: Type | None = None
    if check:
        from .checker import check as run_check

        checked = run_check(node, decls, container=container, function_decls=function_decls)
        if checked.errors:
            first = checked.errors[0]
            raise CelError(first.message, "check_error")
        info = Info(checked.types)
        result_type = checked.type
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    label = name or f"cel_{digest}"
    try:
        from .runtime.helpers import unbound

        impls = {n: unbound(n) for n in (function_decls or {})}
        gen = generate(
            node,
            name=label,
            variables=set(decls),
            container=container,
            info=info,
            functions=impls,
            lenient=not check,
        )
        fn = build(gen, f"<cel:{label}>")
    except CompileError as e:
        raise CelError(e.message, "compile_error") from None
    except (RecursionError, SyntaxError, MemoryError) as e:
        raise CelError(f"expression too complex to compile: {type(e).__name__}", "compile_error") from None
    return Program(source, label, gen.source, fn, result_type)


def compile(
    source: str,
    declarations: Mapping[str, str | Type] | None = None,
    *,
    name: str | None = None,
    container: str = "",
) -> Program:
    """Compile a CEL expression; with no declarations every variable is ``dyn``.

    Raises :class:`CelError` for a syntax, type or compile error.
    """
    from .parser import CelSyntaxError, parse

    try:
        node = parse(source)
    except CelSyntaxError as e:
        raise CelError(str(e), "syntax_error") from None
    checked = declarations is not None
    return compile_ast(
        node, declarations, source=source, name=name, container=container, check=checked
    )


_ = DYN
