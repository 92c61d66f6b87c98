"""The public entry points: ``compile(source, declarations) -> Program``."""

from __future__ import annotations

import builtins
import hashlib
import os
from functools import lru_cache
from collections.abc import Mapping, Sequence

from . import ast
from .budget import DEFAULT_BUDGET
from .codegen import CompileError, Info, generate
from .program import Program, build, entry_source, instantiate
from .runtime import stdlib
from .runtime.helpers import unbound
from .runtime.values import CelError
from .types import DYN, Type, TypeParseError, parse_type

__all__ = ["compile", "compile_ast", "compile_condition", "compile_conditions", "check_condition", "clear_cache", "CelError", "Program"]

ENGINE_VERSION = "cel-py-1"


def _check_budget(budget: object) -> None:
    if budget is not None and (type(budget) is not int or budget < 1):
        raise ValueError(f"a CEL cost budget is a positive int or None, not {budget!r}")


def _filename(label: str) -> str:
    """``<cel:label>`` with what a file name cannot hold (NUL, lone surrogates, line
    breaks) escaped: labels come from rule and policy names."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in label)
    return f"<cel:{text}>"


def _check_size(node: ast.Expr) -> None:
    """Refuse a tree that is not well-formed (built by hand: every name and literal of it
    reaches generated code) or over the compile budget."""
    from .cost import MAX_NODES

    bad = ast.invalid(node)
    if bad is not None:
        raise CelError(f"invalid expression tree: {bad[0]}", "invalid_ast")
    if ast.count_nodes(node, MAX_NODES) > MAX_NODES:
        raise CelError(f"expression too large to compile (over {MAX_NODES:,} nodes); split it, or "
                       "write a long `||` of equalities as `x in [...]`", "compile_budget")


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
    policy: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    cache_key: str | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> Program:
    """Compile a parsed (or hand-built) expression. ``budget``: the comprehension iterations
    one evaluation may perform (:mod:`.budget`); None for no limit."""
    _check_budget(budget)
    _check_size(node)
    decls = _decls(declarations)
    info = Info()
    result_type: Type | None = None
    overloads = None
    act_functions: frozenset[str] = frozenset()
    impls: dict[str, object] = {}
    if policy:
        from ..env.declarations import ACTIVATION_FUNCTIONS, policy_overloads
        from ..env.ngrok import FUNCTIONS as NGROK_FUNCTIONS

        decls = {**_policy_decls(), **decls}
        overloads = policy_overloads()
        act_functions = frozenset(ACTIVATION_FUNCTIONS)
        impls.update(NGROK_FUNCTIONS)
        impls.update(ACTIVATION_FUNCTIONS)
    if check:
        from .checker import check as run_check

        checked = run_check(
            node, decls, container=container, function_decls=function_decls, functions=overloads
        )
        if checked.errors:
            first = checked.errors[0]
            err = CelError(first.message, "check_error")
            err.diagnostics = checked.errors  # type: ignore[attr-defined]
            raise err
        info = Info(checked.types)
        result_type = checked.type
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    label = name or f"cel_{digest}"
    try:
        from .runtime.helpers import unbound

        impls.update({n: unbound(n) for n in (function_decls or {})})
        gen = generate(
            node,
            name=label,
            variables=set(decls),
            container=container,
            info=info,
            functions=impls,
            lenient=not check,
            nested=policy,
            act_functions=act_functions,
            budget=budget,
        )
        filename = _filename(label)
        code = builtins.compile(entry_source(gen.source), filename, "exec")
        fn = build(gen, filename, code)
    except CompileError as e:
        raise CelError(e.message, "compile_error") from None
    except (RecursionError, SyntaxError, MemoryError) as e:
        raise CelError(f"expression too complex to compile: {type(e).__name__}", "compile_error") from None
    from .cost import estimate

    cost = estimate(node, info.types)
    prog = Program(source, label, gen.source, fn, result_type, cost, gen.line_spans)
    if cache_key is not None and not function_decls:
        from . import cache

        extra = (source, label, str(result_type) if result_type is not None else None, cost, policy)
        record = cache.record(gen, code, extra)
        if record is not None:
            _RECORDS[cache_key] = record
            if cache_dir is not None:
                cache.save_record(cache_dir, cache_key, record)
    return prog


def _cached(key: str, cache_dir: str | os.PathLike[str] | None, source: str, name: str | None,
            policy: bool) -> Program | None:
    """The program compiled under ``key``: from memory, else (with ``cache_dir``) from disk."""
    hit = _CACHE.get(key)
    if hit is not None or cache_dir is None:
        return hit
    from . import cache

    record = cache.load(cache_dir, key)
    hit = _from_record(record, source, name, policy) if record is not None else None
    if hit is not None:
        _remember(key, hit)
    return hit


def _from_record(record: tuple, want_source: str, want_name: str | None, want_policy: bool) -> Program | None:
    """The program of a cache record, or None unless it is exactly the program asked for
    (its source, name and environment: a record filed under another key is a miss)."""
    from . import cache

    try:
        pyname, pysource, code, recipes, fn_keys, line_spans, extra = record
        source, label, type_text, cost, policy = extra
        if source != want_source or policy is not want_policy or (want_name is not None and label != want_name):
            return None
        names: dict[str, object] = {k: cache.rebuild_constant(r) for k, r in recipes}
        impls = _policy_impls() if policy else {}
        for helper, key_ in fn_keys:
            impl = impls.get(key_) or stdlib.FUNCTIONS.get(key_)
            names[helper] = impl if impl is not None else unbound(key_.lstrip("."))
        fn = instantiate(code, pyname, names, pysource)
        rtype = parse_type(type_text) if type_text is not None else None
    except Exception:  # noqa: BLE001 - a bad cache entry is a miss
        return None
    return Program(source, label, pysource, fn, rtype, cost, dict(line_spans))


@lru_cache(maxsize=1)
def _policy_impls() -> dict[str, object]:
    from ..env.declarations import ACTIVATION_FUNCTIONS
    from ..env.ngrok import FUNCTIONS as NGROK_FUNCTIONS

    return {**NGROK_FUNCTIONS, **ACTIVATION_FUNCTIONS}


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
    _check_budget(budget)
    key = _cache_key("expr", source, declarations, name, container, budget)
    hit = _cached(key, cache_dir, source, name, False)
    if hit is not None:
        return hit
    node = _parse(source)
    checked = declarations is not None
    prog = compile_ast(
        node, declarations, source=source, name=name, container=container, check=checked,
        cache_dir=cache_dir, cache_key=key, budget=budget,
    )
    _remember(key, prog)
    return prog


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
    _check_budget(budget)
    key = _cache_key("policy", source, declarations, name, "", budget)
    hit = _cached(key, cache_dir, source, name, True)
    if hit is not None:
        return hit
    if node is None:
        node = _parse(source)
    prog = compile_ast(
        node, declarations, source=source, name=name, policy=True, cache_dir=cache_dir, cache_key=key,
        budget=budget,
    )
    _remember(key, prog)
    return prog


def compile_conditions(
    sources: Sequence[str],
    declarations: Mapping[str, str | Type] | None = None,
    *,
    names: Sequence[str | None] | None = None,
    nodes: Sequence[ast.Expr | None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> list[Program | CelError]:
    """Compile a policy's conditions together: :func:`compile_condition` for each, but with
    ``cache_dir`` the whole batch is one cache file (one file to create when compiling, one
    to read when reloading, instead of one per expression).

    Returns one item per source, in order: the :class:`Program`, or the :class:`CelError`
    compiling it raised (returned, not raised, so one bad expression does not hide the
    others). ``nodes`` may give already parsed expressions.
    """
    from . import cache

    _check_budget(budget)
    count = len(sources)
    names = list(names) if names is not None else [None] * count
    keys = [_cache_key("policy", s, declarations, n, "", budget) for s, n in zip(sources, names)]
    batch_key = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    stored: dict[str, tuple] | None = None
    loaded = False
    out: list[Program | CelError] = []
    fresh = False
    for i, (source, key) in enumerate(zip(sources, keys)):
        prog = _CACHE.get(key)
        if prog is None and cache_dir is not None and not loaded:
            stored = cache.load_batch(cache_dir, batch_key)  # read only on a memory miss
            loaded = True
        if prog is None and stored is not None and key in stored:
            prog = _from_record(stored[key], source, names[i], True)
            if prog is not None:
                _RECORDS[key] = stored[key]
                _remember(key, prog)
        if prog is None:
            try:
                node = nodes[i] if nodes is not None else None
                if node is None:
                    node = _parse(source)
                prog = compile_ast(node, declarations, source=source, name=names[i], policy=True,
                                   cache_key=key, budget=budget)
            except CelError as e:
                out.append(e)
                continue
            _remember(key, prog)
            fresh = True
        out.append(prog)
    if cache_dir is not None:
        missing = stored is None if loaded else not cache.has_batch(cache_dir, batch_key)
        records = {k: _RECORDS[k] for k in keys if k in _RECORDS}
        if (fresh or missing) and records:
            cache.save_batch(cache_dir, batch_key, records)
    return out


def check_condition(
    node: ast.Expr, declarations: Mapping[str, str | Type] | None = None
) -> list:
    """Type-check a parsed policy expression: a list of diagnostics (AIGW3xx), maybe empty."""
    from .checker import check as run_check
    from ..env.declarations import policy_overloads

    decls = {**_policy_decls(), **_decls(declarations)}
    return run_check(node, decls, functions=policy_overloads()).errors


@lru_cache(maxsize=8192)
def check_text(source: str) -> tuple[ast.Expr, list, int | None] | None:
    """A policy expression parsed and checked on its own, memoized by its text: the node,
    the type errors (spans relative to ``source``) and the worst-case cost (None when it
    does not type-check). None when it does not parse. Lint passes share this."""
    from .checker import check as run_check
    from .cost import estimate
    from ..env.declarations import policy_overloads
    from .parser import CelSyntaxError, parse

    try:
        node = parse(source)
    except (CelSyntaxError, RecursionError):
        return None
    checked = run_check(node, _policy_decls(), functions=policy_overloads())
    if checked.errors:
        return node, list(checked.errors), None
    return node, [], estimate(node, checked.types)


@lru_cache(maxsize=1)
def _policy_decls() -> dict[str, Type]:
    from ..env.declarations import POLICY_VARIABLES

    return _decls(POLICY_VARIABLES)


def _parse(source: str) -> ast.Expr:
    from .parser import CelSyntaxError, parse

    try:
        return parse(source)
    except CelSyntaxError as e:
        raise CelError(str(e), "syntax_error") from None
    except RecursionError:
        raise CelError("expression too deeply nested", "syntax_error") from None


_CACHE: dict[str, Program] = {}
_CACHE_MAX = 20_000


def _cache_key(kind: str, source: str, declarations, name, container, budget=DEFAULT_BUDGET) -> str:  # type: ignore[no-untyped-def]
    decl = sorted((k, str(v)) for k, v in (declarations or {}).items()) if declarations is not None else None
    raw = repr((ENGINE_VERSION, kind, source, decl, name, container, budget))
    return hashlib.sha256(raw.encode()).hexdigest()


_RECORDS: dict[str, tuple] = {}
"""Cache key -> the disk-cache record of a program compiled in this process (what
``compile_conditions`` writes for a batch); bounded with ``_CACHE``."""


def _remember(key: str, prog: Program) -> None:
    if len(_CACHE) >= _CACHE_MAX:
        old = next(iter(_CACHE))
        _CACHE.pop(old)
        _RECORDS.pop(old, None)
    _CACHE[key] = prog


def clear_cache() -> None:
    _CACHE.clear()
    _RECORDS.clear()


_ = DYN
