"""Wave 19: the edges earlier waves drew least, compared with their types, against cel-cpp.

Found by a throwaway fuzzer whose comparison, unlike the earlier waves' ``norm``, keeps each
value's type (``1u`` is not ``1``, ``-0.0`` is not ``0.0``, a list's elements keep theirs),
reads timestamps and durations to the nanosecond (their text as well as their value), and
compares what cel-cpp's Python binding cannot hand over (an optional inside a list or map) by
its printed form. Each expression ran type-checked and unchecked through ours and cel-cpp with
fifteen declared variables (``int``, ``uint``, ``double``, two strings with characters beyond
the BMP and a combining accent, ``bytes``, ``timestamp``, a negative ``duration``, lists of
``int``/``uint``/``double``, maps keyed by ``string``/``int``/``uint``, a ``dyn`` list): the
strings extension with Unicode and out-of-range indices, every ``format`` verb over every
kind, the math extension (rounding, ``sqrt``, bit shifts past 63, mixed ``greatest``/``least``),
int and uint overflow in every operator and conversion, the lists and sets extensions over
mixed numbers and nesting, base64 padding variants, optionals (``?.``, ``[?]``, ``or``,
``optMap``, ``optFlatMap``), times at the range edges with fixed, IANA and odd time zones,
``duration`` text, errors under ``&&``, ``||``, ``?:`` and comprehensions, mixed-number map
keys and ``in``, ``dyn`` around every kind, those nested in 29 contexts, expressions drawn by
type from every overload of our declaration table, and a 49 x 49 matrix of values under
``==``, ``!=``, ``in``, ``<``, ``sets.contains``, ``distinct`` and optional equality (the
counts are in docs/decisions.md). Every difference was one kept before, or cel-cpp's (``KEPT``
below). What cel-cpp's binding cannot run (``transformMap``, ``transformMapEntry``: no
``cel.@mapInsert`` at run time, wave 12) was read against cel-go's and cel-cpp's sources, which
found the class below.

``AGREED`` pins, with their types, answers at those edges on which both runtimes agree; every
row also runs through Google's C++ runtime (``cel-expr-python``) when it is installed.

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from differential_table import check_classes
from test_differential_wave11 import _ours
from test_differential_wave12 import CPP_CONFIG
from test_differential_wave16 import c  # cel-cpp, None where it is not installed

from aigw_policy import cel
from aigw_policy.cel.runtime.values import Duration, Timestamp, TypeValue, UInt

CLASSES = {
    "map-entry-merge": "`transformMapEntry`'s body is inserted by `cel.@mapInsert(map, map)`, which inserts every "
                       "entry of the body's map, none for `{}` (cel-go's `@mapInsert_map_map` walks the map; "
                       "cel-cpp's own tests expect `m.transformMapEntry(k, v, {}) == {}`); we refused any map of "
                       "other than one entry. A key already inserted, by this element or an earlier one, is "
                       "still an error",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

# (class, expression, ("value", CEL literal) | ("error", piece of our message)); cel-cpp's binding
# cannot run these (no `cel.@mapInsert`), so they are ours only
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("map-entry-merge", "{'hello': 'world', 'greetings': 'tacocat'}.transformMapEntry(k, v, {}) == {}", ("value", "true")),
    ("map-entry-merge", "{'a': 1}.transformMapEntry(k, v, {k: v, 'b': 2})", ("value", "{'a': 1, 'b': 2}")),
    ("map-entry-merge", "[1, 2].transformMapEntry(i, v, {v: i, -v: i})", ("value", "{1: 0, -1: 0, 2: 1, -2: 1}")),
    ("map-entry-merge", "[1, 2].transformMapEntry(i, v, i == 0 ? {} : {v: i})", ("value", "{2: 1}")),
    ("map-entry-merge", "[1, 2, 3].transformMapEntry(i, v, v != 2, {v: i, string(v): i})",
     ("value", "{1: 0, '1': 0, 3: 2, '3': 2}")),
    ("map-entry-merge", "{'a': 1}.transformMapEntry(k, v, {true: v, 1: k})", ("value", "{true: 1, 1: 'a'}")),
    ("map-entry-merge", "dyn([1]).transformMapEntry(i, v, dyn({}))", ("value", "{}")),
    ("map-entry-merge", "[1, 2].transformMapEntry(i, v, {'k': v, v: i})", ("error", "key 'k' already exists")),
    ("map-entry-merge", "[1, 3].transformMapEntry(i, v, i == 0 ? {v: i, 3u: 0} : {v: i})", ("error", "key 3 already exists")),
    ("map-entry-merge", "[1].transformMapEntry(i, v, dyn([v]))", ("error", "no such overload")),
]
CASE_IDS = [f"{k}:{e}" for k, e, _ in CASES]


def test_every_row_names_a_class() -> None:
    check_classes(CASES, CLASSES)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case(klass: str, expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = _ours(expr, checked)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)

# (expression, ("value", CEL literal) | ("error", piece of our message) | ("check_error", piece))
AGREED: list[tuple[str, tuple[str, str]]] = [
    # strings: code points, not UTF-16 units or bytes; positions 0..size
    ("'a😀b'.replace('', '-')", ("value", "'-a-😀-b-'")),
    ("'a😀b'.split('')", ("value", "['a', '😀', 'b']")),
    ("'a😀b'.indexOf('', 3)", ("value", "3")),
    ("'😀😀'.lastIndexOf('😀', 0)", ("value", "0")),
    ("'😀😀'.lastIndexOf('😀', 2)", ("value", "1")),
    ("'aaa'.lastIndexOf('aa')", ("value", "1")),
    ("'😀'.charAt(1)", ("value", "''")),
    ("'😀'.charAt(2)", ("error", "index out of range")),
    ("'a😀b'.substring(1, 2)", ("value", "'😀'")),
    ("'a😀b'.substring(-1)", ("error", "index out of range")),
    ("'e\\u0301😀'.reverse()", ("value", "'😀\\u0301e'")),
    ("'\\u0085a\\u2028'.trim()", ("value", "'a'")),
    ("'\\x1ca\\x1f'.trim()", ("value", "'\\x1ca\\x1f'")),  # Go's TrimSpace, not Python's strip
    ("'\\u200ba\\ufeff'.trim()", ("value", "'\\u200ba\\ufeff'")),
    ("strings.quote('\\u2028\\x7f')", ("value", "'\"\\u2028\\x7f\"'")),
    # format
    ("'%x'.format(['😀'])", ("value", "'f09f9880'")),
    ("'%b'.format([-3])", ("value", "'-11'")),
    ("'%o'.format([18446744073709551615u])", ("value", "'1777777777777777777777'")),
    ("'%X'.format([-9223372036854775808])", ("value", "'-8000000000000000'")),
    ("'%.3e'.format([-0.0])", ("value", "'-0.000e+00'")),
    ("'%.0f'.format([2.5])", ("value", "'2'")),
    ("'%e'.format([1u])", ("value", "'1.000000e+00'")),
    ("'%s'.format([{2: 1, 10: 2}])", ("value", "'{10: 2, 2: 1}'")),
    ("'%s'.format([[1u, -0.0, true, null, b'a']])", ("value", "'[1, -0, true, null, a]'")),
    # math: the argument's kind is the result's, -0.0 kept
    ("math.sign(-0.0)", ("value", "0.0")),
    ("math.sign(dyn(0u))", ("value", "0u")),
    ("math.ceil(-0.5)", ("value", "-0.0")),
    ("math.round(-0.5)", ("value", "-1.0")),
    ("math.trunc(double('-inf'))", ("value", "double('-inf')")),
    ("math.sqrt(4u)", ("value", "2.0")),
    ("math.isNaN(math.sqrt(-1))", ("value", "true")),
    ("math.abs(-9223372036854775808)", ("error", "overflow")),
    ("math.bitShiftLeft(1u, 64)", ("value", "0u")),
    ("math.bitShiftRight(-1, 70)", ("value", "0")),
    ("math.bitShiftLeft(1, -1)", ("error", "negative offset")),
    ("math.bitNot(0u)", ("value", "18446744073709551615u")),
    ("math.greatest(1u, 1, 1.0)", ("value", "1u")),
    ("math.least(1, 1u)", ("value", "1")),
    ("math.greatest([2u, 1.5, 2])", ("value", "2u")),
    # conversions and overflow
    ("uint(-0.0)", ("value", "0u")),
    ("uint(-0.5)", ("error", "range")),
    ("int(-9.223372036854775808e18)", ("error", "range")),
    ("int(9.223372036854775807e18)", ("error", "range")),
    ("uint(1.8446744073709550e19)", ("value", "18446744073709549568u")),
    ("uint(1.8446744073709552e19)", ("error", "range")),
    ("int('-9223372036854775808')", ("value", "-9223372036854775808")),
    ("uint('18446744073709551616')", ("error", "range")),
    ("double('-0')", ("value", "-0.0")),
    ("-9223372036854775808 / -1", ("error", "overflow")),
    ("-9223372036854775808 % -1", ("error", "overflow")),
    ("18446744073709551615u + 1u", ("error", "overflow")),
    ("0u - 1u", ("error", "overflow")),
    ("dyn(1u) * dyn(2u)", ("value", "2u")),
    ("type(dyn(1u) + 1u)", ("value", "uint")),
    # lists and sets: numbers equal across kinds, the first kept with its kind
    ("[1, 1u, 1.0].distinct()", ("value", "[1]")),
    ("[1u, 1].distinct()", ("value", "[1u]")),
    ("[[1], [1u]].distinct()", ("value", "[[1]]")),
    ("[[1, [2u]], [3]].flatten()", ("value", "[1, [2u], 3]")),
    ("[1, 2, 3].slice(1, 1)", ("value", "[]")),
    ("[1].slice(2, 1)", ("error", "cannot slice(2, 1)")),
    ("sets.equivalent([1, 1u], [1.0])", ("value", "true")),
    ("sets.contains([1u], [1.0])", ("check_error", "`sets.contains` applied to")),
    # optionals
    ("optional.ofNonZeroValue(-0.0).hasValue()", ("value", "false")),
    ("optional.ofNonZeroValue(0u).hasValue()", ("value", "false")),
    ("[?optional.none(), ?optional.of(1u)]", ("value", "[1u]")),
    ("optional.of(1u).optMap(x, x + 1u).value()", ("value", "2u")),
    ("{1u: 'a'}[?dyn(1)].orValue('z')", ("value", "'a'")),
    # time: local mean time before the zones' first transition, year 10000 in a zone, nanoseconds
    ("timestamp('0001-01-01T00:00:00Z').getSeconds('America/New_York')", ("value", "58")),
    ("timestamp('9999-12-31T23:59:59Z').getFullYear('Pacific/Kiritimati')", ("value", "10000")),
    ("timestamp('2024-02-29T12:00:00+14:00').getDayOfMonth('-12:00')", ("value", "27")),
    ("timestamp('2024-03-31T01:00:00Z').getHours('Europe/London')", ("value", "2")),
    ("duration('-1.5s').getMilliseconds()", ("value", "-500")),
    ("duration('-90m').getHours()", ("value", "-1")),
    ("timestamp('9999-12-31T23:59:59.999999999Z') + duration('1ns')", ("error", "out of range")),
    ("timestamp('0001-01-01T00:00:00Z') - duration('1ns')", ("error", "out of range")),
    ("string(timestamp('1970-01-01T00:00:00.000000001Z'))", ("value", "'1970-01-01T00:00:00.000000001Z'")),
    ("string(duration('-0.000000001s'))", ("value", "'-0.000000001s'")),
    # maps, in, errors absorbed
    ("{1: 'a'}[dyn(1.0)]", ("value", "'a'")),
    ("dyn(1.0) in {1u: 0}", ("value", "true")),
    ("has({1: 1}.a)", ("value", "false")),
    ("{true: 1, 1: 2}.size()", ("value", "2")),
    ("dyn({1u: 2u})[1]", ("value", "2u")),
    ("[0, 1].exists(x, 1/x == 1)", ("value", "true")),
    ("[0, 1].all(x, 1/x == 5)", ("value", "false")),
]
IDS = [e[:70] for e, _ in AGREED]


def typed(v: object) -> object:
    """A value with its CEL type kept: 1u apart from 1 and 1.0, -0.0 apart from 0.0,
    timestamps and durations to the nanosecond (ours) or microsecond (cel-cpp's Python)."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, UInt):
        return ("uint", int(v))
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("double", "nan" if math.isnan(v) else repr(v))
    if isinstance(v, list):
        return [typed(x) for x in v]
    if isinstance(v, dict):
        return sorted((repr(typed(k)), repr(typed(x))) for k, x in v.items())
    if isinstance(v, (Timestamp, Duration)):
        return (type(v).__name__, v.ns)
    if isinstance(v, TypeValue):
        return ("type", v.name)
    return v


_CPP_ENV = None


def theirs(expr: str, checked: bool = True) -> tuple[str, object]:
    """cel-cpp's answer with its types (through the binding's typed accessors)."""
    global _CPP_ENV
    if _CPP_ENV is None:
        _CPP_ENV = c.NewEnv(config=c.NewEnvConfigFromYaml(CPP_CONFIG))
    try:
        r = _CPP_ENV.compile(expr, disable_check=not checked).eval(data={})
    except Exception as e:  # noqa: BLE001 - refused by the parser or the checker
        return "check_error", str(e)
    if r.type() == c.Type.ERROR:
        return "error", r.plain_value()
    return "value", _cpp_typed(r)


def _cpp_typed(x: object) -> object:
    kind = str(x.type()).split("<")[0]  # type: ignore[attr-defined]
    v = x.value()  # type: ignore[attr-defined]
    if kind in ("INT", "UINT"):
        return (kind.lower(), v)
    if kind == "DOUBLE":
        return ("double", "nan" if math.isnan(v) else repr(v))
    if kind == "LIST":
        return [_cpp_typed(a) for a in v]
    if kind == "MAP":
        return sorted((repr(typed(k)), repr(_cpp_typed(a))) for k, a in v.items())
    if kind == "TYPE":
        return ("type", str(v).lower())
    if kind in ("TIMESTAMP", "DURATION"):
        return (kind, v)
    return bytes(v) if kind == "BYTES" else v


def _as_cpp(v: object) -> object:
    """Our typed value as cel-cpp's Python hands it over (times to the microsecond)."""
    if isinstance(v, Timestamp):
        return ("TIMESTAMP", dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=v.ns // 1000))
    if isinstance(v, Duration):
        us = abs(v.ns) // 1000  # toward zero, exactly (a float quotient is off past 2^53 ns)
        return ("DURATION", dt.timedelta(microseconds=-us if v.ns < 0 else us))
    if isinstance(v, list):
        return [_as_cpp(x) for x in v]
    return typed(v)


@pytest.mark.parametrize(("expr", "want"), AGREED, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_agreed(expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = _ours(expr, checked)
    if want[0] == "check_error" and not checked:
        assert kind != "check_error", (expr, got)  # unchecked it runs (cel-cpp's answer is compared below)
        return
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize(("expr", "want"), AGREED, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_agreed_with_cel_cpp(expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = theirs(expr, checked)
    mine = _ours(expr, checked)
    assert kind == mine[0], (expr, kind, got, mine)
    if kind == "value":
        assert got == _as_cpp(mine[1]), (expr, got, mine)


# -- differences we keep, each tested to still be one --------------------------------------
# (expression, type-checked?, (our kind, our value or None), (cel-cpp's kind, its value or None), why)
KEPT: list[tuple[str, bool, tuple[str, object], tuple[str, object], str]] = [
    ("'%s'.format([timestamp('0001-01-01T00:00:00Z')])", True, ("value", "0001-01-01T00:00:00Z"),
     ("value", "1-01-01T00:00:00Z"), "`%s` substitutes the timestamp's string, RFC 3339's four-digit year "
     "(`string()` of it is `0001-...` in cel-cpp too); cel-cpp's formatter drops the zeros"),
    ("optional.of({1: 1}) == optional.of({1u: 1.0})", False, ("value", True), ("value", False),
     "`{1: 1} == {1u: 1.0}` in both (the langdef's heterogeneous equality); cel-cpp's optional equality, as its "
     "list membership, sets and distinct (wave 15), takes maps of different key kinds as unequal"),
]


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the differences are not compared")
@pytest.mark.parametrize(("expr", "checked", "mine", "cpp", "why"), KEPT, ids=[k[0][:60] for k in KEPT])
def test_each_kept_difference_is_still_one(expr: str, checked: bool, mine: tuple[str, object],
                                           cpp: tuple[str, object], why: str) -> None:
    got = _ours(expr, checked)
    c_kind, c_got = theirs(expr, checked)
    assert got[0] == mine[0] and (mine[1] is None or got[1] == mine[1]), (expr, got)
    assert c_kind == cpp[0] and (cpp[1] is None or c_got == cpp[1]), (expr, c_kind, c_got)
