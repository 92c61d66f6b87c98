"""Helpers that generated code calls: logic with error absorption, macros, variables.

Generated code never uses module globals: each compiled function gets a fresh namespace
built by :func:`namespace`.
"""

from __future__ import annotations

from collections.abc import Callable

from . import checks, ops, stdlib, wellknown
from .host import PLAIN, dyn_items, dyn_value, host_class, host_value
from .values import NONE, CelError, Optional, UInt


def as_cel_error(e: BaseException) -> CelError:
    """The CEL error for an exception raised while evaluating. Builtins raise only CelErrors
    (tests/cel/test_builtins_total.py); a TypeError is a call with the wrong number of
    arguments, which only an unchecked expression can make."""
    if isinstance(e, CelError):
        return e
    if isinstance(e, RecursionError):
        return CelError("expression too deep to evaluate", "resource_exhausted")
    if isinstance(e, TypeError):
        return CelError("no matching overload: wrong number of arguments", "no_such_overload")
    return CelError(f"internal error: {type(e).__name__}", "internal")



def land(fa: Callable[[], object], fb: Callable[[], object]) -> object:
    return _logic(fa, fb, False, "_&&_")


def lor(fa: Callable[[], object], fb: Callable[[], object]) -> object:
    return _logic(fa, fb, True, "_||_")


def _logic(fa: Callable[[], object], fb: Callable[[], object], absorbing: bool, op: str) -> object:
    """``&&`` (``absorbing`` False) or ``||`` (True): either operand equal to ``absorbing``
    decides, whatever the other is (an error included); else both must be bools."""
    try:
        a = fa()
    except Exception as e:  # noqa: BLE001
        a = as_cel_error(e)
    if a is absorbing:
        return absorbing
    try:
        b = fb()
    except Exception as e:  # noqa: BLE001
        b = as_cel_error(e)
    if b is absorbing:
        return absorbing
    other = not absorbing
    if a is other and b is other:
        return other
    if isinstance(a, CelError):
        raise a
    if isinstance(b, CelError):
        raise b
    bad = a if a is not other else b
    raise CelError(f"no matching overload for '{op}' applied to '({checks.type_name(bad)})'", "no_such_overload")


def cond(c: object) -> bool:
    if c is True or c is False:
        return c
    raise CelError(f"no matching overload for '_?_:_' applied to '({checks.type_name(c)})'", "no_such_overload")


def strict_bool(c: object) -> bool:
    """Fast path: a bool operand, or leave the fast path."""
    if c is True or c is False:
        return c
    raise TypeError("not a bool")


def strict_str(s: object) -> str:
    """Fast path: a string operand, or leave the fast path."""
    if type(s) is str:
        return s  # type: ignore[return-value]
    raise TypeError("not a string")


def var(act: dict, name: str) -> object:
    try:
        return act[name]
    except KeyError:
        raise CelError(f"undeclared reference to '{name}' (in container '')", "unknown_variable") from None
    except TypeError:
        raise CelError(f"no such attribute: '{name}'", "unknown_variable") from None


def var_path(act: dict, name: str) -> object:
    """A declared dotted variable: the flat key ``act[name]``, else nested mappings."""
    try:
        return act[name]
    except (KeyError, TypeError):
        pass
    cur: object = act
    parts = name.split(".")
    for i, p in enumerate(parts):
        if type(cur) is not dict:
            from collections.abc import Mapping

            if not isinstance(cur, Mapping):
                cur = None
        try:
            cur = cur[p]  # type: ignore[index]
        except (KeyError, TypeError, IndexError):
            raise CelError(f"no such attribute: '{name}' (the request does not supply it)",
                           "unknown_variable") from None
    return cur


def present(act: dict, name: str) -> bool:
    """``has(a.b.c)`` for a declared variable: whether the activation supplies it."""
    try:
        var_path(act, name)
    except CelError:
        return False
    return True


def unbound(name: str) -> Callable[..., object]:
    def f(*args: object) -> object:
        raise CelError(f"unbound function: '{name}'", "unbound_function")

    return f


def select(c, name):  # type: ignore[no-untyped-def]
    if type(c) is dict:
        try:
            return c[name]
        except KeyError:
            raise CelError(f"no such key: '{name}'", "no_such_key") from None
    if type(c) is Optional:
        return stdlib.opt_chain_select(c, name)
    return ops.select(c, name)


def index(c, k):  # type: ignore[no-untyped-def]
    if type(c) is Optional:
        return stdlib.opt_chain_index(c, k)
    return ops.index(c, k)


def has(c, name):  # type: ignore[no-untyped-def]
    if type(c) is Optional:
        if not c.present:
            return False
        c = c.value
    return ops.has(c, name)


def _guard(c):  # type: ignore[no-untyped-def]
    from ..cost import MAX_ITERATIONS

    if len(c) > MAX_ITERATIONS:
        raise CelError(f"comprehension range of {len(c)} elements is over the limit of {MAX_ITERATIONS}", "resource_exhausted")


