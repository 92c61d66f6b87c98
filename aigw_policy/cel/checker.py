"""The CEL type checker: names, overloads, type parameters and ``dyn``, errors with spans.

``check(node, declarations)`` returns a :class:`Checked` with the type of every node (keyed
by ``id(node)``, for the code generator) and a list of diagnostics. It never raises for a
bad expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from . import ast
from .codegen import ACCUMULATOR, MACROS
from .builtin_names import CONSTANTS, TYPE_NAMES, lookup
from .decls import Overload, standard
from .macro_args import macro_arg_error
from ..diagnostics import Diagnostic, did_you_mean
from .foreign_names import function_help, name_help
from .names import candidates, function_names, message_name, qualified_name, resolve
from .wellknown import ANY, WRAPPER, field_problem, literal_type, nullable
from .types import (
    BOOL, BYTES, DOUBLE, DURATION, DYN, INT, NULL, STRING, TIMESTAMP, UINT, Type, list_of,
    map_of, opaque, optional_of, type_of,
)  # fmt: skip

__all__ = ["Checked", "check", "CODE_UNKNOWN_NAME", "CODE_UNKNOWN_FUNCTION", "CODE_NO_OVERLOAD"]

CODE_UNKNOWN_NAME = "AIGW300"
CODE_UNKNOWN_FUNCTION = "AIGW301"
CODE_NO_OVERLOAD = "AIGW302"
CODE_TYPE = "AIGW303"

_LIT = {"int": INT, "uint": UINT, "double": DOUBLE, "string": STRING, "bytes": BYTES,
        "bool": BOOL, "null": NULL}  # fmt: skip


@dataclass
class Checked:
    type: Type | None
    types: dict[int, Type] = field(default_factory=dict)
    errors: list[Diagnostic] = field(default_factory=list)
    unproven: bool = False
    """Some type rests on a ``dyn`` taken for a parameterized one (:attr:`_Subst.unproven`):
    the types check the expression as cel-go and cel-cpp do, but prove nothing at run time."""


_SELECTABLE = frozenset(("dyn", "param", "error", "map", "opaque"))
"""Kinds whose values may have fields (an opaque type with its declared ones)."""


class _Subst:
    def __init__(self) -> None:
        self.m: dict[str, Type] = {}
        self.skipped: set[str] = set()
        """Type parameters inside a type a ``dyn`` was taken for (``T`` of ``optional(T)`` in
        `dyn(o).orValue(true)`), left free for other arguments or the context to bind."""
        self.unproven = False
        """A call's result holds such a parameter: `dyn(o).orValue(true)` is a ``bool`` (cel-go,
        cel-cpp), whatever ``o`` holds at run time."""

    def copy(self) -> _Subst:
        s = _Subst()
        s.m = dict(self.m)
        s.skipped = set(self.skipped)
        s.unproven = self.unproven
        return s

    def apply(self, t: Type, free_to_dyn: bool = False) -> Type:
        if t.kind == "param":
            b = self.m.get(t.name)
            if b is None:
                return DYN if free_to_dyn else t
            return self.apply(b, free_to_dyn)
        if t.params:
            return Type(t.kind, tuple(self.apply(p, free_to_dyn) for p in t.params), t.name)
        return t


def _occurs(name: str, t: Type, s: _Subst) -> bool:
    t = s.apply(t)
    if t.kind == "param":
        return t.name == name
    return any(_occurs(name, p, s) for p in t.params)


def join(a: Type, b: Type) -> Type:
    """The most specific type holding values of both ``a`` and ``b`` (without unifying)."""
    if a == b:
        return a
    if a.kind == "dyn" or b.kind == "dyn":
        return DYN
    if a.kind == "null" and nullable(b):
        return b
    if b.kind == "null" and nullable(a):
        return a
    if a.kind == b.kind and WRAPPER in (a.name, b.name):
        return Type(a.kind, (), WRAPPER)  # a primitive and its wrapper: the wrapper, which takes null
    if a.kind == b.kind and a.name == b.name and len(a.params) == len(b.params) and a.params:
        return Type(a.kind, tuple(join(x, y) for x, y in zip(a.params, b.params)), a.name)
    return DYN


def unify(p: Type, a: Type, s: _Subst) -> bool:
    if p.kind == "param":
        bound = s.m.get(p.name)
        if bound is not None:
            trial = s.copy()
            if not unify(bound, a, trial):
                return False
            s.m = trial.m
            s.m[p.name] = join(s.apply(bound), s.apply(a))
            return True
        if a.kind == "param" and a.name == p.name:
            return True
        if _occurs(p.name, a, s):
            return False
        s.m[p.name] = a
        return True
    if a.kind == "param":
        return unify(a, p, s)
    if p.kind in ("dyn", "error") or a.kind in ("dyn", "error"):
        if a.kind == "dyn" and p.params:
            s.skipped |= _param_names(p)
        return True
    if p.kind == a.kind == "type":
        return True
    if (p.kind == "null" and nullable(a)) or (a.kind == "null" and nullable(p)):
        return True  # as `join`: `timestamp(0) == null`, `t in [null]` check (cel-go, cel-cpp)
    if p.kind != a.kind or (p.name != a.name and WRAPPER not in (p.name, a.name)) or len(p.params) != len(a.params):
        return False  # a wrapper (`wrapper(int)`) is its primitive
    return all(unify(x, y, s) for x, y in zip(p.params, a.params))


class _Checker:
    def __init__(self, decls: dict[str, Type], container: str, functions: dict[str, list[Overload]],
                 objects: Mapping[str, Mapping[str, Type]] | None = None) -> None:
        self.decls = decls
        self.objects = objects or {}
        self.container = container
        self.functions = functions
        self.types: dict[int, Type] = {}
        self.errors: list[Diagnostic] = []
        self.scopes: list[dict[str, Type]] = []
        self.subst = _Subst()
        self._fresh = 0

    def error(self, code: str, message: str, node: ast.Expr, help: str | None = None) -> Type:
        self.errors.append(Diagnostic.make(code, message, getattr(node, "span", None), help))
        return DYN

    def set(self, node: ast.Expr, t: Type) -> Type:
        self.types[id(node)] = t
        return t

    def check(self, node: ast.Expr) -> Type:
        t = getattr(self, "c_" + type(node).__name__)(node)
        return self.set(node, t)

    # -- names ---------------------------------------------------------------------------
    def local(self, name: str) -> Type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def candidates(self, name: str) -> list[str]:
        return candidates(self.container, name)

    def resolve(self, dotted: str) -> tuple[str, int] | None:
        return resolve(self.container, dotted, self.decls)

    def unknown_name(self, name: str, node: ast.Expr) -> Type:
        names = list(self.decls) + [n for s in self.scopes for n in s]
        help = name_help(name, names) or did_you_mean(name, names)
        return self.error(
            CODE_UNKNOWN_NAME, f"undeclared reference to `{name}`", node, help
        )

    def c_Literal(self, node: ast.Literal) -> Type:
        return _LIT[node.kind]

    def c_Ident(self, node: ast.Ident) -> Type:
        name = node.name
        if not name.startswith("."):
            t = self.local(name)
            if t is not None:
                return t
        found = self.resolve(name)
        builtin = lookup(self.container, name, found)
        if builtin is not None:
            return _builtin_type(builtin)
        if found is not None:
            return self.decls[found[0]]
        return self.unknown_name(name.lstrip("."), node)

    def c_Select(self, node: ast.Select) -> Type:
        if not node.optional:
            dotted = qualified_name(node)
            if dotted is not None:
                root = dotted.lstrip(".").split(".")[0]
                if dotted.startswith(".") or self.local(root) is None:
                    found = self.resolve(dotted)
                    builtin = lookup(self.container, dotted, found)
                    if builtin is not None:
                        return _builtin_type(builtin)
                    if found is not None:
                        name, used = found
                        t = self.decls[name]
                        # mark the intermediate nodes
                        rest = dotted.lstrip(".").split(".")[used:]
                        if rest and t.kind not in _SELECTABLE and any(
                                d.startswith(f"{name}.") for d in self.decls):
                            # `req.url.pathh`: misspelled under a value that is a namespace too
                            return self.unknown_name(dotted.lstrip("."), node)
                        chain = []
                        n: ast.Expr = node
                        for _ in rest:
                            chain.append(n)
                            n = n.operand  # type: ignore[union-attr]
                        self.set(n, t)
                        for sel in reversed(chain):
                            t = self.select_type(t, sel.field, sel)  # type: ignore[union-attr]
                            self.set(sel, t)
                        return t
                    bare = dotted.lstrip(".")
                    if self.local(root) is None and root not in self.decls:
                        # report the whole dotted name once
                        if not any(c in self.decls for c in self.candidates(root)):
                            return self.unknown_name(bare, node)
        ot = self.check(node.operand)
        if node.optional:
            inner = ot.params[0] if _is_opt(ot) else ot
            return optional_of(self.field_type(inner, node.field, node))
        return self.select_type(ot, node.field, node)

    def select_type(self, t: Type, name: str, node: ast.Expr) -> Type:
        """``e.f`` for an ``e`` of type ``t``: on an optional, an optional of the field's type
        (cel-go's and cel-cpp's optional selection), whether ``e`` is an expression or a
        declared variable (``o.c`` for ``o: optional(map(string, V))``)."""
        t = self.subst.apply(t)
        if _is_opt(t):
            return optional_of(self.field_type(t.params[0], name, node))
        return self.field_type(t, name, node)

    def field_type(self, t: Type, name: str, node: ast.Expr) -> Type:
        t = self.subst.apply(t)
        if t.kind == "dyn" or t.kind == "param" or t.kind == "error":
            return DYN
        if t.kind == "map":  # whatever its key type (cel-go, cel-cpp): a key that is no string is never found
            return t.params[1]
        fields = self.objects.get(t.name) if t.kind == "opaque" else None
        if fields is not None:
            ft = fields.get(name)
            if ft is None:
                return self.error(CODE_TYPE, f"type `{t}` has no field `{name}`", node,
                                  did_you_mean(name, list(fields)))
            return ft
        return self.error(CODE_TYPE, f"type `{t}` does not support field selection", node)

    def c_Index(self, node: ast.Index) -> Type:
        ot = self.subst.apply(self.check(node.operand))
        it = self.subst.apply(self.check(node.index))
        opt = node.optional
        op = "_[?_]" if opt else "_[_]"
        wrapped, shown = _is_opt(ot), ot  # the message names the operand as written
        if wrapped:
            ot = ot.params[0]
            opt = True
        # the langdef's signatures `list(A)[int]` and `map(A, B)[A]`, as cel-go and cel-cpp
        # check them: `[1][0u]` and `{1: x}[1u]` have no overload; a `dyn` index goes to the
        # runtime, where numbers find numeric keys across types (`{1: x}[dyn(1u)]`)
        if ot.kind == "list":
            if not unify(INT, it, self.subst):
                self.error(CODE_NO_OVERLOAD, _no_index(op, shown, it), node)
            r = ot.params[0]
        elif ot.kind == "map":
            if not unify(ot.params[0], it, self.subst):
                self.error(CODE_NO_OVERLOAD, _no_index(op, shown, it), node)
            r = ot.params[1]
        elif ot.kind == "dyn" and opt and (not wrapped or it.kind in _INDEX_KINDS):
            # several overloads fit, each with its own result parameter, and cel-go and
            # cel-cpp make such a call `dyn`: `dyn[?k]` (the list and map ones and their
            # optional-receiver forms), `optional(dyn)[i]` with an int (the optional list and
            # optional map ones); `optional(dyn)['a']` fits the optional map one only
            return DYN
        elif ot.kind in ("dyn", "param", "error"):
            r = DYN
        else:
            r = self.error(CODE_NO_OVERLOAD, _no_index(op, shown, it), node)
        return optional_of(r) if opt else r

    def c_CreateList(self, node: ast.CreateList) -> Type:
        elem: Type | None = None
        for i, e in enumerate(node.elements):
            t = self.subst.apply(self.check(e))
            if i in node.optional_indices:
                t = self.optional_value(t, e)
            elem = t if elem is None else self.join_elements(elem, t)
        return list_of(elem if elem is not None else self.fresh())

    def c_CreateMap(self, node: ast.CreateMap) -> Type:
        """Any key type checks, as in cel-go and cel-cpp: a key of a kind no map key has
        (`{1.0: x}`) is an evaluation error, which `&&` and `||` may absorb."""
        kt: Type | None = None
        vt: Type | None = None
        for e in node.entries:
            k = self.subst.apply(self.check(e.key))
            v = self.subst.apply(self.check(e.value))
            if e.optional:
                v = self.optional_value(v, e.value)
            kt = k if kt is None else self.join_elements(kt, k)
            vt = v if vt is None else self.join_elements(vt, v)
        return map_of(kt or self.fresh(), vt or self.fresh())

    def optional_value(self, t: Type, node: ast.Expr) -> Type:
        """The value type of an optional entry (`[?e]`, `{?k: e}`): `e` must be an optional
        or `dyn` (cel-go's and cel-cpp's type mismatch)."""
        if _is_opt(t):
            return t.params[0]
        if t.kind not in ("dyn", "param", "error"):  # `dyn`: cel-go; cel-cpp refuses it too
            self.error(CODE_TYPE, f"expected type `optional({t})` but found `{t}`", node)
        return DYN

    def join_elements(self, a: Type, b: Type) -> Type:
        """The element type of a literal holding ``a`` and ``b``: unified when they can be
        (``[[], [[]]]`` is ``list(list(list(dyn)))``, ``[optional.none(), optional.of(1)]``
        is ``list(optional(int))``), a nullable type with ``null``, else ``dyn`` (as cel-go
        and cel-cpp: ``[[1], ['a']]`` is ``list(dyn)``)."""
        trial = self.subst.copy()
        if unify(a, b, trial):
            self.subst = trial
            return join(trial.apply(a), trial.apply(b))
        return join(a, b) if "null" in (a.kind, b.kind) else DYN

    def c_CreateStruct(self, node: ast.CreateStruct) -> Type:
        name = message_name(self.container, node.type_name)  # a well-known type, else unsupported
        if name is None:
            return self.error(CODE_TYPE, f"message type `{node.type_name}` is not supported", node)
        for f in node.fields:
            t = self.subst.apply(self.check(f.value))
            t = self.optional_value(t, f.value) if f.optional else t
            problem = field_problem(name, f.name, t, lambda want, got: unify(want, got, self.subst.copy()))
            if problem:
                self.error(CODE_TYPE, problem, f.value)
        return literal_type(name)

    def fresh(self) -> Type:
        self._fresh += 1
        return Type("param", (), f"_T{self._fresh}")

    # -- calls ---------------------------------------------------------------------------
    def c_Call(self, node: ast.Call) -> Type:
        f = node.function
        args = node.args
        if node.target is None:
            if f == "has" and len(args) == 1:
                a = args[0]
                if not isinstance(a, ast.Select) or a.optional:
                    return self.error(CODE_TYPE, "invalid argument to has() macro", node)
                self.check(a)
                return BOOL
            return self.call(node, f.lstrip("."), None, list(args))
        target = node.target
        refused = macro_arg_error(node)  # `math.least([1, 'a'])`, `{}.sortBy(x, x)`: refused as syntax
        if refused is not None:
            return self.error(CODE_NO_OVERLOAD, refused[0], node)
        if f == "bind" and len(args) == 3 and qualified_name(target) == "cel":  # a macro: no name hides it
            if not isinstance(args[0], ast.Ident):
                return self.error(CODE_TYPE, "cel.bind needs a simple name", node)
            init = self.check(args[1])
            self.scopes.append({args[0].name: init})
            try:
                return self.check(args[2])
            finally:
                self.scopes.pop()
        if (f, True, len(args)) in MACROS and all(
            isinstance(a, ast.Ident) for a in args[: 1 if len(args) == 2 or f == "map" else 2]
        ):
            return self.macro(node)
        dotted = qualified_name(target)
        if dotted is not None:  # `math.abs(x)`: a namespaced function before any variable named `math` (cel-go)
            for cand in function_names(self.container, dotted + "." + f):
                if cand in self.functions:
                    return self.call(node, cand, None, list(args))
        return self.call(node, f, target, list(args))

    def call(self, node: ast.Call, name: str, target: ast.Expr | None, args: list[ast.Expr]) -> Type:
        overloads = None
        if target is None:
            for cand in function_names(self.container, name):
                if cand in self.functions:
                    overloads = self.functions[cand]
                    name = cand
                    break
        else:
            overloads = self.functions.get(name)
        arg_types = []
        if target is not None:
            arg_types.append(self.subst.apply(self.check(target)))
        arg_types += [self.subst.apply(self.check(a)) for a in args]
        if name in ("math.greatest", "math.least") and target is None:
            return self.extreme(node, name, arg_types)
        if overloads is None:
            help = function_help(name, self.functions) or did_you_mean(name, list(self.functions))
            return self.error(CODE_UNKNOWN_FUNCTION, f"undeclared reference to function `{name}`", node, help)
        results: list[Type] = []
        chosen = None
        for o, generic, all_params in _by_shape(overloads).get((target is not None, len(arg_types)), ()):
            if generic:
                o2 = self.instantiate(o)
                params = ([o2.receiver] if o2.receiver is not None else []) + list(o2.params)
            else:
                o2 = o
                params = all_params
                if any(_kinds_clash(p, a) for p, a in zip(params, arg_types)):
                    continue  # cannot unify: skip copying the substitution
            trial = self.subst.copy()
            if all(unify(p, a, trial) for p, a in zip(params, arg_types)):
                results.append(trial.apply(o2.result))
                # a fitting overload's bindings hold for the ones after it (cel-go's and cel-cpp's
                # checkers): `[].map(x, -x)` is a `list(int)`, the first overload binding `x`
                chosen = self.subst = trial
                trial.unproven |= bool(trial.skipped) and bool(trial.skipped & _param_names(o2.result))
        if not results:
            kinds = ", ".join(str(self.subst.apply(t, True)) for t in arg_types)
            return self.error(
                CODE_NO_OVERLOAD, f"found no matching overload for `{name}` applied to `({kinds})`", node,
                help=_operator_help(name, kinds),
            )
        if len(results) == 1 and chosen is not None:
            self.subst = chosen
            return results[0]
        # several overloads fit: their result if they agree, else dyn (cel-go's and cel-cpp's
        # checkers), so `[dyn(1)].sort()` is a `dyn`, not a `list(dyn)`
        return results[0] if all(x == results[0] for x in results[1:]) else DYN

    def instantiate(self, o: Overload) -> Overload:
        names: dict[str, Type] = {}

        def ren(t: Type) -> Type:
            if t.kind == "param":
                if t.name not in names:
                    names[t.name] = self.fresh()
                return names[t.name]
            if t.params:
                return Type(t.kind, tuple(ren(p) for p in t.params), t.name)
            return t

        return Overload(o.name, ren(o.receiver) if o.receiver else None, tuple(ren(p) for p in o.params), ren(o.result))

    def extreme(self, node: ast.Call, name: str, ts: list[Type]) -> Type:
        if len(ts) >= 3:  # the macro passes a list literal: of one element type, or of dyn
            ts = [ts[0] if all(t == ts[0] for t in ts) else DYN]
        elif len(ts) == 1 and ts[0].kind == "list":
            ts = [ts[0].params[0]]
        if not ts:
            return self.error(CODE_NO_OVERLOAD, f"found no matching overload for `{name}` applied to `()`", node)
        for t in ts:
            if t.kind not in ("int", "uint", "double", "dyn", "param"):
                return self.error(CODE_NO_OVERLOAD, f"found no matching overload for `{name}` applied to `({', '.join(map(str, ts))})`", node)
        for i, t in enumerate(ts):
            if t.kind == "param" and unify(INT, t, self.subst):  # a free type: the first overload's, int
                ts[i] = INT
        kinds = {t.kind for t in ts}
        return ts[0] if len(kinds) == 1 and ts[0].kind != "param" else DYN

    def macro(self, node: ast.Call) -> Type:
        f = node.function
        args = node.args
        rt = self.subst.apply(self.check(node.target))  # type: ignore[arg-type]
        two = f in ("transformList", "transformMap", "transformMapEntry") or (
            f in ("all", "exists", "exists_one", "existsOne") and len(args) == 3
        )
        for a in args[: 2 if two else 1]:
            if a.name == ACCUMULATOR and f not in ("optMap", "optFlatMap", "sortBy"):  # type: ignore[union-attr]
                return self.error(CODE_TYPE, f"iteration variable `{ACCUMULATOR}` overwrites the accumulator variable of `{f}`", a)
        if f in ("optMap", "optFlatMap"):
            # the macro is `t.hasValue() ? ... : optional.none()` in cel-go and cel-cpp
            if not _is_opt(rt) and rt.kind not in ("dyn", "param", "error", "null"):  # null: as `null.hasValue()`
                return self.error(CODE_NO_OVERLOAD, f"found no matching overload for `{f}` applied to `({rt})`", node)
            # `t.value()` of a `dyn` is a fresh type parameter (cel-go, cel-cpp)
            inner = rt.params[0] if _is_opt(rt) else self.fresh()
            self.subst.unproven |= rt.kind == "dyn"
            self.scopes.append({args[0].name: inner})  # type: ignore[union-attr]
            try:
                bt = self.subst.apply(self.check(args[1]))
            finally:
                self.scopes.pop()
            if f == "optFlatMap" and not _is_opt(bt) and bt.kind not in ("dyn", "param", "error", "null"):
                # the macro's two branches, the expression and `optional.none()`, have one type
                return self.error(CODE_TYPE, f"expected type `optional` but found `{bt}`: `optFlatMap`'s "
                                  "expression is an optional", args[1])
            if f == "optFlatMap" and bt.kind in ("null", "param"):
                # `null` or a free type joins the other branch, `optional.none()` (cel-go, cel-cpp)
                none = optional_of(self.fresh())
                if bt.kind == "param" and unify(none, bt, self.subst):
                    return self.subst.apply(bt)
                return none
            return optional_of(bt) if f == "optMap" else bt
        if rt.kind == "list":
            k, v = (INT, rt.params[0]) if two else (rt.params[0], None)
        elif rt.kind == "map":
            k, v = (rt.params[0], rt.params[1]) if two else (rt.params[0], None)
        elif rt.kind in ("dyn", "param", "error") and rt != ANY:
            k, v = DYN, (DYN if two else None)
        else:
            return self.error(CODE_TYPE, f"expression of type `{ANY.name if rt == ANY else rt}` cannot be the range of a comprehension", node.target)  # type: ignore[arg-type]
        nv = 2 if two else 1
        scope = {args[0].name: k}  # type: ignore[union-attr]
        if two:
            scope[args[1].name] = v  # type: ignore[union-attr,assignment]
        self.scopes.append(scope)  # type: ignore[arg-type]
        try:
            bodies = [self.subst.apply(self.check(a)) for a in args[nv:]]
        finally:
            self.scopes.pop()
        if f in ("all", "exists", "exists_one", "existsOne", "filter") or len(bodies) == 2:
            pred = bodies[0]
            if not unify(BOOL, pred, self.subst):
                self.error(CODE_TYPE, f"`{f}` predicate must be bool, not `{pred}`", args[nv])
        if f in ("all", "exists", "exists_one", "existsOne"):
            return BOOL
        if f == "filter":  # a list whatever the range (cel-go's accumulator: list(dyn) for a dyn)
            return rt if rt.kind == "list" else list_of(k)
        if f == "sortBy":  # cel-go's `@sortByAssociatedKeys(list(T), list(K))`, K comparable
            if rt.kind not in ("list", "dyn", "param", "error") or bodies[0].kind not in _SORT_KEYS:
                return self.error(CODE_NO_OVERLOAD, f"found no matching overload for `sortBy` applied to "
                                  f"`({rt}, list({bodies[0]}))`", node)
            if rt.kind == "dyn" and bodies[0].kind not in ("dyn", "param", "error", "null"):
                return list_of(DYN)  # one key overload fits: its `list(T)` (a `dyn` key: all)
            if bodies[0].kind == "param":  # a free key: the first overload's, int (as `call`)
                unify(INT, bodies[0], self.subst)
            return self.subst.apply(rt)
        last = bodies[-1]
        if f in ("map", "transformList"):
            return list_of(last)
        if f == "transformMap":
            return map_of(k, last)
        if f == "transformMapEntry":  # the body is inserted by `cel.@mapInsert(map(K, V), map(K, V))`
            if last.kind not in ("map", "dyn", "param", "error"):
                return self.error(CODE_NO_OVERLOAD, f"`transformMapEntry` needs a map, not `{last}`", args[-1])
            return last if last.kind == "map" else map_of(DYN, DYN)
        return DYN


_LOOSE_KINDS = frozenset({"param", "dyn", "error", "type"})
_INDEX_KINDS = frozenset({"int", "dyn", "param", "error"})  # what fits a list overload's int index


def _no_index(op: str, t: Type, i: Type) -> str:
    return f"found no matching overload for `{op}` applied to `({t}, {i})`"
_SORT_KEYS = frozenset({"int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration", "null",
                        "param", "dyn", "error"})  # cel-go's comparableTypes (null: as a timestamp)


class OverloadSet(list):
    """The overloads of one function name; indexed by shape (:func:`_by_shape`) on first
    use and kept, since an environment's table is built once."""

    __slots__ = ("_shapes",)
    _shapes: dict

    @property
    def shapes(self) -> dict:
        try:
            return self._shapes
        except AttributeError:
            self._shapes = _index(self)
            return self._shapes


