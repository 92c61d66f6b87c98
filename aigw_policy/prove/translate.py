"""CEL expressions (the typed AST of :mod:`aigw_policy.cel.ast`) as z3 terms.

Each expression becomes a :class:`~.symbolic.Sym`, a (value, is_error) pair. ``&&`` and ``||``
follow cel-spec's commutative error semantics (``false && error`` is false, ``true || error``
is true, otherwise an error operand makes an error); every other operator propagates its
operands' errors and adds its own (index out of range, int overflow, a missing map key).
An expression outside the encoded subset becomes an unknown of the right kind (a fresh value
and error), never a guess.
"""

from __future__ import annotations

from typing import Any

import z3

from ..cel import ast
from ..cel.parser import parse
from ..cel.runtime.stdlib import RE_ENGINE
from ..env.declarations import POLICY_VARIABLES
from .regex import search_holds
from .symbolic import INT_MAX, INT_MIN, Sym, SymEnv
from .values import MAX_CHAR, char_range, encodable, str_val, text_of

__all__ = ["as_bool", "translate", "translate_source"]

_BOOL_RESULT = frozenset({
    "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in", "!_", "_&&_", "_||_", "has",
    "startsWith", "endsWith", "contains", "matches", "exists", "all", "exists_one",
})


def translate_source(env: SymEnv, source: str) -> Sym:
    """The value of CEL text ``source`` (unknown if it does not parse)."""
    try:
        node = parse(source)
    except Exception:  # noqa: BLE001 - the loader has reported it; here it is just unknown
        return env.fresh("opaque", "unparsed")
    return translate(env, node)


def as_bool(env: SymEnv, node: Any, v: Sym) -> Sym:
    """``v`` as a bool; an unknown of another kind becomes an unknown bool (with the error
    CEL gives a non-bool condition folded into its fresh error)."""
    if v.kind == "bool":
        return v
    return env.unknown(node, "bool")


def _or(*xs: Any) -> Any:
    xs = tuple(x for x in xs if not z3.is_false(x))
    if not xs:
        return z3.BoolVal(False)
    return xs[0] if len(xs) == 1 else z3.Or(*xs)


def _overflows(x: Any) -> Any:
    return z3.Or(x < INT_MIN, x > INT_MAX)


def _path(node: Any) -> str | None:
    if isinstance(node, ast.Ident):
        return node.name.lstrip(".")
    if isinstance(node, ast.Select) and not node.optional:
        base = _path(node.operand)
        return f"{base}.{node.field}" if base is not None else None
    return None


def _declared(node: Any) -> str | None:
    """The declared variable a name stands for (the longest declared dotted name)."""
    path = _path(node)
    if path is not None and path in POLICY_VARIABLES:
        return path
    return None


def translate(env: SymEnv, node: Any) -> Sym:
    name = _declared(node)
    if name is not None:
        return env.variable(name)
    t = type(node)
    if t is ast.Literal:
        return _literal(env, node)
    if t is ast.Ident:
        return env.unknown(node, "opaque")  # a comprehension variable, or an undeclared name
    if t is ast.Select:
        if node.optional:
            return env.unknown(node, "opaque")
        base = translate(env, node.operand)
        if base.kind == "map":
            present, value = base.val.entry(node.field)
            return Sym(_map_kind(base.val), value, _or(base.err, z3.Not(present)))
        return env.unknown(node, "opaque")
    if t is ast.Index:
        return _index(env, node)
    if t is ast.CreateList:
        if node.optional_indices:
            return env.unknown(node, "opaque")
        items = [translate(env, e) for e in node.elements]
        return Sym("literal_list", items, _or(*[i.err for i in items]))
    if t is ast.Call:
        return _call(env, node)
    return env.unknown(node, "opaque")


def _map_kind(m: Any) -> str:
    return "string" if m.values == "string" else "list"


def _literal(env: SymEnv, node: ast.Literal) -> Sym:
    v = node.value
    if node.kind == "bool":
        return Sym("bool", z3.BoolVal(v), z3.BoolVal(False))
    if node.kind == "int":
        return Sym("int", z3.IntVal(v), z3.BoolVal(False))
    if node.kind == "string" and encodable(v):  # type: ignore[arg-type]
        return Sym("string", str_val(v), z3.BoolVal(False))
    return env.unknown(node, "opaque")  # uint, double, bytes, null: not modelled