def iter_range(c):  # type: ignore[no-untyped-def]
    if isinstance(c, (list, tuple)):
        if len(c) > 100_000:
            _guard(c)
        return c
    if isinstance(c, dict):
        if len(c) > 100_000:
            _guard(c)
        return list(c)
    raise CelError(f"expression of type '{checks.type_name(c)}' cannot be the range of a comprehension", "invalid_argument")


def iter_pairs(c):  # type: ignore[no-untyped-def]
    if isinstance(c, (list, tuple, dict)) and len(c) > 100_000:
        _guard(c)
    if isinstance(c, (list, tuple)):
        return list(enumerate(c))
    if isinstance(c, dict):
        return list(c.items())
    raise CelError(f"expression of type '{checks.type_name(c)}' cannot be the range of a comprehension", "invalid_argument")


def _fold(results, absorbing: bool, op: str) -> bool:  # type: ignore[no-untyped-def]
    """``all`` (``absorbing`` False) or ``exists`` (True) over thunks: the first result equal
    to ``absorbing`` decides; else the first error or non-bool raises."""
    other = not absorbing
    err = None
    for thunk in results:
        try:
            r = thunk()
        except Exception as e:  # noqa: BLE001
            err = err or as_cel_error(e)
            continue
        if r is absorbing:
            return absorbing
        if r is not other:
            err = err or CelError(f"no matching overload for '{op}' applied to '({checks.type_name(r)})'", "no_such_overload")
    if err is not None:
        raise err
    return other


def m_all(c, f):  # type: ignore[no-untyped-def]
    return _fold(((lambda x=x: f(x)) for x in iter_range(c)), False, "_&&_")


def m_exists(c, f):  # type: ignore[no-untyped-def]
    return _fold(((lambda x=x: f(x)) for x in iter_range(c)), True, "_||_")


def m_all2(c, f):  # type: ignore[no-untyped-def]
    return _fold(((lambda k=k, v=v: f(k, v)) for k, v in iter_pairs(c)), False, "_&&_")


def m_exists2(c, f):  # type: ignore[no-untyped-def]
    return _fold(((lambda k=k, v=v: f(k, v)) for k, v in iter_pairs(c)), True, "_||_")


def _count_true(rs) -> int:  # type: ignore[no-untyped-def]
    n = 0
    for r in rs:
        if r is True:
            n += 1
        elif r is not False:
            raise CelError(f"no matching overload for exists_one predicate: {checks.type_name(r)}", "no_such_overload")
    return n


def m_exists_one(c, f):  # type: ignore[no-untyped-def]
    return _count_true(f(x) for x in iter_range(c)) == 1


def m_exists_one2(c, f):  # type: ignore[no-untyped-def]
    return _count_true(f(k, v) for k, v in iter_pairs(c)) == 1


def m_map(c, f):  # type: ignore[no-untyped-def]
    return [f(x) for x in iter_range(c)]


def m_map_filter(c, p, f):  # type: ignore[no-untyped-def]
    return [f(x) for x in iter_range(c) if cond(p(x))]


def m_filter(c, p):  # type: ignore[no-untyped-def]
    return [x for x in iter_range(c) if cond(p(x))]


def m_transform_list(c, f):  # type: ignore[no-untyped-def]
    return [f(k, v) for k, v in iter_pairs(c)]


def m_transform_list_filter(c, p, f):  # type: ignore[no-untyped-def]
    return [f(k, v) for k, v in iter_pairs(c) if cond(p(k, v))]


def m_transform_map(c, f):  # type: ignore[no-untyped-def]
    return ops.make_map([(k, f(k, v)) for k, v in iter_pairs(c)])


def m_transform_map_filter(c, p, f):  # type: ignore[no-untyped-def]
    return ops.make_map([(k, f(k, v)) for k, v in iter_pairs(c) if cond(p(k, v))])


def _entries(m):  # type: ignore[no-untyped-def]
    """The entries ``cel.@mapInsert(map, map)`` inserts: every one of the map's, none of ``{}``."""
    if not isinstance(m, dict):
        raise checks.no_overload("cel.@mapInsert", {}, m)
    return m.items()


def _entry_map(pairs, f):  # type: ignore[no-untyped-def]
    entries = (kv for k, v in pairs for kv in _entries(f(k, v)))
    return ops.make_map(entries, "insert failed: key {} already exists")


def m_transform_map_entry(c, f):  # type: ignore[no-untyped-def]
    return _entry_map(iter_pairs(c), f)


def m_transform_map_entry_filter(c, p, f):  # type: ignore[no-untyped-def]
    # a generator: each element's predicate runs just before its transform, as in CEL
    return _entry_map(((k, v) for k, v in iter_pairs(c) if cond(p(k, v))), f)


def m_sort_by(c, f):  # type: ignore[no-untyped-def]
    if not isinstance(c, (list, tuple)):
        raise checks.no_overload("sortBy", c)
    return stdlib.sort_by(list(c), [f(x) for x in c])