def _by_shape(overloads: list[Overload]) -> dict:
    """An overload list indexed by (has receiver, arity), each entry (overload, generic?,
    receiver + params)."""
    return overloads.shapes if isinstance(overloads, OverloadSet) else _index(overloads)


def _index(overloads: list[Overload]) -> dict:
    index: dict[tuple[bool, int], list] = {}
    for o in overloads:
        params = ([o.receiver] if o.receiver is not None else []) + list(o.params)
        generic = any(_has_param(t) for t in (*params, o.result))
        index.setdefault((o.receiver is not None, len(params)), []).append((o, generic, params))
    return index


def _param_names(t: Type) -> set[str]:
    return {t.name} if t.kind == "param" else set().union(*map(_param_names, t.params))


def _has_param(t: Type) -> bool:
    return t.kind == "param" or any(_has_param(p) for p in t.params)


def _kinds_clash(p: Type, a: Type) -> bool:
    """True when ``unify(p, a)`` fails at the top level whatever the substitution (p has no
    type parameters; ``a`` has had the substitution applied)."""
    return (p.kind != a.kind and p.kind not in _LOOSE_KINDS and a.kind not in _LOOSE_KINDS
            and not (a.kind == "null" and nullable(p)))


def _is_opt(t: Type) -> bool:
    return t.kind == "opaque" and t.name == "optional_type"


