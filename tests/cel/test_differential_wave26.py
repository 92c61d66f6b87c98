"""Wave 26: one operation over every path a program takes to it, error absorption mirrored,
and the program cache under one text with many declarations.

``cel_paths_gen26`` draws an operation (operator, conversion, extension function, macro) over
edge operands and writes it with the operands as literals (folded or not), as variables of
their declared types (the generated code's typed operators) and as ``dyn`` variables (the
runtime's dispatch). Properties, each over seeds fixed here (deterministic, bounded by count):

* ``test_one_operation_answers_alike_on_every_path`` (ours only; random operations, and
  ``matrix()``: ``+ - * / % < ==`` over every pair of int, uint and double bounds): the three forms give one
  answer, unchecked; checked, every form that compiles gives that answer too.
* ``test_one_operation_on_every_path_has_cel_cpps_answer``: each form, checked and not, is
  cel-cpp's answer, the value compared whole (uint apart from int, -0.0 apart from 0.0, times
  to the microsecond the binding hands over, map keys as numbers), bar differences kept before.
* ``test_error_absorption_is_commutative`` (ours only): ``(a) || (b)`` and ``(b) || (a)``
  (``&&``, ``exists``, ``all`` over two branches...) agree, over operands that are values,
  errors of every kind and variables, one of them bound to a bad host value.
* ``test_error_absorption_has_cel_cpps_answer``: the same expressions and the one-way forms
  (``?:``, ``exists_one``, ``filter``, ``cel.bind``, ``optMap``) against cel-cpp.
* ``test_a_cache_hit_is_a_fresh_compile``: the same texts compiled under other declarations,
  checked and not, in one shuffled run without clearing the program cache, answer as compiled
  alone.

``CASES`` pins edges these drew where both runtimes agree (checked and unchecked, with
cel-cpp where it is installed). The campaign behind it (docs/decisions.md, "Session 26,
cel26") found no new class of ours; ``KEPT`` holds what it met that was kept before.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random

import pytest

from cel_paths_gen26 import ABSORB_ACTS, ABSORB_DECLS, absorb, draw, forms, matrix
from differential_table import check_classes
from shared_data import in_ci
from test_differential_wave12 import CPP_CONFIG
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave24 import _kept
from test_differential_wave25 import _cpp_type

from aigw_policy import cel
from aigw_policy.cel.parser import CelSyntaxError, parse
from aigw_policy.cel.runtime.values import Duration, MixedKeyMap, Optional, Timestamp, TypeValue, UInt

N = int(os.environ.get("CEL_DIFF_EXAMPLES", "40"))  # operations per chunk: bounded by count, never by time
CHUNKS = range(6)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: wave 26's operations are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


# canonical values ------------------------------------------------------------------------------
_OPAQUE = ("opaque",)
_TYPE_NAMES = {"google.protobuf.timestamp": "timestamp", "google.protobuf.duration": "duration"}


def _type_name(name: str) -> tuple[str, str]:
    n = name.lower().split("<")[0]
    return ("type", _TYPE_NAMES.get(n, n))


def _key(k: object) -> object:
    if isinstance(k, bool):
        return ("bool", k)
    return ("num", int(k)) if isinstance(k, int) else k


def mine(v: object) -> object:
    """Our value as cel-cpp's binding can tell it (times to the microsecond, map keys as numbers)."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, bytes)):
        return v
    if isinstance(v, UInt):
        return ("uint", int(v))
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("double", "nan" if math.isnan(v) else repr(v))
    if isinstance(v, list):
        return [mine(x) for x in v]
    if isinstance(v, dict):
        if isinstance(v, MixedKeyMap) or len({_key(k) for k in v}) < len(v):
            return _OPAQUE  # the binding merges `true` and `1` as Python keys
        return sorted((repr(_key(k)), repr(mine(x))) for k, x in v.items())
    if isinstance(v, Timestamp):
        return ("timestamp", _EPOCH + dt.timedelta(microseconds=v.ns // 1000))
    if isinstance(v, Duration):
        us = abs(v.ns) // 1000  # toward zero, as the binding's timedelta
        return ("duration", dt.timedelta(microseconds=-us if v.ns < 0 else us))
    if isinstance(v, TypeValue):
        return _type_name(v.name)
    if isinstance(v, Optional):
        return _OPAQUE
    return ("?", type(v).__name__)


def cpps(x: object) -> object:
    """cel-cpp's value (the binding's ``Value``) in :func:`mine`'s form."""
    kind = str(x.type()).split("<")[0]  # type: ignore[attr-defined]
    try:
        v = x.value()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an optional has no Python form in the binding
        return _OPAQUE
    if kind in ("INT", "UINT"):
        return (kind.lower(), v)
    if kind == "DOUBLE":
        return ("double", "nan" if math.isnan(v) else repr(v))
    if kind == "LIST":
        return [cpps(a) for a in v]
    if kind == "MAP":
        return sorted((repr(_key(k)), repr(cpps(a))) for k, a in v.items())
    if kind == "TYPE":
        return _type_name(str(v))
    if kind in ("TIMESTAMP", "DURATION"):
        return (kind.lower(), v)
    if kind == "BYTES":
        return bytes(v)
    if kind in ("STRING", "BOOL", "NULL_TYPE", "NULL"):
        return v
    return _OPAQUE


def _has_opaque(v: object) -> bool:
    return v == _OPAQUE or (isinstance(v, list) and any(_has_opaque(x) for x in v)) or "'opaque'" in repr(v)


# the two runtimes ------------------------------------------------------------------------------
def ours(expr: str, decls: dict[str, str], act: dict[str, object], checked: bool) -> tuple[str, object]:
    cel.clear_cache()
    return _run(expr, decls, act, checked)


def _run(expr: str, decls: dict[str, str], act: dict[str, object], checked: bool) -> tuple[str, object]:
    try:
        prog = cel.compile(expr, decls) if checked else cel.compile_ast(parse(expr), decls, source=expr, check=False)
    except (cel.CelError, CelSyntaxError) as e:  # `parse` alone raises the latter (an int literal past 64 bits)
        return "check_error", str(e)
    try:
        v = prog(act)
    except cel.CelError as e:
        return "error", str(e)
    return "value", mine(v)


_ENVS: dict[tuple, object] = {}


def theirs(expr: str, decls: dict[str, str], act: dict[str, object], checked: bool) -> tuple[str, object]:
    key = tuple(sorted(decls.items()))
    if key not in _ENVS:
        _ENVS[key] = c.NewEnv(config=c.NewEnvConfigFromYaml(CPP_CONFIG + "  - name: regex\n"),
                              variables={n: _cpp_type(d) for n, d in decls.items()})
    try:
        r = _ENVS[key].compile(expr, disable_check=not checked).eval(data=act)  # type: ignore[attr-defined]
    except Exception as e:  # noqa: BLE001 - refused by its parser or checker
        return "check_error", str(e)
    if str(r.type()).startswith("ERROR"):
        try:
            return "error", r.plain_value()
        except Exception:  # noqa: BLE001 - an optional reports itself so in the binding
            return "value", _OPAQUE
    return "value", cpps(r)


# differences kept before (docs/cel.md), read off the literal form and the operands' types
def _kept_here(lit: str, kinds: set[str]) -> bool:
    texts = ("%s", "%d", "string(", ".join(", "format(")
    if any(t in lit for t in texts) and kinds & {"double", "duration", "timestamp", "string", "list(double)"}:
        return True  # `%s`/`%d`/`string()` of doubles and durations, year 1's text, `%f` of 'Infinity'
    if "split(" in lit and "''" in lit:
        return True  # `''.split('')` is `[]` (cel-go's SplitN)
    if ("sort" in lit or "distinct" in lit or "sets." in lit or " in " in lit) and kinds & {"list(double)", "double"}:
        return True  # NaN has no order; `in`/`distinct` compare as `==` does (wave 25's in-equality)
    return "[?" in lit and kinds & {"uint", "double"} != set()  # `l[?1u]` (wave 14)


def _answers_alike(got: list[tuple[str, bool, tuple[str, object]]]) -> None:
    unchecked = {p: a for p, checked, a in got if not checked}
    first = next(iter(unchecked.values()))
    for p, a in unchecked.items():
        assert (a[0], a[1] if a[0] == "value" else None) == (first[0], first[1] if first[0] == "value" else None), \
            (p, a, first)
    for p, checked, a in got:
        if checked and a[0] != "check_error":
            assert a[0] == unchecked[p][0] and (a[0] != "value" or a[1] == unchecked[p][1]), (p, a, unchecked[p])


def _operations(chunk: int) -> list[tuple]:
    return [draw(s) for s in range(chunk * N, chunk * N + N)]


def _operations_of(chunk: int | str) -> list[tuple]:
    return MATRIX if chunk == "matrix" else _operations(chunk)  # type: ignore[arg-type]


MATRIX = matrix()


@pytest.mark.parametrize("chunk", [*CHUNKS, "matrix"])
def test_one_operation_answers_alike_on_every_path(chunk: int | str) -> None:
    for operands, template in _operations_of(chunk):
        got = []
        for path, expr, decls, act in forms(operands, template):
            for checked in (True, False):
                a = ours(expr, decls, act, checked)
                if path == "lit" and not checked and a[0] == "check_error":
                    break  # a macro refuses a literal argument (`math.greatest(1, 'a')`) when parsed
                got.append((path, checked, a))
            else:
                continue
            break
        else:
            _answers_alike(got)


@pytest.mark.parametrize("chunk", [*CHUNKS, "matrix"])
def test_one_operation_on_every_path_has_cel_cpps_answer(cpp: None, chunk: int | str) -> None:
    for operands, template in _operations_of(chunk):
        lit = template.format(*(o[2] for o in operands))
        kinds = {o[0] for o in operands}
        for path, expr, decls, act in forms(operands, template):
            for checked in (True, False):
                m, t = ours(expr, decls, act, checked), theirs(expr, decls, act, checked)
                if _kept(expr, m, t) or _kept(lit, m, t) or _kept_here(lit, kinds):
                    continue
                assert m[0] == t[0], (path, expr, decls, act, checked, m, t)
                if m[0] == "value" and not (_has_opaque(m[1]) or _has_opaque(t[1])):
                    assert m[1] == t[1], (path, expr, decls, act, checked, m, t)


# error absorption --------------------------------------------------------------------------
ABSORB_N = 4 * N


def _outcome(a: tuple[str, object]) -> tuple[str, object]:
    return a if a[0] == "value" else (a[0], None)


def test_error_absorption_is_commutative() -> None:
    for s in range(ABSORB_N):
        expr, mirror = absorb(s)
        if mirror is None:
            continue
        for act in ABSORB_ACTS:
            for checked in (True, False):
                a, b = ours(expr, ABSORB_DECLS, act, checked), ours(mirror, ABSORB_DECLS, act, checked)
                assert _outcome(a) == _outcome(b), (expr, mirror, act, checked, a, b)


def test_error_absorption_has_cel_cpps_answer(cpp: None) -> None:
    for s in range(ABSORB_N):
        expr, _ = absorb(s)
        for act in ABSORB_ACTS:
            act = {**act, "w": True}  # cel-cpp's binding refuses a whole activation holding a bad value
            for checked in (True, False):
                m, t = ours(expr, ABSORB_DECLS, act, checked), theirs(expr, ABSORB_DECLS, act, checked)
                if _kept(expr, m, t):
                    continue
                assert _outcome(m) == _outcome(t), (expr, act, checked, m, t)


# the program cache -------------------------------------------------------------------------
def test_a_cache_hit_is_a_fresh_compile() -> None:
    items = [(e, d, a, checked) for s in range(3 * N) for _, e, d, a in forms(*draw(s)) for checked in (True, False)]
    random.Random(26).shuffle(items)
    cel.clear_cache()
    cached = [_run(*item) for item in items]  # one text met under several declarations, in no order
    for item, got in zip(items, cached):
        assert got == ours(*item), item


# pinned rows -------------------------------------------------------------------------------
CLASSES = {
    "agreed": "edges the wave's generators drew where ours and cel-cpp agree, pinned with their types: "
              "the int64 and uint64 bounds through declared variables, an int beside a double compares "
              "as a double in both (`2^63 - 1 < 2.0^63` is false, `2^53 + 1 == 2.0^53` true: cel-go's "
              "`compareIntDouble` too), error absorption in both orders",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())
_INT_MIN = -(2**63)
# (class, expression, declarations, activation, ("value", CEL literal) | ("error", piece of our message))
CASES: list[tuple[str, str, dict[str, str], dict[str, object], tuple[str, str]]] = [
    ("agreed", "-a", {"a": "int"}, {"a": _INT_MIN}, ("error", "overflow")),
    ("agreed", "-a", {"a": "dyn"}, {"a": _INT_MIN}, ("error", "overflow")),
    ("agreed", "a / -1", {"a": "int"}, {"a": _INT_MIN}, ("error", "overflow")),
    ("agreed", "a % -1", {"a": "int"}, {"a": _INT_MIN}, ("error", "overflow")),
    ("agreed", "a - 1", {"a": "int"}, {"a": _INT_MIN}, ("error", "overflow")),
    ("agreed", "a + b", {"a": "uint", "b": "uint"}, {"a": 2**64 - 1, "b": 1}, ("error", "overflow")),
    ("agreed", "a - b", {"a": "uint", "b": "uint"}, {"a": 0, "b": 1}, ("error", "overflow")),
    ("agreed", "int(a)", {"a": "double"}, {"a": 2.0**63}, ("error", "range")),
    ("agreed", "int(a)", {"a": "double"}, {"a": 9.2233720368547748e18}, ("value", "9223372036854774784")),
    ("agreed", "uint(a)", {"a": "double"}, {"a": 2.0**64}, ("error", "range")),
    ("agreed", "uint(a)", {"a": "int"}, {"a": -1}, ("error", "range")),
    ("agreed", "a < b", {"a": "int", "b": "dyn"}, {"a": 2**63 - 1, "b": 2.0**63}, ("value", "false")),
    ("agreed", "a == b", {"a": "dyn", "b": "double"}, {"a": 2**53 + 1, "b": 2.0**53}, ("value", "true")),
    ("agreed", "a > b", {"a": "uint", "b": "dyn"}, {"a": 2**63, "b": 2**63 - 1}, ("value", "true")),
    ("agreed", "a in [b]", {"a": "dyn", "b": "double"}, {"a": 1, "b": 1.0}, ("value", "true")),
    ("agreed", "{a: 1}[b]", {"a": "int", "b": "dyn"}, {"a": 3, "b": 3.0}, ("value", "1")),
    ("agreed", "math.bitShiftLeft(1, a)", {"a": "int"}, {"a": 64}, ("value", "0")),
    ("agreed", "math.bitShiftRight(-1, a)", {"a": "int"}, {"a": 63}, ("value", "1")),
    ("agreed", "math.bitShiftLeft(1, a)", {"a": "int"}, {"a": -1}, ("error", "negative offset")),
    ("agreed", "'a😀b'.indexOf('b', a)", {"a": "int"}, {"a": 2}, ("value", "2")),
    ("agreed", "'abc'.substring(a)", {"a": "int"}, {"a": 4}, ("error", "out of range")),
    ("agreed", "x || 1/0 == 1", {"x": "bool"}, {"x": True}, ("value", "true")),
    ("agreed", "1/0 == 1 || x", {"x": "bool"}, {"x": True}, ("value", "true")),
    ("agreed", "1/0 == 1 && x", {"x": "bool"}, {"x": False}, ("value", "false")),
    ("agreed", "[0, 1].all(i, i == 0 ? x : 1/0 == 1)", {"x": "bool"}, {"x": False}, ("value", "false")),
    ("agreed", "[0, 1].exists(i, i == 0 ? 1/0 == 1 : x)", {"x": "bool"}, {"x": True}, ("value", "true")),
    ("agreed", "[0, 1].exists_one(i, i == 0 ? 1/0 == 1 : x)", {"x": "bool"}, {"x": True}, ("error", "divide by zero")),
]


def test_every_row_names_a_class() -> None:
    check_classes([(k, e, w) for k, e, _, _, w in CASES], CLASSES)


def _want(expr: str, want: tuple[str, str], got: tuple[str, object]) -> None:
    assert got[0] == want[0], (expr, got)
    if want[0] == "value":
        assert got[1] == mine(cel.compile(want[1])({})), (expr, got, want[1])


@pytest.mark.parametrize(("klass", "expr", "decls", "act", "want"), CASES, ids=[e for _, e, _, _, _ in CASES])
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case(klass: str, expr: str, decls: dict[str, str], act: dict[str, object], want: tuple[str, str],
              checked: bool) -> None:
    got = ours(expr, decls, act, checked)
    _want(expr, want, got)
    if want[0] == "error":
        assert want[1] in str(got[1]), (expr, got)


@pytest.mark.parametrize(("klass", "expr", "decls", "act", "want"), CASES, ids=[e for _, e, _, _, _ in CASES])
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case_with_cel_cpp(cpp: None, klass: str, expr: str, decls: dict[str, str], act: dict[str, object],
                           want: tuple[str, str], checked: bool) -> None:
    _want(expr, want, theirs(expr, decls, act, checked))
