"""A CEL environment: what an expression may name and how it is compiled (Jinja's
``Environment`` is the model).

An :class:`Environment` holds declarations (variables and their types, function overloads
for the checker), implementations (for the runtime) and options; the programs compiled in
it are cached on it, not in a module global. The generic core knows no particular world:
the policy environment of SPEC §5 is built in :mod:`aigw_policy.env` and passed in.

    env = Environment({"a": "int"})
    env.compile("a + 1 > 2")({"a": 2})   # -> True
"""

from __future__ import annotations

import builtins
import hashlib
import os
import weakref
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import ClassVar

from . import ast, cache
from .blocks import expand_blocks
from .budget import DEFAULT_BUDGET
from .checker import Checked, check as run_check, overload_table
from .codegen import CompileError, Info, generate
from .cost import MAX_NODES, estimate
from .decls import Overload, parse_overload
from .parser import CelSyntaxError, parse
from .program import Program, build, entry_source, instantiate
from .runtime import stdlib
from .runtime.helpers import unbound
from .runtime.host import host_types
from .runtime.values import CelError
from .types import Type, TypeParseError, parse_type

__all__ = ["Environment", "parse_declarations"]

TEXT_MEMO_SIZE = 32_768
"""Texts whose check :meth:`Environment.check_text` remembers: every CEL text of a 10,000-rule
policy with three texts a rule (SPEC §9), so that the lint passes and the compiler, which each
go through a policy's texts in order, find them all (a smaller LRU memo misses every one)."""


def parse_declarations(declarations: Mapping[str, str | Type] | None) -> dict[str, Type]:
    """``{"a": "int"}`` -> ``{"a": INT}``; a bad type is a :class:`CelError`."""
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


def _check_budget(budget: object) -> None:
    if budget is not None and (type(budget) is not int or budget < 1):
        raise ValueError(f"a CEL cost budget is a positive int or None, not {budget!r}")


