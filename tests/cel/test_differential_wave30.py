"""Wave 30: base64's padding characters and the types of well-known literals, against cel-cpp.

Found by throwaway fuzzers against Google's C++ runtime (``cel-expr-python``; counts in
docs/decisions.md, "Session 30, cel30"). Each row of ``CASES`` runs type-checked and unchecked
through ours and, where ``cel-expr-python`` is installed, through cel-cpp: both give the row's
answer. Two properties draw the families the rows come from:

* ``test_base64_text_decodes_as_cel_cpp``: any text over base64's alphabet, both padding
  characters, white space and characters of no alphabet decodes to cel-cpp's bytes or fails
  where it fails; ``test_padding_of_either_character_decodes``, its oracle without cel-cpp: the
  encoding of any bytes, its padding written with ``=`` or ``.`` and white space put anywhere,
  decodes to those bytes.
* ``test_an_any_literal_in_any_context_is_cel_cpps_answer``: an ``Any`` literal packing any
  well-known kind, in a context drawn from those a value meets (a comprehension's range
  directly, through ``cel.bind``, an index, an optional, a select; as a value of an operator),
  has cel-cpp's outcome and value, checked and unchecked.
* ``test_a_wrapper_literal_in_any_context_is_cel_cpps_answer``: the same for a wrapper literal of
  each kind in 60 contexts (operators with every kind of operand, `null`, conversions, macros,
  lists and maps holding it, another wrapper).

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from differential_table import check_classes
from shared_data import in_ci
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave26 import mine, ours, theirs

from aigw_policy import cel

CLASSES = {
    "base64-pad": "`base64.decode` takes `.` as a padding character as it takes `=` (cel-cpp reads base64 with "
                  "absl's `Base64Unescape`, whose padding is either): `base64.decode('aGVsbA..')` is "
                  "`b'hell'`; it was an error. The count of padding characters is still checked "
                  "(`'aGVsbA.'` is an error) and `.` elsewhere is no base64",
    "any-range": "an `Any` literal is typed `google.protobuf.Any` (cel-cpp, cel-go): a `dyn` wherever a value is "
                 "wanted, but no comprehension range, so `Any{...ListValue...}.all(x, x)` is a check error "
                 "(AIGW302); it was typed `dyn` and checked. Through `dyn()` it ranges; unchecked it runs",
    "wrapper-type": "a wrapper literal (`google.protobuf.Int64Value{value: 1}`) is typed `wrapper(int)` (cel-cpp, "
                    "cel-go): its primitive, or `null`, and nothing else, so `Int64Value{value: 1} == 'a'`, "
                    "`UInt64Value{value: 1u} == 1`, `BoolValue{} + 1` and `Int64Value{} || true` are check errors "
                    "(AIGW302); they were typed `dyn` and checked (then `false`, `true`, an evaluation error, "
                    "`true`). `== null`, `+ 1`, `in [1]` and `[w, null]` still check",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

_URL = "type.googleapis.com/google.protobuf."
_LIST = f"google.protobuf.Any{{type_url: '{_URL}ListValue', value: b'\\x0a\\x02\\x20\\x01'}}"  # [true]
_INT = f"google.protobuf.Any{{type_url: '{_URL}Int64Value', value: b'\\x08\\x07'}}"  # 7

Want = tuple[str, str]
CASES: list[tuple[str, str, Want, bool]] = [  # (class, expression, want, checked)
    ("base64-pad", "base64.decode('aGVsbG8.')", ("value", "b'hello'"), True),
    ("base64-pad", "base64.decode('aGVsbA..')", ("value", "b'hell'"), True),
    ("base64-pad", "base64.decode('aGVsbA=.')", ("value", "b'hell'"), True),
    ("base64-pad", "base64.decode('aGVsbA.=')", ("value", "b'hell'"), True),
    ("base64-pad", "base64.decode('YQ. \\n.')", ("value", "b'a'"), True),
    ("base64-pad", "base64.decode('YWI.')", ("value", "b'ab'"), True),
    ("base64-pad", "base64.decode('aGVsbA.')", ("error", "base64 decode error"), True),
    ("base64-pad", "base64.decode('aGVsbG8..')", ("error", "base64 decode error"), True),
    ("base64-pad", "base64.decode('YQ..YQ..')", ("error", "base64 decode error"), True),
    ("base64-pad", "base64.decode('Y.Q=')", ("error", "base64 decode error"), True),
    ("base64-pad", "base64.decode('YWJj.')", ("error", "base64 decode error"), True),
    ("base64-pad", "base64.decode('.')", ("error", "base64 decode error"), True),
    ("any-range", f"{_LIST}.all(x, x)", ("check_error", "cannot be the range"), True),
    ("any-range", f"{_LIST}.all(x, x)", ("value", "true"), False),
    ("any-range", f"cel.bind(a, {_LIST}, a.exists(x, x))", ("check_error", "cannot be the range"), True),
    ("any-range", f"optional.of({_LIST}).value().map(x, !x)", ("check_error", "cannot be the range"), True),
    ("any-range", f"{_INT}.exists(x, x)", ("check_error", "`google.protobuf.Any` cannot be the range"), True),
    ("any-range", f"{_INT}.exists(x, x)", ("error", "cannot be the range"), False),
    ("any-range", f"dyn({_LIST}).all(x, x)", ("value", "true"), True),
    ("any-range", f"{_LIST}.size() + {_INT}", ("value", "8"), True),
    ("any-range", f"{_LIST}[0] && true in {_LIST}", ("value", "true"), True),
    ("wrapper-type", "google.protobuf.Int64Value{value: 1} == 'a'", ("check_error", "no matching overload"), True),
    ("wrapper-type", "google.protobuf.Int64Value{value: 1} == 'a'", ("value", "false"), False),
    ("wrapper-type", "google.protobuf.UInt64Value{value: 1u} == 1", ("check_error", "no matching overload"), True),
    ("wrapper-type", "google.protobuf.UInt64Value{value: 1u} == 1", ("value", "true"), False),
    ("wrapper-type", "google.protobuf.Int64Value{} || true", ("check_error", "no matching overload"), True),
    ("wrapper-type", "google.protobuf.BoolValue{} + 1", ("check_error", "no matching overload"), True),
    ("wrapper-type", "google.protobuf.StringValue{value: 'a'}.all(x, true)", ("check_error", "cannot be the range"), True),
    ("wrapper-type", "google.protobuf.DoubleValue{value: 1.5} < 2", ("check_error", "no matching overload"), True),
    ("wrapper-type", "google.protobuf.BytesValue{value: b'a'}.a", ("check_error", "field selection"), True),
    ("wrapper-type", "google.protobuf.Int32Value{value: 1} + 1", ("value", "2"), True),
    ("wrapper-type", "google.protobuf.BoolValue{} != null && null != google.protobuf.BoolValue{}", ("value", "true"), True),
    ("wrapper-type", "[google.protobuf.UInt32Value{value: 2u}, null][0] + 1u", ("value", "3u"), True),
    ("wrapper-type", "(true ? google.protobuf.FloatValue{value: 0.5} : null) * 2.0", ("value", "1.0"), True),
    ("wrapper-type", "google.protobuf.StringValue{value: 'a'} in ['a'] && google.protobuf.Int64Value{} == "
                     "google.protobuf.Int32Value{}", ("value", "true"), True),
    ("wrapper-type", "dyn(google.protobuf.Int64Value{value: 1}) == 'a'", ("value", "false"), True),
]
IDS = [f"{k}:{e[:60]}:{'checked' if ch else 'unchecked'}" for k, e, _, ch in CASES]


def test_every_row_names_a_class() -> None:
    check_classes([(k, e, w) for k, e, w, _ in CASES], CLASSES)


def _check(got: tuple[str, object], want: Want, expr: str) -> None:
    assert got[0] == want[0], (expr, got)
    if want[0] == "value":
        assert got[1] == mine(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got[1]), (expr, got)


@pytest.mark.parametrize(("klass", "expr", "want", "checked"), CASES, ids=IDS)
def test_case(klass: str, expr: str, want: Want, checked: bool) -> None:
    _check(ours(expr, {}, {}, checked), want, expr)


@pytest.fixture(scope="module")
def cpp() -> None:
    if c is None:
        message = "cel-expr-python (cel-cpp) is not installed: wave 30's rows and draws are not compared"
        if in_ci():
            pytest.fail(message + " (CI=true: it must run)")
        pytest.skip(message)


@pytest.mark.parametrize(("klass", "expr", "want", "checked"), CASES, ids=IDS)
def test_case_is_cel_cpps_answer(cpp: None, klass: str, expr: str, want: Want, checked: bool) -> None:
    got = theirs(expr, {}, {}, checked)
    assert got[0] == want[0], (expr, got)
    if want[0] == "value":
        assert got[1] == mine(cel.compile(want[1])({})), (expr, got, want[1])


# base64 text -------------------------------------------------------------------------------
_B64_CHARS = "AQgwYZaz09+/" + "==.." + " \t\n\r\v\f" + "-_!é"


def _literal(text: str) -> str:
    return "'" + "".join(ch if ch.isalnum() and ch.isascii() else f"\\u{ord(ch):04x}" for ch in text) + "'"


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=st.text(st.sampled_from(_B64_CHARS), max_size=12))
def test_base64_text_decodes_as_cel_cpp(cpp: None, text: str) -> None:
    expr = f"base64.decode({_literal(text)})"
    got, want = ours(expr, {}, {}, True), theirs(expr, {}, {}, True)
    assert got[0] == want[0] and (got[0] != "value" or got[1] == want[1]), (text, got, want)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=10), pads=st.lists(st.sampled_from("=."), min_size=2, max_size=2),
       spaces=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(" \t\n\r\v\f")), max_size=3))
def test_padding_of_either_character_decodes(data: bytes, pads: list[str], spaces: list[tuple[int, str]]) -> None:
    text = base64.b64encode(data).decode("ascii")
    body = text.rstrip("=")
    text = body + "".join(pads[: len(text) - len(body)])
    for at, space in spaces:
        text = text[:at] + space + text[at:]
    assert cel.compile(f"base64.decode({_literal(text)})")({}) == data, text


# Any literals in context -------------------------------------------------------------------
_PACKED = {  # a well-known kind, its bytes, packed
    "list": ("ListValue", "\\x0a\\x02\\x20\\x01\\x0a\\x09\\x11\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x40"),  # [true, 2.0]
    "empty list": ("ListValue", ""),
    "struct": ("Struct", "\\x0a\\x0a\\x0a\\x01a\\x12\\x05\\x1a\\x03abc"),  # {'a': 'abc'}
    "int": ("Int64Value", "\\x08\\x07"),
    "string": ("StringValue", "\\x0a\\x02hi"),
    "bool value": ("Value", "\\x20\\x01"),
    "bytes": ("BytesValue", "\\x0a\\x01z"),
}
_CONTEXTS = [
    "{a}.all(x, true)", "{a}.exists(x, false)", "{a}.exists_one(x, true)", "{a}.map(x, 1)", "{a}.filter(x, true)",
    "{a}.all(i, v, true)", "{a}.transformList(i, v, 1)", "{a}.sortBy(x, 1)",
    "cel.bind(b, {a}, b.exists(x, true))", "[{a}][0].all(x, true)", "{{'k': {a}}}.k.map(x, 1)",
    "optional.of({a}).value().filter(x, true)", "optional.of({a}).optMap(o, o.all(x, true))",
    "dyn({a}).all(x, true)", "[{a}].map(b, b)", "size({a})", "{a} == {a}", "{a} == dyn({a})", "type({a})",
    "string({a})", "{a} + 1", "1 in {a}", "{a}[0]", "{a}.a", "has({a}.a)", "{a}.?a.orValue(0)", "{a} ? 1 : 2",
    "[{a}, 1][0]", "cel.bind(b, {a}, b)", "{a}.size()",
]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(sorted(_PACKED)), context=st.sampled_from(_CONTEXTS), checked=st.booleans())
def test_an_any_literal_in_any_context_is_cel_cpps_answer(cpp: None, kind: str, context: str, checked: bool) -> None:
    name, packed = _PACKED[kind]
    expr = context.format(a=f"google.protobuf.Any{{type_url: '{_URL}{name}', value: b'{packed}'}}")
    got, want = ours(expr, {}, {}, checked), theirs(expr, {}, {}, checked)
    assert got[0] == want[0], (expr, checked, got, want)
    assert got[0] != "value" or got[1] == want[1] or "opaque" in repr(want[1]), (expr, checked, got, want)


_WRAPPERS = ["Int64Value{value: -1}", "Int32Value{}", "UInt64Value{value: 1u}", "UInt32Value{value: 7u}",
             "DoubleValue{value: 1.5}", "FloatValue{value: -0.5}", "BoolValue{value: true}", "StringValue{value: 'a'}",
             "BytesValue{value: b'a'}"]
_W = "{w}"
_OPERANDS = ["1", "1u", "1.5", "'a'", "b'a'", "true", "null", "[1]", "{'a': 1}", "dyn(1)", "timestamp(0)"]
_WRAPPER_CONTEXTS = [
    *(f"{_W} {op} {x}" for op in ("==", "+", "<") for x in _OPERANDS), "{w} != null", "null == {w}", "-{w}", "!{w}",
    "{w} || true", "{w} ? 1 : 2", "{w} in [1]", "{w} in ['a']", "{w} in {1: 2}", "size({w})", "{w}.size()",
    "{w}[0]", "{w}.a", "has({w}.a)", "{w}.all(x, true)", "int({w})", "uint({w})", "double({w})", "string({w})",
    "bytes({w})", "bool({w})", "type({w})", "math.abs({w})", "{w}.startsWith('a')", "[{w}, null][0]",
    "[{w}, 1][0] + 1", "{'k': {w}}.k == null", "cel.bind(x, {w}, x == null)", "optional.of({w}).value() + 1",
    "true ? {w} : null", "{w} == google.protobuf.Int64Value{}", "{w} == google.protobuf.StringValue{}",
    "dyn({w}) + 1", "[{w}].exists(x, x == null)",
]


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(wrapper=st.sampled_from(_WRAPPERS), context=st.sampled_from(_WRAPPER_CONTEXTS), checked=st.booleans())
def test_a_wrapper_literal_in_any_context_is_cel_cpps_answer(cpp: None, wrapper: str, context: str,
                                                             checked: bool) -> None:
    if not checked and wrapper.startswith("BoolValue") and context.split("(")[0] in ("int", "uint", "double"):
        return  # `int(bool)` has no overload (the langdef); cel-cpp's runtime converts (kept, wave 20)
    expr = context.replace("{w}", f"google.protobuf.{wrapper}")
    got, want = ours(expr, {}, {}, checked), theirs(expr, {}, {}, checked)
    assert got[0] == want[0], (expr, checked, got, want)
    assert got[0] != "value" or got[1] == want[1], (expr, checked, got, want)
