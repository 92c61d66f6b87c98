"""Wave 22: the text of a time value, decided against the langdef.

``string(timestamp)`` and ``string(duration)`` trimmed the fraction's zeros (cel-go's
``RFC3339Nano`` and ``FormatFloat``: ``.5Z``, ``1.5s``), where cel-cpp and cel-java write
protobuf's canonical text (``.500Z``, ``1.500s``). The conformance suite pins neither (its
fractions are none or nine digits); the langdef types the values as
``google.protobuf.Timestamp`` and ``google.protobuf.Duration`` and names their text "RFC3339"
and "seconds and fractional seconds with an 's' suffix", which is how protobuf defines the
text of those types ("0, 3, 6 or 9 fractional digits"). So ``string()`` is now protobuf's
text. ``%s`` stays what ``doc/strings.md`` says (a timestamp in RFC 3339, which cel-cpp
trims too; a duration "as if converted to double", cel-go's float seconds), and a ``${...}``
of a policy keeps cel-go's text, which is what ngrok writes (``KEPT`` and the template tests).

Found by a throwaway fuzzer against Google's C++ runtime (``cel-expr-python``; counts in
docs/decisions.md). Each row of ``CASES`` runs type-checked and unchecked through ours and,
where ``cel-expr-python`` is installed, through cel-cpp: both must give the row's answer.
``KEPT`` rows are ours only, each with what cel-cpp answers instead, so a row whose
difference went away fails and is moved to ``CASES``.

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import pytest

from differential_table import check_classes
from test_differential_wave11 import _ours
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave19 import _as_cpp, theirs, typed

from aigw_policy import cel

CLASSES = {
    "time-string": "`string()` of a timestamp or duration writes protobuf's canonical fraction, none or 3, 6 "
                   "or 9 digits (`.500Z`, `1.500s`, `60.001s`), as cel-cpp and cel-java; we trimmed its zeros "
                   "(cel-go). The langdef's types are protobuf's `Timestamp` and `Duration`, whose text that is",
    "format-time": "`%s` of a timestamp is RFC 3339 with the fraction's zeros trimmed (cel-cpp's `%s` and "
                   "cel-go agree); of a duration, its seconds as a double, shortest (`doc/strings.md`: \"as if "
                   "the value was converted to double\"; cel-go), where cel-cpp writes its `string()`",
    "duration-range": "durations span int64 nanoseconds (the langdef: \"limited to a single int64 value\"); "
                      "cel-cpp's span protobuf's +-10,000 years and refuses -2^63 ns",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

Want = tuple[str, str]
TS = "timestamp('2020-01-01T00:00:00{}Z')"
CASES: list[tuple[str, str, Want]] = [
    ("time-string", f"string({TS.format('.5')})", ("value", "'2020-01-01T00:00:00.500Z'")),
    ("time-string", f"string({TS.format('.12')})", ("value", "'2020-01-01T00:00:00.120Z'")),
    ("time-string", f"string({TS.format('.001')})", ("value", "'2020-01-01T00:00:00.001Z'")),
    ("time-string", f"string({TS.format('.1234')})", ("value", "'2020-01-01T00:00:00.123400Z'")),
    ("time-string", f"string({TS.format('.000001')})", ("value", "'2020-01-01T00:00:00.000001Z'")),
    ("time-string", f"string({TS.format('.1234567')})", ("value", "'2020-01-01T00:00:00.123456700Z'")),
    ("time-string", f"string({TS.format('.000000001')})", ("value", "'2020-01-01T00:00:00.000000001Z'")),
    ("time-string", f"string({TS.format('.000000000')})", ("value", "'2020-01-01T00:00:00Z'")),
    ("time-string", f"string({TS.format('')})", ("value", "'2020-01-01T00:00:00Z'")),
    ("time-string", f"string(dyn({TS.format('.5')}))", ("value", "'2020-01-01T00:00:00.500Z'")),
    ("time-string", "string(timestamp('2009-02-13T23:31:30.5+01:00'))", ("value", "'2009-02-13T22:31:30.500Z'")),
    ("time-string", "string(timestamp('1969-12-31T23:59:59.9Z'))", ("value", "'1969-12-31T23:59:59.900Z'")),
    ("time-string", "string(timestamp('0001-01-01T00:00:00.01Z'))", ("value", "'0001-01-01T00:00:00.010Z'")),
    ("time-string", "string(timestamp('9999-12-31T23:59:59.99999Z'))", ("value", "'9999-12-31T23:59:59.999990Z'")),
    ("time-string", "string(timestamp(0) + duration('1.5s'))", ("value", "'1970-01-01T00:00:01.500Z'")),
    ("time-string", f"timestamp(string({TS.format('.5')})) == {TS.format('.5')}", ("value", "true")),
    ("time-string", f"[{TS.format('.5')}].map(t, string(t))", ("value", "['2020-01-01T00:00:00.500Z']")),
    ("time-string", "string(duration('1.5s'))", ("value", "'1.500s'")),
    ("time-string", "string(duration('-1.5s'))", ("value", "'-1.500s'")),
    ("time-string", "string(duration('-0.5s'))", ("value", "'-0.500s'")),
    ("time-string", "string(duration('0.25s'))", ("value", "'0.250s'")),
    ("time-string", "string(duration('1m1ms'))", ("value", "'60.001s'")),
    ("time-string", "string(duration('1.000001s'))", ("value", "'1.000001s'")),
    ("time-string", "string(duration('1.0000001s'))", ("value", "'1.000000100s'")),
    ("time-string", "string(duration('-1ns'))", ("value", "'-0.000000001s'")),
    ("time-string", "string(duration('1h'))", ("value", "'3600s'")),
    ("time-string", "string(duration('0'))", ("value", "'0s'")),
    ("time-string", "string(duration('9223372036854775807ns'))", ("value", "'9223372036.854775807s'")),
    ("time-string", "string(dyn(duration('1h1us')))", ("value", "'3600.000001s'")),
    ("time-string", "duration(string(duration('1.5s'))) == duration('1.5s')", ("value", "true")),
    ("time-string", "string(timestamp('2020-01-01T00:00:01Z') - timestamp('2020-01-01T00:00:00.75Z'))",
     ("value", "'0.250s'")),
    ("format-time", f"'%s'.format([{TS.format('.5')}])", ("value", "'2020-01-01T00:00:00.5Z'")),
    ("format-time", f"'%s'.format([{TS.format('.1234567')}])", ("value", "'2020-01-01T00:00:00.1234567Z'")),
    ("format-time", f"'%s'.format([[{TS.format('.12')}]])", ("value", "'[2020-01-01T00:00:00.12Z]'")),
    ("format-time", f"'%s'.format([{{'t': {TS.format('.120')}}}])", ("value", "'{t: 2020-01-01T00:00:00.12Z}'")),
    ("format-time", "'%s'.format([duration('1s')])", ("value", "'1s'")),
    ("format-time", "'%s'.format([duration('-0.000000001s')])", ("value", "'-0.000000001s'")),
    ("format-time", "'%s'.format([duration('1.000001s')])", ("value", "'1.000001s'")),
]
KEPT: list[tuple[str, str, Want, Want]] = [  # (class, expr, ours, cel-cpp's)
    ("format-time", "'%s'.format([duration('1.5s')])", ("value", "'1.5s'"), ("value", "'1.500s'")),
    ("format-time", "'%s'.format([[duration('-0.25s')]])", ("value", "'[-0.25s]'"), ("value", "'[-0.250s]'")),
    ("format-time", "'%s'.format([duration('9223372036854775807ns')])", ("value", "'9223372036.854776s'"),
     ("value", "'9223372036.854775807s'")),
    ("format-time", "'%s'.format([duration('-2562047h') - duration('1ns')])", ("value", "'-9223369200s'"),
     ("value", "'-9223369200.000000001s'")),
    ("duration-range", "string(duration('-9223372036854775808ns'))", ("value", "'-9223372036.854775808s'"),
     ("error", "Duration conversion failed")),
    ("duration-range", "string(duration('315576000000s'))", ("error", "duration out of range"),
     ("value", "'315576000000s'")),
]
IDS = [f"{k}:{e}" for k, e, _ in CASES]
KEPT_IDS = [f"{k}:{e}" for k, e, _, _ in KEPT]


def _check(kind: str, got: object, want: Want, expr: str) -> None:
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


def test_every_row_names_a_class() -> None:
    check_classes([(k, e, w) for k, e, w in CASES], CLASSES)
    check_classes([(k, e, w) for k, e, w, _ in KEPT], CLASSES)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case(klass: str, expr: str, want: Want, checked: bool) -> None:
    cel.clear_cache()
    _check(*_ours(expr, checked), want, expr)


@pytest.mark.parametrize(("klass", "expr", "want", "cpp"), KEPT, ids=KEPT_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_kept(klass: str, expr: str, want: Want, cpp: Want, checked: bool) -> None:
    cel.clear_cache()
    _check(*_ours(expr, checked), want, expr)


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_agreed_with_cel_cpp(klass: str, expr: str, want: Want, checked: bool) -> None:
    kind, got = theirs(expr, checked)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert got == _as_cpp(cel.compile(want[1])({})), (expr, got, want[1])


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize(("klass", "expr", "want", "cpp"), KEPT, ids=KEPT_IDS)
def test_kept_still_differs_from_cel_cpp(klass: str, expr: str, want: Want, cpp: Want) -> None:
    kind, got = theirs(expr, True)
    assert kind == cpp[0], (expr, kind, got)
    if kind == "value":
        assert got == _as_cpp(cel.compile(cpp[1])({})), (expr, got, cpp[1])
    else:
        assert cpp[1] in str(got), (expr, got)


TIME_TEXT = [  # a value, its `string()`, and what ngrok's `${...}` (cel-go) writes
    ("timestamp('2020-01-01T00:00:00.5Z')", "2020-01-01T00:00:00.500Z", "2020-01-01T00:00:00.5Z"),
    ("timestamp('0001-01-01T00:00:00.12Z')", "0001-01-01T00:00:00.120Z", "0001-01-01T00:00:00.12Z"),
    ("timestamp('2020-01-01T00:00:00Z')", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z"),
    ("duration('1.5s')", "1.500s", "1.5s"),
    ("duration('-0.000000001s')", "-0.000000001s", "-0.000000001s"),
    ("duration('90m')", "5400s", "5400s"),
    ("duration('9223372036854775807ns')", "9223372036.854775807s", "9223372036.854776s"),
]


@pytest.mark.parametrize(("expr", "text", "go"), TIME_TEXT)
def test_a_policy_renders_time_as_ngrok_does(expr: str, text: str, go: str) -> None:
    """``${...}`` in a rule's config, a trace's value and ngrok's ``json.encode`` write cel-go's
    text (ngrok's runtime), whatever ``string()`` gives inside an expression."""
    from aigw_policy.engine.templates import text_of
    from aigw_policy.engine.trace import jsonable
    from aigw_policy.env import compile_condition

    value = cel.compile(expr)({})
    assert cel.compile(f"string({expr})")({}) == text
    assert text_of(value) == go
    assert jsonable([value]) == [go]
    encode = compile_condition(f"json.encode([{expr}]) == '[\"{go}\"]'")
    assert encode({}) is True
