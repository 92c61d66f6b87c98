"""Wave 25: the generator widened to declared variables and the productions it lacked; the
upstream conformance suite converted and run; conformance-style rows for what they found.

* ``cel_typed_gen25.Gen25`` (session 24's grammar plus ``has()`` on variable maps, optional
  chaining on variable maps and lists, comprehensions and ``cel.bind`` shadowing declared
  variables, heterogeneous equality and ``in`` between variables, ``type()`` of variables,
  ``format`` of every verb over variables, time arithmetic over variables, errors beside values
  under ``&&``/``||``/``?:``) draws an expression with the declarations and values of twenty
  variables of every messages-free type; a property compares ours with cel-cpp on it, checked
  and unchecked (the declared variables given to both).
* ``data/wave25_conformance.json`` holds rows in the conformance files' own shape
  (``SimpleTestFile`` JSON: ``type_env``, ``bindings``, ``container``, ``typed_result``), run
  through ``tests/conformance/run.py``'s ``run_test``, so a row is what a held-back conformance
  case would be.
* ``CASES`` pins each class found with both runtimes, checked and not.

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cel_typed_gen25 import VARS, draw
from conformance_rows import row_ids, rows_of, run_test
from differential_table import check_classes
from shared_data import in_ci
from test_differential_wave12 import CPP_CONFIG
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave19 import _as_cpp, typed
from test_differential_wave21 import _theirs
from test_differential_wave24 import _kept, _runtime_kind

from aigw_policy import cel
from aigw_policy.cel.parser import parse

N = int(os.environ.get("CEL_DIFF_EXAMPLES", "30"))  # examples per property: bounded by count, never by time
RUN = 8  # expressions per example

CLASSES = {
    "param-decl": "a variable declared with a type holding a type parameter (`list(T)`, `map(K, V)`, "
                  "`optional(T)` in a list, a bare `T`; a conformance `type_env` may declare one) made the "
                  "code generator raise `TypeParseError` (a traceback, not a `CelError`): the host reader "
                  "parsed the declaration's text back. A type parameter (or an opaque type of no known text) "
                  "is now read as `dyn` (its value checked as a CEL value), and the checked type of the "
                  "variable has it as `dyn` (cel-go substitutes free parameters so)",
    "split-one": "`''.split('', 1)` was `[]` (Go's `SplitN` explodes no characters); the strings extension "
                 "says \"when the limit is 1, the result is the target string\": `['']`, as cel-cpp. "
                 "`''.split('')` (no limit) stays `[]` (kept before, cel-go)",
    "wkt-values": "the conformance runner called a well-known type in a binding or an expected value "
                  "(`object_value`: an `Any` of `google.protobuf.Duration`, `Timestamp`, a wrapper, `Value`) "
                  "and a `message_type` declaration of one unsupported, so upstream's "
                  "`timestamps/duration_converters/get_milliseconds` (`x` a bound Duration) failed; they "
                  "are read (JSON form: `@type` and `value`; the field form `seconds`/`nanos` too)",
    "in-equality": "`in` on a list is the langdef's equality: `{1: 1} in [{1u: 1.0}]` is true as "
                   "`{1: 1} == {1u: 1.0}` is, in both runtimes; cel-cpp's `in` says false for maps or lists "
                   "whose numbers differ in kind (its `==` says true). Kept: the spec's answer, not cel-cpp's",
    "host-nested": "a Python value of no CEL type (a `set`, a `datetime`, a `Decimal`) inside a host list or "
                   "map read as `dyn` (a `dyn` variable, `list(dyn)`, `map(string, dyn)`, undeclared) was handed "
                   "on as it was when selected, indexed or iterated: `x[0]` of `[{1}]` was a Python `set`, "
                   "`x.t == x.t` true for a `datetime` (wave 16 kept it, for the cost of testing each read). "
                   "The read's inline test is now the class's membership in the plain CEL classes (a set "
                   "lookup, as a `dyn` variable's own read already was); anything else goes through the "
                   "variable's check and is `invalid_argument`, as cel-cpp refuses it. cel-cpp refuses the "
                   "whole activation; ours refuses where the value is taken out (`size(x)` is still 1)",
    "agreed": "rows the widened generator and the probes of this wave drew where both runtimes agree, "
              "pinned: variables under comprehension shadowing, optional chaining and `has()` on nested "
              "variable maps, error absorption by `||`/`&&` in comprehensions, unary minus chains at the "
              "int64 bound",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

# cel-cpp ------------------------------------------------------------------------------------
_ENV = None


def _cpp_type(s: str):  # type: ignore[no-untyped-def]
    """Our declaration text -> cel-cpp's binding type."""
    s = s.strip()
    simple = {"int": c.Type.INT, "uint": c.Type.UINT, "double": c.Type.DOUBLE, "string": c.Type.STRING,
              "bytes": c.Type.BYTES, "bool": c.Type.BOOL, "dyn": c.Type.DYN, "timestamp": c.Type.TIMESTAMP,
              "duration": c.Type.DURATION}
    if s in simple:
        return simple[s]
    if s.startswith("list("):
        return c.Type.List(_cpp_type(s[5:-1]))
    inner, depth = s[4:-1], 0
    for i, ch in enumerate(inner):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            return c.Type.Map(_cpp_type(inner[:i]), _cpp_type(inner[i + 1:]))
    raise ValueError(s)