def check(
    node: ast.Expr,
    declarations: dict[str, Type],
    *,
    container: str = "",
    function_decls: dict | None = None,
    functions: dict[str, list[Overload]] | None = None,
    objects: Mapping[str, Mapping[str, Type]] | None = None,
) -> Checked:
    """Type-check ``node``. ``functions``: the whole overload table calls resolve against
    (:func:`overload_table`); the standard one when None. ``objects``: the fields of opaque
    object types (name -> field -> type), for field selection on them."""
    fns = functions if functions is not None else _standard_table()
    if function_decls:
        fns = dict(fns)
        for name, overloads in function_decls.items():
            fns[name] = OverloadSet(fns.get(name, []) + [_from_proto(name, o) for o in overloads])
    c = _Checker(dict(declarations), container, fns, objects)
    try:
        t = c.check(node)
    except RecursionError:
        c.errors.append(Diagnostic.make(CODE_TYPE, "expression too deeply nested to check", getattr(node, "span", None)))
        return Checked(None, {}, c.errors)
    types = {k: c.subst.apply(v, True) for k, v in c.types.items()}
    return Checked(c.subst.apply(t, True), types, c.errors, c.subst.unproven)


def overload_table(functions: dict[str, list[Overload]] | None = None) -> dict[str, list[Overload]]:
    """The standard overloads plus ``functions`` (an environment computes this once; the
    checker never mutates it, ``check`` copies it before adding ``function_decls``)."""
    fns: dict[str, list[Overload]] = {k: list(v) for k, v in standard().items()}
    fns.setdefault("math.greatest", [])
    fns.setdefault("math.least", [])
    for k, v in (functions or {}).items():
        fns[k] = fns.get(k, []) + list(v)
    return {k: OverloadSet(v) for k, v in fns.items()}


