"""Wave 24: a type-directed random generator (``cel_typed_gen``) against cel-cpp, and its properties.

``cel_typed_gen.Gen`` builds expressions by the CEL type they must have, over every operator,
macro (one- and two-variable), conversion and extension function we claim, on edge values
(int64/uint64 bounds, -0.0, NaN, infinities, astral and combining characters, invalid UTF-8
bytes, empty and mixed-key maps, nested optionals, timestamps at years 1 and 9999 with fixed
and IANA zones, durations at their bounds), drawing an operand of a wrong type now and then so
that the checker's answer is compared too. The campaign it ran (counts in docs/decisions.md,
session 24) compared outcome classes with Google's C++ runtime (``cel-expr-python``): a value
with its type, an evaluation error, or a refusal by the parser or checker.

Two properties keep the generator running in CI, on a bounded number of drawn seeds:

* ours alone: every drawn expression, type-checked and not, ends in a value or a CEL error
  (never another Python exception), and a type-checked value is of the type the checker gave
  (a ``null`` may stand where an optional is typed, as in cel-cpp and cel-go's checkers);
* against cel-cpp: the same outcome class and the same type of value, except where a
  difference is one kept and documented before (``KEPT_MARKERS``, each with its wave).

One class of ours came out of it, by comparing each declared variable with the same name left
undeclared (``HOST``): ``host-no-cel-value``, below.

``AGREED`` pins, with their types, answers the campaign drew at the generator's edges on which
both runtimes agree; each row also runs through cel-cpp when it is installed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cel_typed_gen import TYPES, Gen
from shared_data import in_ci
from test_differential_wave11 import _ours
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave19 import _as_cpp, typed
from test_differential_wave21 import _theirs

from aigw_policy import cel
from aigw_policy.cel.parser import parse
from aigw_policy.cel.runtime.values import Duration, Optional, Timestamp, TypeValue, UInt
from aigw_policy.cel.types import Type

N = int(os.environ.get("CEL_DIFF_EXAMPLES", "40"))  # examples per property: bounded by count, never by time
RUN = 10  # each example draws a seed and takes the expressions of RUN seeds from it (hypothesis favours small seeds)

# Differences kept before (docs/cel.md): a piece of our message, of cel-cpp's, or of the text.
KEPT_MARKERS = (
    "`duration` applied to `(int)`",  # cel-cpp's checker declares duration(int), its runtime has none (wave 11)
    "`int` applied to `(google.protobuf.Duration)`",  # the same for int(duration) (wave 11)
    "int(bool)", "uint(bool)", "double(bool)",  # not in the langdef; cel-cpp converts (wave 20)
    "duration out of range",  # langdef: a duration is one int64 of nanoseconds; cel-cpp allows ±10000 years
    "repeated key", "ALREADY_EXISTS",  # a key written twice: an error (conformance); cel-cpp folds it away
    "`flatten`",  # flatten's typing (wave 20)
    "type conversion error from 'string'",  # number text with spaces or hex (wave 20)
    "over the limit", "over its budget", "Iteration budget", "vector::reserve", "bad_alloc",  # sizes
    "undeclared reference to 'optional'", "unwrapOpt",  # cel-cpp's checker lacks optional v2 (wave 23)
    "optional_type(dyn)",  # `[?dyn(x)]`: cel-go's checker (wave 11)
    "_[?_](list, uint64)", "_[?_](list, double)",  # cel-go's optional index conversion (wave 14)
    "map key type",  # cel-cpp's checker warns of a double key in some contexts; both fail at run time
    "greater than <string>.size()",  # cel-cpp's substring refuses in-range ends of some strings (wave 23)
    "null_type",  # cel-cpp's checker takes null where a list or map is wanted; both fail at run time
    "cel.@mapInsert",  # transformMap cannot run in cel-cpp's binding (wave 12)
    "cannot be the range of a comprehension",  # a free type as a range (wave 20)
    "existsOne(",  # cel-cpp's existsOne takes two variables only (wave 14)
)


def _kept(expr: str, *answers: tuple[str, object]) -> bool:
    return any(m in expr or any(m in str(a[1]) for a in answers) for m in KEPT_MARKERS)


def _draw(seed: int) -> str:
    r = random.Random(seed)
    return Gen(r, ill=0.0 if seed % 2 else 0.08, max_depth=r.choice([1, 2, 3])).expr(r.choice(TYPES))


# ours ----------------------------------------------------------------------------------------
def _runtime_kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, UInt):
        return "uint"
    for py, kind in ((int, "int"), (float, "double"), (str, "string"), (bytes, "bytes"), (list, "list"),
                     (dict, "map"), (Timestamp, "timestamp"), (Duration, "duration"), (TypeValue, "type"),
                     (Optional, "opaque")):
        if isinstance(v, py):
            return kind
    return "null" if v is None else "?" + type(v).__name__


def _of_type(t: Type, v: object) -> bool:
    """``v`` is a value of the checked type ``t`` (type parameters and ``dyn`` take any)."""
    if t.kind in ("dyn", "param", "error"):
        return True
    kind = _runtime_kind(v)
    if v is None and (t.kind in ("timestamp", "duration") or (t.kind == "opaque" and t.name == "optional_type")):
        return True  # null is assignable to these, as in cel-cpp's and cel-go's checkers
    if kind != t.kind:
        return False
    if isinstance(v, list):
        return all(_of_type(t.params[0], x) for x in v)
    if isinstance(v, dict):
        return all(_of_type(t.params[0], k) and _of_type(t.params[1], x) for k, x in v.items())
    if isinstance(v, Optional) and t.params:
        return not v.present or _of_type(t.params[0], v.value)
    return True


# A `dyn` argument where a parameter nests a type variable (`optional(A)`, `list(optional(A))`,
# `list(list(A))`) leaves the variable free, and a later use binds it: `[[1.0], ['a']].flatten()[0] + 1`
# checks as `int` and fails at run time, `dyn(optional.of(true)).orValue(b'')` checks as `bytes`.
# cel-go's and cel-cpp's checkers bind it the same way (the campaign compared
# `dyn(optional.of('a')).or(optional.of(1)).value() + 'x'` and the like); it is how CEL's gradual
# typing works, not a fault of the value.
_FREE_THROUGH_DYN = ("dyn(", "optional.unwrap(", "unwrapOpt(", "flatten(")


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_a_generated_expression_ends_in_a_cel_outcome_of_its_checked_type(seed: int) -> None:
    for expr in map(_draw, range(seed * RUN, seed * RUN + RUN)):
        _ends_in_a_cel_outcome_of_its_checked_type(expr)


def _ends_in_a_cel_outcome_of_its_checked_type(expr: str) -> None:
    for checked in (True, False):
        cel.clear_cache()
        try:
            prog = cel.compile(expr, {}) if checked else cel.compile(expr)
        except cel.CelError:
            continue
        try:
            value = prog({})
        except cel.CelError:
            continue
        if checked and not any(f in expr for f in _FREE_THROUGH_DYN):
            assert _of_type(prog.type, value), (expr, str(prog.type), value)


# against cel-cpp -------------------------------------------------------------------------------
_CPP_KINDS = {"INT": "int", "UINT": "uint", "DOUBLE": "double", "STRING": "string", "BYTES": "bytes", "BOOL": "bool",
              "NULL": "null", "LIST": "list", "MAP": "map", "TIMESTAMP": "timestamp", "DURATION": "duration",
              "TYPE": "type"}


def _cpp_outcome(expr: str, checked: bool) -> tuple[str, object]:
    """cel-cpp's outcome class: ``("value", kind)``, ``("error", message)`` or ``("check_error", message)``;
    an optional (which its binding cannot hand over) is ``("value", "opaque")``."""
    _theirs("1", checked)  # makes the environment
    import test_differential_wave21 as w21

    try:
        r = w21._CPP_ENV.compile(expr, disable_check=not checked).eval(data={})
    except Exception as e:  # noqa: BLE001 - refused by its parser or checker
        return "check_error", str(e)
    kind = str(r.type()).split("<")[0]
    if kind == "ERROR":
        try:
            return "error", r.plain_value()
        except Exception:  # noqa: BLE001 - an optional has no Python form in the binding
            return "value", "opaque"
    return "value", _CPP_KINDS.get(kind, kind)


def _our_outcome(expr: str, checked: bool) -> tuple[str, object]:
    kind, got = _ours(expr, checked)
    return (kind, _runtime_kind(got)) if kind == "value" else (kind, got)


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: the generated expressions are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_a_generated_expression_has_cel_cpps_outcome_class(cpp: None, seed: int) -> None:
    for expr in map(_draw, range(seed * RUN, seed * RUN + RUN)):
        _has_cel_cpps_outcome_class(expr)


def _has_cel_cpps_outcome_class(expr: str) -> None:
    for checked in (True, False):
        cel.clear_cache()
        mine, theirs = _our_outcome(expr, checked), _cpp_outcome(expr, checked)
        if _kept(expr, mine, theirs):
            continue
        assert mine[0] == theirs[0], (expr, checked, mine, theirs)
        if mine[0] == "value":
            assert mine[1] == theirs[1], (expr, checked, mine, theirs)


# rows ----------------------------------------------------------------------------------------
# (expression, ("value", CEL literal) | ("error", piece of our message)): both runtimes, checked and not
AGREED: list[tuple[str, tuple[str, str]]] = [
    # null is assignable to an optional when checked; the run time says what it is
    ("optional.of(null).or(optional.of(optional.none())).value() == null", ("value", "true")),
    ("type({'a': optional.of(1), ?'b': optional.of(null)}['b'])", ("value", "null_type")),
    ("[optional.of(1), null][1].hasValue()", ("error", "no such overload")),
    ("optional.of(optional.none()).hasValue()", ("value", "true")),
    # civil time past the range's ends in a zone
    ("timestamp('9999-12-31T23:59:59Z').getFullYear('+01:00')", ("value", "10000")),
    ("timestamp('0001-01-01T00:00:00Z').getFullYear('-01:00')", ("value", "0")),
    ("timestamp('0001-01-01T00:00:00Z').getDayOfWeek('-00:01')", ("value", "0")),
    ("timestamp('1800-01-01T00:00:00Z').getMinutes('America/New_York')", ("value", "3")),
    # mixed numbers: the first of equal values kept, a number line read through doubles
    ("[1, 1u, 1.0].distinct()", ("value", "[1]")),
    ("math.greatest(1, 1u, 1.0)", ("value", "1")),
    ("sets.equivalent([1, 1u], [1.0])", ("value", "true")),
    ("dyn(9007199254740993) > dyn(9007199254740992.0)", ("value", "false")),
    ("{1: 'a', 2u: 'b'}.exists(k, v, k == 2 && v == 'b')", ("value", "true")),
    ("[1, 2, 3].transformList(i, v, i > 0, v * 2)", ("value", "[4, 6]")),
    # Unicode white space and lazy empty matches
    ("'\\u2028a\\u3000'.trim()", ("value", "'a'")),
    ("regex.extractAll('aaa', 'a*?')", ("value", "[]")),
]
AGREED_IDS = [e for e, _ in AGREED]


@pytest.mark.parametrize(("expr", "want"), AGREED, ids=AGREED_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_agreed(expr: str, want: tuple[str, str], checked: bool) -> None:
    cel.clear_cache()
    kind, got = _ours(expr, checked)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


@pytest.mark.parametrize(("expr", "want"), AGREED, ids=AGREED_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_agreed_with_cel_cpp(cpp: None, expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = _theirs(expr, checked)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        want_value = _as_cpp(cel.compile(want[1])({}))
        if isinstance(want_value, tuple) and want_value[0] == "type":
            got = ("type", {"null": "null_type"}.get(got[1], got[1]))  # type: ignore[index]
        assert got == want_value, (expr, got, want[1])


# host values ---------------------------------------------------------------------------------
CLASSES = {
    "host-no-cel-value": "a variable declared `dyn` took a Python value of no CEL type as it was (a `set`, a "
                         "`Decimal`, a `date`, any `object`): `type(x)` was a made-up type `set`, `x == x` true, "
                         "where cel-cpp refuses it (`Non-CEL value type`); and an undeclared variable (unchecked, "
                         "every variable `dyn`) skipped even wave 16's refusal of a `datetime` or `timedelta`, so "
                         "`x` was a Python `datetime` and `type(x)` `datetime`. Now both are an evaluation error "
                         "(`invalid_argument`), a `bytearray` is its bytes (as cel-cpp), and what cel-cpp takes "
                         "is unchanged",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())


class _Opaque:
    """A host object of no CEL type."""


_T = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
# (class, Python value, expression, ("value", CEL literal) | ("error", piece of our message)): the variable `x`
# declared `dyn` and left undeclared, unchecked and type-checked
HOST: list[tuple[str, object, str, tuple[str, str]]] = [
    ("host-no-cel-value", {1}, "x == x", ("error", "a Python set is no CEL value")),
    ("host-no-cel-value", {1}, "type(x) == type(x)", ("error", "a Python set is no CEL value")),
    ("host-no-cel-value", frozenset([1]), "size(x)", ("error", "a Python frozenset is no CEL value")),
    ("host-no-cel-value", decimal.Decimal("1.5"), "x == x", ("error", "a Python Decimal is no CEL value")),
    ("host-no-cel-value", dt.date(2020, 1, 1), "x == x", ("error", "a Python date is no CEL value")),
    ("host-no-cel-value", _Opaque(), "x != null", ("error", "a Python _Opaque is no CEL value")),
    ("host-no-cel-value", 1j, "x == x", ("error", "a Python complex is no CEL value")),
    ("host-no-cel-value", range(2), "size(x)", ("error", "a Python range is no CEL value")),
    ("host-no-cel-value", _T, "x == x", ("error", "a Python datetime is no CEL value")),
    ("host-no-cel-value", _T, "x.getFullYear()", ("error", "a Python datetime is no CEL value")),
    ("host-no-cel-value", dt.timedelta(seconds=5), "type(x) == type(x)", ("error", "a Python timedelta is no CEL value")),
    ("host-no-cel-value", {1}, "false && x == x", ("value", "false")),
    ("host-no-cel-value", {1}, "x == x || true", ("value", "true")),
    ("host-no-cel-value", bytearray(b"ab"), "x == b'ab'", ("value", "true")),
    ("host-no-cel-value", bytearray(b"ab"), "type(x) == bytes", ("value", "true")),
    ("host-no-cel-value", [1, {2: 3}], "x[1][2] == 3", ("value", "true")),
    ("host-no-cel-value", {"a": 1}, "x.a == 1", ("value", "true")),
    ("host-no-cel-value", None, "x == null", ("value", "true")),
]
HOST_IDS = [f"{type(v).__name__}:{e}" for _, v, e, _ in HOST]


def test_every_row_names_a_class() -> None:
    assert {k for k, *_ in HOST} <= set(CLASSES)
    assert all(w[0] in ("value", "error") for *_, w in HOST)


@pytest.mark.parametrize(("klass", "value", "expr", "want"), HOST, ids=HOST_IDS)
@pytest.mark.parametrize("how", ["declared", "undeclared", "checked"])
def test_a_host_value(klass: str, value: object, expr: str, want: tuple[str, str], how: str) -> None:
    cel.clear_cache()
    prog = cel.compile(expr, {"x": "dyn"}) if how == "checked" else cel.compile(expr)
    if how == "declared":
        prog = cel.compile_ast(parse(expr), {"x": "dyn"}, source=expr, check=False)
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


@pytest.mark.parametrize(("klass", "value", "expr", "want"), HOST, ids=HOST_IDS)
@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
def test_a_host_value_as_cel_cpp_takes_it(cpp: None, klass: str, value: object, expr: str,
                                          want: tuple[str, str], declared: bool) -> None:
    env = c.NewEnv(variables={"x": c.Type.DYN}) if declared else c.NewEnv()
    r = env.compile(expr, disable_check=not declared).eval(data={"x": value})
    kind = "error" if r.type() == c.Type.ERROR else "value"
    assert kind == want[0], (expr, kind, r.plain_value())
    if kind == "value":
        assert r.plain_value() == cel.compile(want[1])({}), (expr, r.plain_value())