def _cpp_env():  # type: ignore[no-untyped-def]
    global _ENV
    if _ENV is None:
        _ENV = c.NewEnv(config=c.NewEnvConfigFromYaml(CPP_CONFIG + "  - name: regex\n"),
                        variables={n: _cpp_type(d) for n, (d, _, _) in VARS.items()})
    return _ENV


_CPP_KINDS = {"INT": "int", "UINT": "uint", "DOUBLE": "double", "STRING": "string", "BYTES": "bytes", "BOOL": "bool",
              "NULL": "null", "LIST": "list", "MAP": "map", "TIMESTAMP": "timestamp", "DURATION": "duration",
              "TYPE": "type"}
_SCALARS = ("int", "uint", "bool")  # compared by value too (doubles and texts: kept differences in formatting)


def _cpp_outcome(expr: str, act: dict[str, object], checked: bool) -> tuple[str, object, object]:
    try:
        r = _cpp_env().compile(expr, disable_check=not checked).eval(data=act)
    except Exception as e:  # noqa: BLE001 - refused by its parser or checker
        return "check_error", str(e), None
    kind = str(r.type()).split("<")[0]
    if kind == "ERROR":
        try:
            return "error", r.plain_value(), None
        except Exception:  # noqa: BLE001 - an optional has no Python form in the binding
            return "value", "opaque", None
    kind = _CPP_KINDS.get(kind, kind)
    return "value", kind, r.value() if kind in _SCALARS else None


def _our_outcome(expr: str, decls: dict[str, str], act: dict[str, object], checked: bool) -> tuple[str, object, object]:
    cel.clear_cache()
    try:
        prog = cel.compile(expr, decls) if checked else cel.compile_ast(parse(expr), decls, source=expr, check=False)
    except cel.CelError as e:
        return "check_error", str(e), None
    try:
        v = prog(act)
    except cel.CelError as e:
        return "error", str(e), None
    kind = _runtime_kind(v)
    return "value", kind, (bool(v) if kind == "bool" else int(v)) if kind in _SCALARS else None  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: the generated expressions are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


# Kept before or here, met by the campaign over these expressions: cel-cpp's checker types a map
# literal's values by its first entry where cel-go joins them (`{'a': 1, 'b': dyn(2)}` is map(string,
# int) there, map(string, dyn) here), so an equality across it is refused by it; `string()` of an
# infinity (`+Inf`, cel-go; `inf`) read back as a regex; the binding cannot run `transformMap`;
# `flatten` and `sortBy` typing (wave 20)
_KEPT_HERE = ("?'b': vy", "?'b': vmm", "'b': dyn(", "string(vd", "transformMap(", "flatten(", "sortBy(")
# a map's iteration order is no CEL value's: what is drawn from it (`first()`, a join) may differ in kind
_MAP_ITERATION = re.compile(r"(\bvm\w*|\})\.(map|filter|transformList|exists|all|exists_one)\(")


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_a_generated_expression_over_variables_has_cel_cpps_outcome(cpp: None, seed: int) -> None:
    for s in range(seed * RUN, seed * RUN + RUN):
        expr, decls, act = draw(s)
        for checked in (True, False):
            mine, theirs = _our_outcome(expr, decls, act, checked), _cpp_outcome(expr, act, checked)
            if _kept(expr, mine[:2], theirs[:2]) or any(m in expr for m in _KEPT_HERE):
                continue
            assert mine[0] == theirs[0], (s, expr, checked, mine, theirs)
            if mine[0] == "value" and "opaque" not in (mine[1], theirs[1]) and not _MAP_ITERATION.search(expr):
                assert mine[1:] == theirs[1:], (s, expr, checked, mine, theirs)


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_a_generated_expression_over_variables_ends_in_a_cel_outcome(seed: int) -> None:
    for s in range(seed * RUN, seed * RUN + RUN):
        expr, decls, act = draw(s)
        for checked in (True, False):
            _our_outcome(expr, decls, act, checked)  # a value or a CelError, never another exception