def _filename(label: str) -> str:
    """``<cel:label>`` with what a file name cannot hold (NUL, lone surrogates, line
    breaks) escaped: labels come from rule and policy names."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in label)
    return f"<cel:{text}>"


def _check_size(node: ast.Expr, parsed: bool = False) -> None:
    """Refuse a tree that is not well-formed (built by hand: every name and literal of it
    reaches generated code; ``parsed``: the parser built it, so it is) or over the compile
    budget."""
    bad = None if parsed else ast.invalid(node)
    if bad is not None:
        raise CelError(f"invalid expression tree: {bad[0]}", "invalid_ast")
    if ast.count_nodes(node, MAX_NODES) > MAX_NODES:
        raise CelError(f"expression too large to compile (over {MAX_NODES:,} nodes); split it, or "
                       "write a long `||` of equalities as `x in [...]`", "compile_budget")


def parse_source(source: str) -> ast.Expr:
    """Parse an expression; a syntax error is a :class:`CelError`."""
    try:
        return parse(source)
    except CelSyntaxError as e:
        raise CelError(str(e), "syntax_error") from None
    except RecursionError:
        raise CelError("expression too deeply nested", "syntax_error") from None


class Environment:
    """Declarations + functions + options, and the programs compiled in them.

    ``variables``: name -> type (text such as ``"map(string, dyn)"`` or a :class:`Type`).
    ``functions``: overload lines (``"name [receiver.](params) -> result"``, see
    :mod:`.decls`) and ``implementations`` (key -> callable; a receiver-style function is
    keyed ``.name``); ``activation_functions`` are implementations that take the
    activation as their first argument. ``dotted_variables``: each declared dotted name is
    one key of the activation (``act["req.url.path"]``), nested mappings a slower
    fallback. ``always_check``: type-check even when a call gives no declarations (else
    only declared compiles are checked, undeclared variables being ``dyn``). ``objects``:
    object types (``{"aigw.Model": {"id": "string", ...}}``): ``m.id`` on a value of type
    ``aigw.Model`` checks against those fields (at run time the value is a dict or has
    ``cel_select``). ``name`` tags
    the programs of this environment in cache keys and records.
    """

    live: ClassVar[weakref.WeakSet[Environment]] = weakref.WeakSet()
    """Every environment alive (weakly): what ``cel.clear_cache()`` clears."""

    def __init__(
        self,
        variables: Mapping[str, str | Type] | None = None,
        functions: Iterable[str] = (),
        implementations: Mapping[str, object] | None = None,
        *,
        activation_functions: Mapping[str, object] | None = None,
        dotted_variables: bool = False,
        always_check: bool = False,
        objects: Mapping[str, Mapping[str, str | Type]] | None = None,
        name: str = "expr",
        cache_size: int = 20_000,
        typed_activation: bool = False,
    ) -> None:
        self.name = name
        self.typed_activation = typed_activation
        """The activations given are typed already (the engine's, by its request check): a
        variable declared ``string``, ``bool``, ``bytes``, a list or a map is read as it is;
        else its value is checked when read (:mod:`.runtime.host`)."""
        self.variables: dict[str, Type] = parse_declarations(variables)
        # what the code generator is told of the variables' host values: the same for every
        # compile without declarations of its own (~40% of a cold compile when asked each time)
        self._host_types = host_types(self.variables, text=not typed_activation)
        self.objects: dict[str, dict[str, Type]] = {k: parse_declarations(v) for k, v in (objects or {}).items()}
        lines = tuple(functions)
        overloads: dict[str, list[Overload]] = {}
        for line in lines:
            o = parse_overload(line)
            overloads.setdefault(o.name, []).append(o)
        self.overloads = overloads
        self.activation_functions = frozenset(activation_functions or ())
        self.implementations: dict[str, object] = {**(implementations or {}), **(activation_functions or {})}
        self.dotted_variables = dotted_variables
        self.always_check = always_check
        self.cache_size = cache_size
        self.fingerprint = hashlib.sha256(repr((
            name, sorted((k, str(v)) for k, v in self.variables.items()), lines,
            sorted(self.implementations), sorted(self.activation_functions), dotted_variables, typed_activation,
            sorted((k, sorted((f, str(t)) for f, t in v.items())) for k, v in self.objects.items()),
        )).encode()).hexdigest()[:16]  # fmt: skip
        self._table = overload_table(overloads)
        self._programs: dict[str, Program] = {}
        self._records: dict[str, tuple] = {}
        """Cache key -> the disk-cache record of a program compiled here (what
        :meth:`compile_many` writes for a batch); bounded with the programs."""
        self.check_text = lru_cache(maxsize=TEXT_MEMO_SIZE)(self._check_text)
        Environment.live.add(self)

    def __repr__(self) -> str:
        return f"<cel.Environment {self.name} {len(self.variables)} variables>"

    # -- checking ------------------------------------------------------------------------
    def check(self, node: ast.Expr, declarations: Mapping[str, str | Type] | None = None) -> list:
        """Type-check a parsed expression: a list of diagnostics (AIGW3xx), maybe empty."""
        decls = {**self.variables, **parse_declarations(declarations)}
        return self._run_check(node, decls)[1].errors

    def result_type(self, node: ast.Expr) -> Type | None:
        """The type of a parsed expression's value (None when it does not type-check)."""
        checked = self._run_check(node, self.variables)[1]
        return None if checked.errors else checked.type

    def _run_check(self, node: ast.Expr, decls: dict[str, Type]) -> tuple[ast.Expr, Checked]:
        """``node`` with its ``cel.block`` forms expanded (:mod:`.blocks`), and its check; a bad
        block is the diagnostics of the expansion."""
        node, blocked = expand_blocks(node)
        if blocked:
            return node, Checked(None, errors=blocked)
        return node, run_check(node, decls, functions=self._table, objects=self.objects)

    def _check_text(self, source: str) -> tuple[ast.Expr, list, int | None, Checked] | None:
        """An expression parsed and checked on its own, memoized (on this environment) by its
        text: the node (its ``cel.block`` forms expanded), the type errors (spans relative to
        ``source``), the worst-case cost (None when it does not type-check) and the whole
        check (the compiler reuses its types). None when it does not parse."""
        try:
            node = parse(source)
        except (CelSyntaxError, RecursionError):
            return None
        node, checked = self._run_check(node, self.variables)
        if checked.errors:
            return node, list(checked.errors), None, checked
        return node, [], estimate(node, checked.types), checked

    def _prechecked(self, source: str, node: ast.Expr | None) -> tuple[ast.Expr, Checked, int] | None:
        """The memoized check of ``source`` (:meth:`check_text`) when it holds for a compile
        of ``node`` in this environment without declarations: the same node (the parser
        memoizes nodes by text, types are keyed by node) and no type errors."""
        known = self.check_text(source)
        if known is None or known[1] or (node is not None and node is not known[0]) or known[2] is None:
            return None
        return known[0], known[3], known[2]

    # -- compiling -----------------------------------------------------------------------
    def key(self, source: str, declarations: Mapping[str, str | Type] | None = None, name: str | None = None,
            container: str = "", budget: int | None = DEFAULT_BUDGET) -> str:
        """The cache key of a compile: source, declarations, options, this environment and
        the engine version."""
        decl = sorted((k, str(v)) for k, v in declarations.items()) if declarations is not None else None
        raw = repr((cache.ENGINE_VERSION, self.name, self.fingerprint, source, decl, name, container, budget))
        return hashlib.sha256(raw.encode()).hexdigest()

    def compile_ast(
        self,
        node: ast.Expr,
        declarations: Mapping[str, str | Type] | None = None,
        *,
        source: str = "",
        name: str | None = None,
        container: str = "",
        check: bool = True,
        function_decls: dict | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_key: str | None = None,
        budget: int | None = DEFAULT_BUDGET,
        prechecked: tuple[Checked, int] | None = None,
    ) -> Program:
        """Compile a parsed (or hand-built) expression, uncached. ``budget``: the
        comprehension iterations one evaluation may perform (:mod:`.budget`); None for no
        limit. ``function_decls``: extra overloads (conformance-test protos), unimplemented.
        ``prechecked``: the check of ``node`` in this environment without declarations and
        its cost, already made (:meth:`_prechecked`: ``node`` is then the parser's)."""
        _check_budget(budget)
        _check_size(node, parsed=prechecked is not None)
        if prechecked is None:  # else ``node`` is the memoized check's, already expanded
            node, blocked = expand_blocks(node)
            if blocked:
                raise CelError(blocked[0].message, "check_error", diagnostics=blocked)
        own = parse_declarations(declarations)
        decls = {**self.variables, **own}
        info = Info()
        result_type: Type | None = None
        types: dict[int, Type] = {}
        if check:
            checked = prechecked[0] if prechecked is not None else run_check(
                node, decls, container=container, function_decls=function_decls, functions=self._table,
                objects=self.objects)
            if checked.errors:
                raise CelError(checked.errors[0].message, "check_error", diagnostics=checked.errors)
            # types a `dyn` could belie at run time (`dyn(o).orValue(true)` is a `bool` to the
            # checker) prove nothing: the code is generated as for an unchecked expression
            info = Info(checked.types if not checked.unproven else None)
            result_type = checked.type
            types = checked.types
        digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        label = name or f"cel_{digest}"
        impls = dict(self.implementations)
        impls.update({n: unbound(n) for n in (function_decls or {})})
        try:
            gen = generate(
                node, name=label, variables=set(decls), container=container, info=info,
                functions=impls, lenient=not check, nested=self.dotted_variables,
                act_functions=self.activation_functions, budget=budget,
                host_types=host_types(decls, text=not self.typed_activation) if own else self._host_types,
            )  # fmt: skip
            filename = _filename(label)
            code = builtins.compile(entry_source(gen.source), filename, "exec")
            fn = build(gen, filename, code)
        except CompileError as e:
            raise CelError(e.message, "compile_error") from None
        except (RecursionError, SyntaxError, MemoryError) as e:  # Python's own limits on the generated code
            why = "it is too large" if isinstance(e, MemoryError) else "its calls or parentheses nest too deeply"
            raise CelError(f"expression too complex to compile: {why}; split it into smaller expressions",
                           "compile_error") from None
        cost = prechecked[1] if prechecked is not None else estimate(node, types)
        prog = Program(source, label, gen.source, fn, result_type, cost, gen.line_spans)
        if cache_key is not None and not function_decls:
            extra = (source, label, str(result_type) if result_type is not None else None, cost, self.name)
            record = cache.record(gen, code, extra)
            if record is not None:
                self._records[cache_key] = record
                if cache_dir is not None:
                    cache.save_record(cache_dir, cache_key, record)
        return prog

    def compile(
        self,
        source: str,
        declarations: Mapping[str, str | Type] | None = None,
        *,
        name: str | None = None,
        node: ast.Expr | None = None,
        container: str = "",
        cache_dir: str | os.PathLike[str] | None = None,
        budget: int | None = DEFAULT_BUDGET,
    ) -> Program:
        """Compile an expression (``node``: already parsed), cached by source, declarations,
        name, container and budget; with ``cache_dir`` also on disk (see :mod:`.cache`)."""
        _check_budget(budget)
        key = self.key(source, declarations, name, container, budget)
        hit = self._cached(key, cache_dir, source, name)
        if hit is not None:
            return hit
        if node is None:
            node = parse_source(source)
        prog = self.compile_ast(
            node, declarations, source=source, name=name, container=container,
            check=self.always_check or declarations is not None, cache_dir=cache_dir, cache_key=key,
            budget=budget,
        )  # fmt: skip
        self._remember(key, prog)
        return prog

    def compile_many(
        self,
        sources: Sequence[str],
        declarations: Mapping[str, str | Type] | None = None,
        *,
        names: Sequence[str | None] | None = None,
        nodes: Sequence[ast.Expr | None] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        budget: int | None = DEFAULT_BUDGET,
    ) -> list[Program | CelError]:
        """:meth:`compile` for each source, but with ``cache_dir`` the whole batch is one cache
        file (one file to create when compiling, one to read when reloading).

        Returns one item per source, in order: the :class:`Program`, or the :class:`CelError`
        compiling it raised (returned, not raised, so one bad expression does not hide the
        others). ``nodes`` may give already parsed expressions.
        """
        _check_budget(budget)
        names = list(names) if names is not None else [None] * len(sources)
        keys = [self.key(s, declarations, n, "", budget) for s, n in zip(sources, names)]
        batch_key = hashlib.sha256("\n".join(keys).encode()).hexdigest()
        stored: dict[str, tuple] | None = None
        loaded = False
        out: list[Program | CelError] = []
        fresh = False
        check = self.always_check or declarations is not None
        for i, (source, key) in enumerate(zip(sources, keys)):
            prog = self._programs.get(key)
            if prog is None and cache_dir is not None and not loaded:
                stored = cache.load_batch(cache_dir, batch_key)  # read only on a memory miss
                loaded = True
            if prog is None and stored is not None and key in stored:
                prog = self._from_record(stored[key], source, names[i])
                if prog is not None:
                    self._records[key] = stored[key]
                    self._remember(key, prog)
            if prog is None:
                try:
                    node = nodes[i] if nodes is not None else None
                    known = self._prechecked(source, node) if check and declarations is None else None
                    if known is not None:
                        node = known[0]
                    elif node is None:
                        node = parse_source(source)
                    prog = self.compile_ast(node, declarations, source=source, name=names[i], check=check,
                                            cache_key=key, budget=budget,
                                            prechecked=known[1:] if known is not None else None)
                except CelError as e:
                    out.append(e)
                    continue
                self._remember(key, prog)
                fresh = True
            out.append(prog)
        if cache_dir is not None:
            missing = stored is None if loaded else not cache.has_batch(cache_dir, batch_key)
            records = {k: self._records[k] for k in keys if k in self._records}
            if (fresh or missing) and records:
                cache.save_batch(cache_dir, batch_key, records)
        return out

    # -- the program cache ---------------------------------------------------------------
    def _cached(self, key: str, cache_dir: str | os.PathLike[str] | None, source: str,
                name: str | None) -> Program | None:
        """The program compiled under ``key``: from memory, else (with ``cache_dir``) from disk."""
        hit = self._programs.get(key)
        if hit is not None or cache_dir is None:
            return hit
        record = cache.load(cache_dir, key)
        hit = self._from_record(record, source, name) if record is not None else None
        if hit is not None:
            self._remember(key, hit)
        return hit

    def _from_record(self, record: tuple, want_source: str, want_name: str | None) -> Program | None:
        """The program of a cache record, or None unless it is exactly the program asked for
        (its source, name and environment: a record filed under another key is a miss)."""
        try:
            pyname, pysource, code, recipes, fn_keys, line_spans, extra = record
            source, label, type_text, cost, env_name = extra
            if source != want_source or env_name != self.name or (want_name is not None and label != want_name):
                return None
            names: dict[str, object] = {k: cache.rebuild_constant(r) for k, r in recipes}
            for helper, key_ in fn_keys:
                impl = self.implementations.get(key_) or stdlib.FUNCTIONS.get(key_)
                names[helper] = impl if impl is not None else unbound(key_.lstrip("."))
            fn = instantiate(code, pyname, names, pysource)
            rtype = parse_type(type_text) if type_text is not None else None
        except Exception:  # noqa: BLE001 - a bad cache entry is a miss
            return None
        return Program(source, label, pysource, fn, rtype, cost, dict(line_spans))

    def _remember(self, key: str, prog: Program) -> None:
        if len(self._programs) >= self.cache_size:
            old = next(iter(self._programs))
            self._programs.pop(old)
            self._records.pop(old, None)
        self._programs[key] = prog

    def clear_cache(self) -> None:
        """Forget every program compiled in this environment (memory only)."""
        self._programs.clear()
        self._records.clear()
        self.check_text.cache_clear()
