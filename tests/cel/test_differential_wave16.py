"""Wave 16: a host value given for a declared variable, taken by the declared type, against cel-cpp.

Found by a matrix of declared kinds (`int`, `uint`, `double`, `string`, `bool`, `bytes`,
`timestamp`, `duration`, `list(int)`, `map(string, int)`, `dyn`) by Python values (`True`, `1`,
`1.5`, `2.0`, `'s'`, `b'b'`, `None`, `[1]`, `{'a': 1}`, a `datetime`, a `timedelta`, `2**63`)
by expressions that show the value (`string(x)`, `x == x`, `type(x) == type(1)`...), through
``cel.compile(expr, {'x': kind})`` and cel-cpp's ``NewEnv(variables={'x': ...})``. Each row is
a declared kind, a Python value, an expression and what it must give; every row also runs
through Google's C++ runtime (``cel-expr-python``), which converts or refuses the value by the
declaration in its binding.

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import datetime as dt

import pytest

from differential_table import check_classes
from test_differential_more import norm

from aigw_policy import cel

try:
    import cel_expr_python.cel as c
except ImportError:  # the rows still run through ours
    c = None

CLASSES = {
    "host-number": "a variable declared `int`, `uint` or `double` took any Python value as it was: `x + 1` was 2.5 "
                   "for `x = 1.5` under `int`, `x == x` true for a str, `type(x)` the str's; a value of the "
                   "declared kind is read as it is, a Python `bool` (an `int` in Python) is 1 (1.0 under "
                   "`double`), an `int` is a `double` under `double`, and anything else (a float under `int`, "
                   "integral or not; a str, bytes, None, a list, a map) is an evaluation error (cel-cpp's binding)",
    "host-text": "a variable declared `string`, `bool` or `bytes` took any Python value as it was (`type(x) == "
                 "type('')` false for an int under `string`); now anything else is an error, and bytes under "
                 "`string` are their UTF-8 text (cel-cpp takes them as the string); not in the policy "
                 "environment, whose activation the engine types when a request enters",
    "host-time": "a variable declared `timestamp` or `duration` took a value of another kind as it was (an int, "
                 "a str that is no RFC 3339 text: `x == x` true); now an error (cel-cpp)",
    "host-container": "a variable declared a list or a map of numbers, times or `dyn` (read through host.py) "
                      "took a scalar as it was (`x == x` true for 1 under `list(int)`), and a float or a str "
                      "element of a `list(int)` or `map(string, int)`; now an error",
    "host-dyn-time": "a variable declared `dyn` holding a Python `datetime` or `timedelta` took it as it was "
                     "(`x == x` true, `x < timestamp(0)` no overload); it is no CEL value and is an error (cel-cpp), "
                     "as in a map with int keys and `dyn` values; declared `timestamp` or `duration` it is converted",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

_T = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
_D = dt.timedelta(seconds=1)

# (class, declared kind, Python value, expression, ("value", CEL literal) | ("error", piece of our message))
CASES: list[tuple[str, str, object, str, tuple[str, str]]] = [
    ("host-number", "int", True, "string(x)", ("value", "'1'")),
    ("host-number", "int", True, "type(x) == type(1)", ("value", "true")),
    ("host-number", "int", False, "string(x)", ("value", "'0'")),
    ("host-number", "int", 1.5, "x + 1", ("error", "a Python float is no int")),
    ("host-number", "int", 2.0, "x == x", ("error", "declared int")),
    ("host-number", "int", "s", "x == x", ("error", "a Python str is no int")),
    ("host-number", "int", b"b", "string(x)", ("error", "a Python bytes is no int")),
    ("host-number", "int", None, "x == x", ("error", "a Python NoneType is no int")),
    ("host-number", "int", [1], "x == x", ("error", "a Python list is no int")),
    ("host-number", "int", {"a": 1}, "x == x", ("error", "a Python dict is no int")),
    ("host-number", "int", _T, "x == x", ("error", "a Python datetime is no int")),
    ("host-number", "int", _D, "x == x", ("error", "a Python timedelta is no int")),
    ("host-number", "uint", True, "string(x)", ("value", "'1'")),
    ("host-number", "uint", True, "x + 1u", ("value", "2u")),
    ("host-number", "uint", 1.5, "x == x", ("error", "a Python float is no uint")),
    ("host-number", "uint", 2.0, "x == x", ("error", "a Python float is no uint")),
    ("host-number", "uint", "s", "x == x", ("error", "a Python str is no uint")),
    ("host-number", "uint", None, "x == x", ("error", "no uint")),
    ("host-number", "uint", [1], "x == x", ("error", "no uint")),
    ("host-number", "double", True, "string(x)", ("value", "'1'")),
    ("host-number", "double", True, "type(x) == type(1.0)", ("value", "true")),
    ("host-number", "double", "s", "x == x", ("error", "a Python str is no double")),
    ("host-number", "double", b"b", "x == x", ("error", "a Python bytes is no double")),
    ("host-number", "double", None, "x == x", ("error", "no double")),
    ("host-number", "double", {"a": 1}, "x == x", ("error", "no double")),
    ("host-number", "double", _D, "x == x", ("error", "no double")),
    ("host-text", "string", 1, "x == x", ("error", "a Python int is no string")),
    ("host-text", "string", True, "string(x)", ("error", "a Python bool is no string")),
    ("host-text", "string", 1.5, "x == x", ("error", "no string")),
    ("host-text", "string", None, "x == x", ("error", "no string")),
    ("host-text", "string", [1], "x == x", ("error", "no string")),
    ("host-text", "string", _T, "x == x", ("error", "no string")),
    ("host-text", "string", 2**63, "x == x", ("error", "no string")),
    ("host-text", "string", b"b", "type(x) == type('')", ("value", "true")),
    ("host-text", "string", b"b", "x + 'c'", ("value", "'bc'")),
    ("host-text", "bool", 1, "x == x", ("error", "a Python int is no bool")),
    ("host-text", "bool", 1, "string(x)", ("error", "no bool")),
    ("host-text", "bool", "s", "x == x", ("error", "no bool")),
    ("host-text", "bool", None, "x == x", ("error", "no bool")),
    ("host-text", "bool", 1, "x || true", ("value", "true")),
    ("host-text", "bytes", "s", "x == x", ("error", "a Python str is no bytes")),
    ("host-text", "bytes", True, "x == x", ("error", "no bytes")),
    ("host-text", "bytes", 1, "string(x)", ("error", "no bytes")),
    ("host-text", "bytes", [1], "x == x", ("error", "no bytes")),
    ("host-time", "timestamp", 1, "x == x", ("error", "a Python int is no timestamp")),
    ("host-time", "timestamp", True, "x == x", ("error", "no timestamp")),
    ("host-time", "timestamp", "s", "x == x", ("error", "no timestamp")),
    ("host-time", "timestamp", None, "x == x", ("error", "no timestamp")),
    ("host-time", "timestamp", _D, "x == x", ("error", "no timestamp")),
    ("host-time", "duration", 1, "x == x", ("error", "a Python int is no duration")),
    ("host-time", "duration", "s", "string(x)", ("error", "no duration")),
    ("host-time", "duration", _T, "x == x", ("error", "no duration")),
    ("host-container", "list(int)", 1, "x == x", ("error", "a Python int is no list")),
    ("host-container", "list(int)", "s", "x == x", ("error", "no list")),
    ("host-container", "list(int)", {"a": 1}, "x == x", ("error", "no list")),
    ("host-container", "list(int)", [1.5], "x == x", ("error", "a Python float is no int")),
    ("host-container", "list(int)", ["s"], "size(x)", ("error", "a Python str is no int")),
    ("host-container", "list(int)", [True], "string(x[0])", ("value", "'1'")),
    ("host-container", "map(string, int)", [1], "x == x", ("error", "a Python list is no map")),
    ("host-container", "map(string, int)", None, "x == x", ("error", "no map")),
    ("host-container", "map(string, int)", {"a": "s"}, "x == x", ("error", "a Python str is no int")),
    ("host-container", "map(string, int)", {"a": 1.5}, "size(x)", ("error", "no int")),
    ("host-dyn-time", "dyn", _T, "x == x", ("error", "a Python datetime is no CEL value (declare the variable timestamp)")),
    ("host-dyn-time", "dyn", _D, "type(x) == type(1)", ("error", "a Python timedelta is no CEL value")),
    ("host-dyn-time", "dyn", _T, "string(x)", ("error", "no CEL value")),
    ("host-dyn-time", "map(int, dyn)", {1: _D}, "x == x", ("error", "no CEL value")),
]
IDS = [f"{k}:{d}:{v!r}:{e}" for k, d, v, e, _ in CASES]


def ours(declared: str, value: object, expr: str) -> tuple[str, object]:
    prog = cel.compile(expr, {"x": declared})
    try:
        return "value", prog({"x": value})
    except cel.CelError as e:
        return "error", str(e)


def _cpp_type(declared: str):  # type: ignore[no-untyped-def]
    t = c.Type
    if declared.startswith("list("):
        return t.List(_cpp_type(declared[5:-1]))
    if declared.startswith("map("):
        k, v = declared[4:-1].split(", ")
        return t.Map(_cpp_type(k), _cpp_type(v))
    return getattr(t, declared.upper())


def theirs(declared: str, value: object, expr: str) -> tuple[str, object]:
    r = c.NewEnv(variables={"x": _cpp_type(declared)}).compile(expr).eval(data={"x": value})
    return ("error" if r.type() == c.Type.ERROR else "value"), r.plain_value()


def test_every_row_names_a_class() -> None:
    check_classes([(k, e, w) for k, _, _, e, w in CASES], CLASSES)


@pytest.mark.parametrize(("klass", "declared", "value", "expr", "want"), CASES, ids=IDS)
def test_case(klass: str, declared: str, value: object, expr: str, want: tuple[str, str]) -> None:
    kind, got = ours(declared, value, expr)
    assert kind == want[0], (declared, value, expr, got)
    if kind == "value":
        assert norm(got) == norm(cel.compile(want[1])({})), (declared, value, expr, got)
    else:
        assert want[1] in got, (declared, value, expr, got)  # type: ignore[operator]


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize(("klass", "declared", "value", "expr", "want"), CASES, ids=IDS)
def test_table_agrees_with_cel_cpp(klass: str, declared: str, value: object, expr: str, want: tuple[str, str]) -> None:
    kind, got = theirs(declared, value, expr)
    assert kind == want[0], (declared, value, expr, got)
    if kind == "value":
        assert norm(got) == norm(cel.compile(want[1])({})), (declared, value, expr, got)


def test_the_policy_environment_reads_text_kinds_as_they_are() -> None:
    """The engine's activation is typed when a request enters: a `string` variable is read with
    no check there (the cost of every condition), and an `int` one still is."""
    from aigw_policy.env import compile_condition

    assert compile_condition("string(req.method)").function({"req.method": 1}) == "1"
    with pytest.raises(cel.CelError, match="no int"):
        compile_condition("conn.client_port == conn.client_port").function({"conn.client_port": "s"})


# -- differences we keep, each tested to still be one --------------------------------------
# (declared, value, expression, our kind, cel-cpp's kind, why)
KEPT: list[tuple[str, object, str, str, str, str]] = [
    ("timestamp", "2020-01-01T00:00:00Z", "x.getFullYear()", "value", "error",
     "RFC 3339 text is JSON's form of a timestamp (protobuf's JSON mapping): a REQUEST.json's `conn.ts.start`"),
    ("string", b"\xff", "x == x", "error", "value", "cel-cpp takes bytes that are not UTF-8 as a string; a CEL string "
     "is Unicode text (langdef, \"Strings\")"),
    ("dyn", 2**63, "type(x) == type(1.0)", "value", "value", "a host int past int64 in a `dyn` is a JSON number's "
     "double (docs/cel.md, \"Integers from the host\"); cel-cpp makes it a uint"),
]


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the differences are not compared")
@pytest.mark.parametrize(("declared", "value", "expr", "mine", "cpp", "why"), KEPT,
                         ids=[f"{k[0]}:{k[1]!r}:{k[2]}" for k in KEPT])
def test_each_kept_difference_is_still_one(declared: str, value: object, expr: str, mine: str, cpp: str,
                                           why: str) -> None:
    got, want = ours(declared, value, expr), theirs(declared, value, expr)
    assert (got[0], want[0]) == (mine, cpp), (declared, value, expr, got, want)
    if mine == cpp == "value":
        assert norm(got[1]) != norm(want[1]), (declared, value, expr, got, want)