# conformance-style rows -------------------------------------------------------------------------
_ROWS = rows_of("wave25_conformance.json")


@pytest.mark.parametrize(("section", "row"), _ROWS, ids=row_ids(_ROWS))
def test_conformance_row(section: str, row: dict) -> None:
    cel.clear_cache()
    ok, why = run_test(row)
    assert ok, (row["expr"], why)


# classes -------------------------------------------------------------------------------------
# (class, expression, ("value", CEL literal) | ("error", piece of our message)): both runtimes, checked and not
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("split-one", "''.split('', 1)", ("value", "['']")),
    ("split-one", "''.split('a', 1)", ("value", "['']")),
    ("split-one", "'ab'.split('', 1)", ("value", "['ab']")),
    ("split-one", "'a😀b'.split('', 2)", ("value", "['a', '😀b']")),
    ("split-one", "''.split('', 0)", ("value", "[]")),
    ("agreed", "[1, 2].exists(x, [3].exists(x, x == 3))", ("value", "true")),
    ("agreed", "cel.bind(x, 1, [2].map(x, x) + [x])", ("value", "[2, 1]")),
    ("agreed", "{'a': {'b': 1}}.?a.?c.orValue(5)", ("value", "5")),
    ("agreed", "dyn({1: 'a'})[?1.0].value()", ("value", "'a'")),
    ("agreed", "has({'a': {'b': 1}}.a.b) && !has({'a': {'b': 1}}.a.c)", ("value", "true")),
    ("agreed", "[0, 1].exists(x, 1 / x > 0)", ("value", "true")),
    ("agreed", "[0].exists(x, 1 / x > 0)", ("error", "divide by zero")),
    ("agreed", "[1, 0].exists_one(x, 1 / x > 0)", ("error", "divide by zero")),
    ("agreed", "{0: 1, 1: 1}.all(k, v, 1 / k > 0)", ("error", "divide by zero")),
    ("agreed", "--9223372036854775807", ("value", "9223372036854775807")),
    ("agreed", "-(-9223372036854775808)", ("error", "overflow")),
    ("agreed", "dyn({1: 1}) == dyn({1u: 1.0})", ("value", "true")),
]
IDS = [f"{k}:{e}" for k, e, _ in CASES]
# (class, expression, ours, cel-cpp's): a difference kept, the spec's answer ours
KEPT: list[tuple[str, str, str, str]] = [
    ("in-equality", "dyn({1: 1}) in [{1u: 1.0}]", "true", "false"),
    ("in-equality", "dyn([[1], {1: 2}]) in [[[1u], {1u: 2u}]]", "true", "false"),
]