@lru_cache(maxsize=1)
def _standard_table() -> dict[str, list[Overload]]:
    return overload_table()


def _proto_type(t: dict) -> Type:
    from .types import param

    if "primitive" in t:
        return {"BOOL": BOOL, "INT64": INT, "UINT64": UINT, "DOUBLE": DOUBLE, "STRING": STRING, "BYTES": BYTES}[t["primitive"]]
    if "type_param" in t:
        return param(t["type_param"])
    if "list_type" in t:
        return list_of(_proto_type(t["list_type"].get("elem_type", {"dyn": {}})))
    if "map_type" in t:
        return map_of(_proto_type(t["map_type"]["key_type"]), _proto_type(t["map_type"]["value_type"]))
    if "abstract_type" in t:
        a = t["abstract_type"]
        return opaque(a["name"], *(_proto_type(p) for p in a.get("parameter_types", [])))
    if "well_known" in t:
        return {"TIMESTAMP": TIMESTAMP, "DURATION": DURATION}.get(t["well_known"], DYN)
    if "null" in t:
        return NULL
    return DYN


def _from_proto(name: str, o: dict) -> Overload:
    params = [_proto_type(p) for p in o.get("params", [])]
    result = _proto_type(o.get("result_type", {"dyn": {}}))
    if o.get("is_instance_function"):
        return Overload(name, params[0], tuple(params[1:]), result)
    return Overload(name, None, tuple(params), result)


_OPERATORS = {"_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=", "_==_": "==", "_!=_": "!=",
              "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "@in": "in"}


def _operator_help(name: str, kinds: str) -> str | None:
    """The operator as written (`_>_` is `>`), and how to make the operands agree."""
    op = _OPERATORS.get(name)
    if op is None:
        return None
    return (f"`{op}` is not defined for ({kinds}): convert one side, e.g. `int(x)`, `double(x)` "
            "or `string(x)`")


def _builtin_type(name: str) -> Type:
    """The type of a type name or an enum constant (``builtin_names``)."""
    return INT if name in CONSTANTS else type_of(TYPE_NAMES[name][1])