def _index(env: SymEnv, node: ast.Index) -> Sym:
    if node.optional:
        return env.unknown(node, "opaque")
    base = translate(env, node.operand)
    idx = node.index
    if _path(node.operand) == "limits" and isinstance(idx, ast.Literal) and isinstance(idx.value, str):
        env.limit_reads.add(idx.value)  # its state is not modelled: a witness tries some
    if base.kind == "map" and isinstance(idx, ast.Literal) and idx.kind == "string":
        present, value = base.val.entry(idx.value)
        return Sym(_map_kind(base.val), value, _or(base.err, z3.Not(present)))
    if isinstance(idx, ast.Literal) and idx.kind == "int":
        i = idx.value
        if base.kind == "list":
            n = z3.Length(base.val)
            return Sym("string", base.val[i] if i >= 0 else str_val(""),
                       _or(base.err, z3.BoolVal(i < 0), n <= i))  # type: ignore[operator]
        if base.kind == "literal_list" and 0 <= i < len(base.val):  # type: ignore[operator]
            item = base.val[i]
            return Sym(item.kind, item.val, _or(base.err, item.err))
    return env.unknown(node, "opaque")


def _call(env: SymEnv, node: ast.Call) -> Sym:
    f = node.function
    args = node.args
    if f == ast.LOGICAL_AND or f == ast.LOGICAL_OR:
        a = as_bool(env, args[0], translate(env, args[0]))
        b = as_bool(env, args[1], translate(env, args[1]))
        if f == ast.LOGICAL_AND:
            decided = z3.Or(z3.And(z3.Not(a.err), z3.Not(a.val)), z3.And(z3.Not(b.err), z3.Not(b.val)))
            return Sym("bool", z3.And(a.val, b.val), z3.And(z3.Not(decided), z3.Or(a.err, b.err)))
        decided = z3.Or(z3.And(z3.Not(a.err), a.val), z3.And(z3.Not(b.err), b.val))
        return Sym("bool", z3.Or(a.val, b.val), z3.And(z3.Not(decided), z3.Or(a.err, b.err)))
    if f == ast.LOGICAL_NOT:
        a = as_bool(env, args[0], translate(env, args[0]))
        return Sym("bool", z3.Not(a.val), a.err)
    if f == ast.CONDITIONAL:
        c = as_bool(env, args[0], translate(env, args[0]))
        x, y = translate(env, args[1]), translate(env, args[2])
        if x.kind == y.kind and x.kind in ("bool", "int", "string", "list"):
            return Sym(x.kind, z3.If(c.val, x.val, y.val), _or(c.err, z3.If(c.val, x.err, y.err)))
        return env.unknown(node, "opaque")
    if f == "has" and len(args) == 1 and isinstance(args[0], ast.Select):
        return _has(env, node, args[0])
    operands = ([node.target] if node.target is not None else []) + list(args)
    vals = [translate(env, a) for a in operands]
    got = _operator(env, f, vals)
    if got is not None:
        return got
    return env.unknown(node, "bool" if f in _BOOL_RESULT else "opaque")


def _has(env: SymEnv, node: ast.Call, sel: ast.Select) -> Sym:
    name = _declared(sel)
    if name is not None:
        return Sym("bool", env.is_present(name), z3.BoolVal(False))
    base = translate(env, sel.operand)
    if base.kind == "map":
        present, _ = base.val.entry(sel.field)
        return Sym("bool", present, base.err)
    return env.unknown(node, "bool")


def _same(vals: list[Sym], *kinds: str) -> bool:
    return len(vals) == 2 and vals[0].kind == vals[1].kind and vals[0].kind in kinds