_T = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
# (class, declaration, Python value of `x`, expression, ("value", CEL literal) | ("error", piece of our message)):
# `x` declared so and undeclared, checked (declared) and not
HOST: list[tuple[str, str, object, str, tuple[str, str]]] = [
    ("host-nested", "dyn", [{1}], "x[0] == x[0]", ("error", "a Python set is no CEL value")),
    ("host-nested", "dyn", {"a": {1}}, "x.a == x.a", ("error", "a Python set is no CEL value")),
    ("host-nested", "dyn", [{1}], "x.exists(i, i == i)", ("error", "a Python set is no CEL value")),
    ("host-nested", "dyn", [1, {1}], "x.map(i, i)", ("error", "a Python set is no CEL value")),
    ("host-nested", "dyn", {"t": _T}, "x.t == x.t", ("error", "a Python datetime is no CEL value")),
    ("host-nested", "dyn", [decimal.Decimal(1)], "x[0] == x[0]", ("error", "a Python Decimal is no CEL value")),
    ("host-nested", "list(dyn)", [{1}], "x[0] == x[0]", ("error", "a Python set is no CEL value")),
    ("host-nested", "map(string, dyn)", {"a": {1}}, "x.a == x.a", ("error", "a Python set is no CEL value")),
    ("host-nested", "map(string, dyn)", {"a": {1}}, "has(x.b) || x.a == x.a", ("error", "no CEL value")),
    ("host-nested", "map(string, dyn)", {"a": {1}}, "false && x.a == x.a", ("value", "false")),
    ("host-nested", "dyn", {"a": {"b": [1, "s", None, 2.5, b"z", True]}}, "x.a.b[1] + string(x.a.b.size())",
     ("value", "'s6'")),
    ("host-nested", "dyn", {"a": bytearray(b"z")}, "x.a == b'z'", ("value", "true")),
]


def test_every_row_names_a_class() -> None:
    check_classes(CASES, CLASSES)
    assert {k for k, *_ in KEPT} <= set(CLASSES)
    assert {k for k, *_ in HOST} <= set(CLASSES)


@pytest.mark.parametrize(("klass", "declared", "value", "expr", "want"), HOST, ids=[f"{d}:{e}" for _, d, _, e, _ in HOST])
@pytest.mark.parametrize("how", ["checked", "declared", "undeclared"])
def test_a_host_value(klass: str, declared: str, value: object, expr: str, want: tuple[str, str], how: str) -> None:
    cel.clear_cache()
    decls = {} if how == "undeclared" else {"x": declared}
    prog = cel.compile(expr, decls) if how == "checked" else cel.compile_ast(parse(expr), decls, source=expr, check=False)
    try:
        kind, got = "value", prog({"x": value})
    except cel.CelError as e:
        kind, got = "error", e
        assert e.code == "invalid_argument", (expr, e.code)
    assert kind == want[0], (expr, how, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


@pytest.mark.parametrize(("klass", "declared", "value", "expr", "want"), HOST, ids=[f"{d}:{e}" for _, d, _, e, _ in HOST])
def test_a_host_value_refused_by_cel_cpp_too(cpp: None, klass: str, declared: str, value: object, expr: str,
                                              want: tuple[str, str]) -> None:
    env = c.NewEnv(config=c.NewEnvConfigFromYaml(CPP_CONFIG), variables={"x": _cpp_type(declared)})
    r = env.compile(expr).eval(data={"x": value})
    assert ("error" if r.type() == c.Type.ERROR else "value") == want[0], (expr, r.plain_value())


def _ours(expr: str, checked: bool) -> tuple[str, object]:
    cel.clear_cache()
    try:
        prog = cel.compile(expr, {}) if checked else cel.compile(expr)
    except cel.CelError as e:
        return "check_error", str(e)
    try:
        return "value", prog({})
    except cel.CelError as e:
        return "error", str(e)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case(klass: str, expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = _ours(expr, checked)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case_with_cel_cpp(cpp: None, klass: str, expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = _theirs(expr, checked)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert got == _as_cpp(cel.compile(want[1])({})), (expr, got, want[1])


@pytest.mark.parametrize(("klass", "expr", "mine", "cpps"), KEPT, ids=[e for _, e, _, _ in KEPT])
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_kept(klass: str, expr: str, mine: str, cpps: str, checked: bool) -> None:
    assert typed(_ours(expr, checked)[1]) == typed(cel.compile(mine)({})), expr


@pytest.mark.parametrize(("klass", "expr", "mine", "cpps"), KEPT, ids=[e for _, e, _, _ in KEPT])
def test_kept_is_still_cel_cpps(cpp: None, klass: str, expr: str, mine: str, cpps: str) -> None:
    """When cel-cpp agrees with the spec, the row moves to ``CASES``."""
    assert _theirs(expr, True)[1] == _as_cpp(cel.compile(cpps)({})), expr
