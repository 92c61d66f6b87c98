"""Plain Python for CEL operators where the checker's types prove Python exact: the fast
body's comparisons (:mod:`.codegen` falls back to the runtime helpers when these answer None).
"""

from __future__ import annotations

import ast as pyast
import re
from typing import Protocol

from .types import Type

__all__ = ["fast_binary", "fast_dyn", "no_str_index"]


class _Guards(Protocol):
    """What these need of the generator: inline guards of dyn values."""

    def guardable(self) -> bool: ...

    def temp(self) -> str: ...


_PY_OP = {"_==_": "==", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
_SCALAR_EQ = frozenset({"int", "uint", "double", "string", "bytes", "bool", "null"})
_INTS = frozenset({"int", "uint"})
_ORDERED_FAST = frozenset({"double", "string", "bytes", "bool", "timestamp", "duration"})


def fast_binary(f: str, ta: Type, tb: Type, ca: str, cb: str, gen: _Guards) -> str | None:
    ka, kb = ta.kind, tb.kind
    if f in ("_==_", "_!=_"):
        same = ka == kb and ka in _SCALAR_EQ
        nums = ka in _INTS and kb in _INTS
        if same or nums:
            return f"({ca} {_PY_OP[f]} {cb})"
        return None
    if f in _PY_OP:
        if (ka in _INTS and kb in _INTS) or (ka == kb and ka in _ORDERED_FAST):
            return f"({ca} {_PY_OP[f]} {cb})"
        return None
    if f == "_+_" and ka == kb:
        if ka == "double":
            return f"({ca} + {cb})"
        if ka in ("string", "bytes"):
            return f"_add({ca}, {cb})"
        if ka == "int":
            return f"_ci({ca} + {cb})"
    if f == "_-_" and ka == kb == "int":
        return f"_ci({ca} - {cb})"
    if f == "_*_" and ka == kb == "int":
        return f"_ci({ca} * {cb})"
    if f in ("_-_", "_*_") and ka == kb == "double":
        return f"({ca} {'-' if f == '_-_' else '*'} {cb})"
    if f == "@in" and ka == "string":
        if kb == "map" and tb.params[0].kind == "string":
            return f"({ca} in {cb})"
        if kb == "list" and tb.params[0].kind == "string":
            return f"({ca} in {cb})"
    return None


def _py_literal(code: str) -> bool:
    """Whether ``code`` is a Python literal other than True, False and None: ``is`` with one
    is a SyntaxWarning (`dyn(1) == true`), an error where warnings are errors."""
    try:
        value = pyast.literal_eval(code.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return value is not None and type(value) is not bool


def fast_dyn(f: str, ka: str, kb: str, ca: str, cb: str, gen: _Guards) -> str | None:
    """Plain Python for an operator with a dyn operand, guarded where Python and CEL differ.

    Python's ``==`` with a str, bytes or None is CEL's (another type is simply unequal); a
    bool is compared by identity (``1 == True`` in Python only); an int or a double is
    compared once the dyn value is known to be of the same class (Python compares an int
    with a float exactly, CEL through a double; a bool is an int to Python). ``in`` needs a
    dict or a list (``'a' in 'abc'`` is Python only)."""
    other = kb if ka == "dyn" else ka
    if f in ("_==_", "_!=_"):
        if other in ("string", "bytes", "null"):
            return f"({ca} {_PY_OP[f]} {cb})"
        if other == "bool" and not (_py_literal(ca) or _py_literal(cb)):
            return f"({ca} {'is' if f == '_==_' else 'is not'} {cb})"
    if f in _PY_OP and other in ("string", "bytes") and f not in ("_==_", "_!=_"):
        return f"({ca} {_PY_OP[f]} {cb})"
    if f in _PY_OP and other in ("int", "double") and gen.guardable():
        w = gen.temp()
        dyn = ca if ka == "dyn" else cb
        left, right = (w, cb) if ka == "dyn" else (ca, w)
        cls = "int" if other == "int" else "float"
        return f"({left} {_PY_OP[f]} {right} if ({w} := {dyn}).__class__ is {cls} else _leave())"
    if f == "@in" and ka == "string" and kb == "dyn" and gen.guardable():
        w = gen.temp()
        return f"({ca} in {w} if ({w} := {cb}).__class__ is dict or {w}.__class__ is list else _leave())"
    return None


_DISPLAY_START = re.compile(r"[-+~( ]*(?:\.?\d|[rRbBuU]*['\"]|None\b|True\b|False\b|\[|\{|lambda\b)")
_NO_STR_INDEX = (pyast.Constant, pyast.UnaryOp, pyast.BinOp, pyast.List, pyast.ListComp, pyast.Tuple,
                 pyast.Set, pyast.SetComp, pyast.GeneratorExp, pyast.Lambda)


def no_str_index(code: str) -> bool:
    """Whether Python code is a constant or a display that no string indexes (``1``,
    ``None``, ``'s'``, ``[]``): subscripting one with a string (``1['a']``, ``[]['a']``,
    from ``dyn(1).a``) is a ``SyntaxWarning`` at every compile, and no program where
    warnings are errors; such an operand takes the helper."""
    if not _DISPLAY_START.match(code):
        return False
    try:
        node = pyast.parse(code.strip(), mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, _NO_STR_INDEX)