class Lazy:
    """The value of a ``cel.bind`` variable, given as a thunk: computed on first read, then
    kept (an error too, so a failing initializer runs once)."""

    __slots__ = ("_init", "_value", "_error")

    def __init__(self, init: Callable[[], object]) -> None:
        self._init: Callable[[], object] | None = init
        self._value: object = None
        self._error: BaseException | None = None

    def __call__(self) -> object:
        if self._init is not None:
            init, self._init = self._init, None
            try:
                self._value = init()
            except Exception as e:  # noqa: BLE001 - kept and raised again at every read
                self._error = e
        if self._error is not None:
            raise self._error
        return self._value


def opt_map(o, f):  # type: ignore[no-untyped-def]
    if type(o) is not Optional:
        raise checks.no_overload("optMap", o)
    return Optional(f(o.value), True) if o.present else NONE


def opt_flat_map(o, f):  # type: ignore[no-untyped-def]
    """``o.optFlatMap(x, e)``: ``e`` of the value, whatever it is (the macro is
    ``o.hasValue() ? cel.bind(x, o.value(), e) : optional.none()`` in cel-go and cel-cpp;
    the checker already asks an optional of ``e``)."""
    if type(o) is not Optional:
        raise checks.no_overload("optFlatMap", o)
    return f(o.value) if o.present else NONE


def opt_elem(o):  # type: ignore[no-untyped-def]
    """``[?e]``: the element if present."""
    if type(o) is not Optional:
        raise checks.no_overload("optional list element", o)
    return (o.value,) if o.present else ()


def make_map_opt(entries):  # type: ignore[no-untyped-def]
    """Map literal with ``?k: v`` entries: ``entries`` are (key, value, optional)."""
    pairs = []
    for k, v, opt in entries:
        if opt:
            if type(v) is not Optional:
                raise checks.no_overload("optional map entry", v)
            if not v.present:
                continue
            v = v.value
        pairs.append((k, v))
    return ops.make_map(pairs)


def uint(v: int) -> UInt:
    return UInt(v)


_BASE: dict[str, object] | None = None


def namespace() -> dict[str, object]:
    """A fresh namespace of runtime helpers for one compiled function (copied from a
    template built once: nothing mutable is shared between programs)."""
    global _BASE
    if _BASE is None:
        _BASE = _namespace()
    ns = dict(_BASE)
    ns["__builtins__"] = dict(_BASE["__builtins__"])  # type: ignore[arg-type]
    return ns


def _namespace() -> dict[str, object]:
    ns: dict[str, object] = {
        "__builtins__": {"Exception": Exception, "RecursionError": RecursionError,
                         "TypeError": TypeError, "type": type, "len": len, "all": all,
                         "any": any, "isinstance": isinstance, "list": list, "dict": dict,
                         "tuple": tuple, "str": str, "int": int, "float": float, "bool": bool, "bytes": bytes},
        "_CelError": CelError,
        "_as_cel_error": as_cel_error,
        "_UInt": UInt,
        "_land": land, "_lor": lor, "_cond": cond, "_B": strict_bool, "_S": strict_str, "_not": ops.not_,
        "_var": var, "_varp": var_path, "_host": host_value, "_hostc": host_class, "_plain": PLAIN, "_dv": dyn_value, "_dvs": dyn_items, "_present": present, "_unbound": unbound, "_sel": select, "_idx": index, "_has": has,
        "_optsel": stdlib.opt_select, "_optidx": stdlib.opt_index,
        "_eq": ops.eq, "_ne": ops.ne, "_lt": ops.lt, "_le": ops.le, "_gt": ops.gt,
        "_ge": ops.ge, "_add": ops.add, "_sub": ops.sub, "_mul": ops.mul, "_div": ops.div,
        "_mod": ops.mod, "_neg": ops.neg, "_in": ops.in_, "_size": ops.size,
        "_idiv": ops.idiv, "_imod": ops.imod, "_fdiv": ops.fdiv,
        "_ci": checks.check_int, "_cu": checks.check_uint, "_type": checks.type_of,
        "_mkmap": ops.make_map, "_mkmap_opt": make_map_opt, "_oe": opt_elem,
        "_all": m_all, "_exists": m_exists, "_exists_one": m_exists_one,
        "_all2": m_all2, "_exists2": m_exists2, "_exists_one2": m_exists_one2,
        "_map": m_map, "_map_filter": m_map_filter, "_filter": m_filter,
        "_tlist": m_transform_list, "_tlist_f": m_transform_list_filter,
        "_tmap": m_transform_map, "_tmap_f": m_transform_map_filter,
        "_tentry": m_transform_map_entry, "_tentry_f": m_transform_map_entry_filter,
        "_sortby": m_sort_by, "_optmap": opt_map, "_optflatmap": opt_flat_map,
        "_it": iter_range, "_re": stdlib.regex, "_lazy": Lazy, "_wkt": wellknown.build,
    }  # fmt: skip
    return ns