def _lower_ascii(env: SymEnv, s: Any) -> Any:
    """``s.lowerAscii()``: exact for a text without an ASCII capital (it is the text itself),
    otherwise a text of the same length the solver chooses; a witness takes the exact case."""
    if z3.is_string_value(s):
        return str_val(text_of(s).translate(_LOWER))
    lower = env.unknown(("lowerAscii", s.get_id()), "string").val
    plain = z3.InRe(s, z3.Star(z3.Union(char_range(chr(0), "@"), char_range("[", chr(MAX_CHAR)))))
    env.facts.extend([z3.Length(lower) == z3.Length(s), z3.Implies(plain, lower == s)])
    env.hints.append(plain)
    return lower


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _folded(env: SymEnv, s: Any, pattern: str) -> Any | None:
    """``s.matches("(?i)...")``: case folding (Unicode's, in RE2) is not encoded, but a text the
    pattern matches case-sensitively it matches case-insensitively too. So the value is the
    solver's choice, true whenever the case-sensitive search holds; a witness takes it equal to
    that search (the engine then agrees whenever it holds)."""
    exact = search_holds(s, pattern[len("(?i)"):], re2=RE_ENGINE == "re2")
    if exact is None:
        return None
    holds = env.unknown(("matches", s.get_id(), pattern), "bool").val
    env.facts.append(z3.Implies(exact, holds))
    env.hints.append(holds == exact)
    return holds


def _operator(env: SymEnv, f: str, vals: list[Sym]) -> Sym | None:
    """The encodable operators and functions; None for the rest."""
    err = _or(*[v.err for v in vals])
    if f in ("_==_", "_!=_") and _same(vals, "bool", "int", "string", "list"):
        eq = vals[0].val == vals[1].val
        return Sym("bool", eq if f == "_==_" else z3.Not(eq), err)
    if f in ("_<_", "_<=_", "_>_", "_>=_") and _same(vals, "int", "string"):
        a, b = vals[0].val, vals[1].val
        if vals[0].kind == "string":
            rel = {"_<_": a < b, "_<=_": a <= b, "_>_": b < a, "_>=_": b <= a}[f]
        else:
            rel = {"_<_": a < b, "_<=_": a <= b, "_>_": a > b, "_>=_": a >= b}[f]
        return Sym("bool", rel, err)
    if f in ("_+_", "_-_", "_*_") and _same(vals, "int"):
        a, b = vals[0].val, vals[1].val
        r = a + b if f == "_+_" else a - b if f == "_-_" else a * b
        return Sym("int", r, _or(err, _overflows(r)))
    if f == "_+_" and _same(vals, "string"):
        return Sym("string", z3.Concat(vals[0].val, vals[1].val), err)
    if f == "-_" and len(vals) == 1 and vals[0].kind == "int":
        r = -vals[0].val
        return Sym("int", r, _or(err, _overflows(r)))
    if f == "@in" and len(vals) == 2:
        x, coll = vals
        if coll.kind == "literal_list" and x.kind in ("bool", "int", "string") and all(
                i.kind == x.kind for i in coll.val):
            return Sym("bool", _or(*[x.val == i.val for i in coll.val]), err)
        if coll.kind == "list" and x.kind == "string":
            return Sym("bool", z3.Contains(coll.val, z3.Unit(x.val)), err)
        if coll.kind == "map" and x.kind == "string" and z3.is_string_value(x.val):
            present, _ = coll.val.entry(text_of(x.val))
            return Sym("bool", present, err)
        return None
    if f == "size" and len(vals) == 1:
        v = vals[0]
        if v.kind in ("string", "list"):
            return Sym("int", z3.Length(v.val), err)
        if v.kind == "literal_list":
            return Sym("int", z3.IntVal(len(v.val)), err)
        return None
    if f in ("startsWith", "endsWith", "contains") and _same(vals, "string"):
        s, p = vals[0].val, vals[1].val
        rel = z3.PrefixOf(p, s) if f == "startsWith" else z3.SuffixOf(p, s) if f == "endsWith" else z3.Contains(s, p)
        return Sym("bool", rel, err)
    if f == "lowerAscii" and len(vals) == 1 and vals[0].kind == "string":
        return Sym("string", _lower_ascii(env, vals[0].val), err)
    if f == "matches" and _same(vals, "string") and z3.is_string_value(vals[1].val):
        s = vals[0].val
        pattern = text_of(vals[1].val)
        holds = search_holds(s, pattern, re2=RE_ENGINE == "re2")
        if holds is None and pattern.startswith("(?i)"):
            holds = _folded(env, s, pattern)
        if holds is None:
            return None
        if RE_ENGINE == "re2":  # RE2 matches UTF-8: a lone surrogate in the text is an error
            err = _or(err, env.lone_surrogate(s))
        return Sym("bool", holds, err)
    return None


