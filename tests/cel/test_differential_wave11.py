"""Wave 11: what the type checker accepts, and host integers outside CEL's 64 bits.

Found by ``test_differential_check.py`` (compiles or not, against cel-cpp). Each row is one
expression and what it must give, type-checked; ``check_error`` rows are refused by the
checker, and run unchecked (all ``dyn``) they must agree with cel-cpp unchecked. Every row
also runs through Google's C++ runtime (``cel-expr-python``), so a row cannot drift.

Classes:

* ``index-type``: the langdef's signatures ``list(A)[int]`` and ``map(A, B)[A]``, as cel-go
  and cel-cpp check them: ``[1, 2][1u]`` and ``{1: 'a'}[1u]`` have no overload (we accepted
  any number). A ``dyn`` index is the runtime's, where numbers find numeric keys across
  types: ``[1, 2][dyn(1u)]`` is ``2``.
* ``optional-entry``: ``[?e]`` and ``{?k: e}`` need ``e`` to be an optional (cel-go: or a
  ``dyn``); ``optMap``/``optFlatMap`` need an optional receiver (the macro calls
  ``hasValue()``). We read any other type as ``dyn``.
* ``map-key``: a map literal's key of a kind no map key has (``{1.0: 'a'}``) type-checks and
  fails at run time, as in cel-go and cel-cpp, so ``false && ...`` absorbs it (we refused to
  compile it).
* ``null-nullable``: ``null`` where the only overloads take a timestamp or duration
  (``string(null)``, ``null.getHours()``) checks, as ``timestamp(0) == null`` already did (a
  prefilter skipped those overloads), and fails at run time.
* ``dyn-const``: selecting on or indexing a ``dyn`` constant or list (``dyn(1).a``,
  ``dyn([]).a``) generated Python subscripting a literal (``1['a']``): a ``SyntaxWarning``
  at every compile, no program where warnings are errors.
* ``math-literal``: ``math.greatest``/``math.least`` take literal arguments that are
  numbers only, and a lone list literal that is non-empty and holds such (cel-go's macro,
  ``isNumericArgType``; cel-cpp too): ``math.least([1, 'a'])``, ``math.greatest([])`` are
  refused (we read the list as ``list(dyn)``).
* ``filter-type``: ``filter`` over a ``dyn`` is a ``list(dyn)`` (the macro's accumulator),
  as a map's is a list of its keys; we typed it ``dyn``, so ``null == dyn(l).filter(...)``
  checked.

Host integers past 64 bits (a JSON number parsed by Python): an error in a variable declared
``int`` or ``uint`` (as cel-cpp refuses the host value), the double of a JSON number in a
``dyn`` (taken out where it is selected, indexed or iterated); we let Python's unbounded
``int`` through (``x + 1 > x`` was ``true`` for ``x = -2**63 - 1``).
"""

from __future__ import annotations

import math
import warnings

import pytest

from aigw_policy import cel
from aigw_policy.cel.runtime.values import UInt

c = pytest.importorskip("cel_expr_python.cel")
from cel_expr_python.ext import ext_bindings, ext_math, ext_optional, ext_strings  # noqa: E402

from test_differential_more import norm  # noqa: E402

# (class, expression, ("value", CEL literal) | ("error", piece of the message) | ("check_error", piece))
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("index-type", "[1, 2][1u]", ("check_error", "`(list(int), uint)`")),
    ("index-type", "[1, 2][0u] == 1", ("check_error", "`(list(int), uint)`")),
    ("index-type", "[1][1.0]", ("check_error", "`(list(int), double)`")),
    ("index-type", "{1: 'a'}[1u]", ("check_error", "`(map(int, string), uint)`")),
    ("index-type", "{1u: 'a'}[1]", ("check_error", "`(map(uint, string), int)`")),
    ("index-type", "{1: 'a'}[1.0]", ("check_error", "`(map(int, string), double)`")),
    ("index-type", "{1: 'a'}[?1u].value()", ("check_error", "`_[?_]` applied to `(map(int, string), uint)`")),
    ("index-type", "optional.of([1])[0u].value()", ("check_error", "`(optional(list(int)), uint)`")),
    ("index-type", "[1, 2][dyn(1u)]", ("value", "2")),
    ("index-type", "[1, 2][dyn(1.0)]", ("value", "2")),
    ("index-type", "{1: 'a'}[dyn(1u)]", ("value", "'a'")),
    ("index-type", "{1: 'a'}[dyn(1.0)]", ("value", "'a'")),
    ("index-type", "{1: 'a', 'b': 2}[1u]", ("value", "'a'")),
    ("index-type", "{1u: 'a'}[?dyn(1)].value()", ("value", "'a'")),
    ("index-type", "[1, 2][1]", ("value", "2")),
    ("optional-entry", "[?1]", ("check_error", "expected type `optional(int)` but found `int`")),
    ("optional-entry", "[1].map(x, [?x])", ("check_error", "expected type `optional(int)`")),
    ("optional-entry", "{?'a': 'b'}", ("check_error", "expected type `optional(string)`")),
    ("optional-entry", "[?null]", ("check_error", "expected type `optional(null_type)`")),
    ("optional-entry", "'a'.optMap(x, x)", ("check_error", "`optMap` applied to `(string)`")),
    ("optional-entry", "[1].optFlatMap(x, optional.of(x))", ("check_error", "`optFlatMap` applied to `(list(int))`")),
    ("optional-entry", "[?optional.of(1), ?optional.none()]", ("value", "[1]")),
    ("optional-entry", "{?'a': optional.of(1), ?'b': optional.none()}", ("value", "{'a': 1}")),
    ("optional-entry", "optional.of(1).optMap(x, x + 1).value()", ("value", "2")),
    ("optional-entry", "dyn(optional.of(2)).optMap(x, x * 2).value()", ("value", "4")),
    ("map-key", "{1.0: 'a'}", ("error", "unsupported key type")),
    ("map-key", "{null: 1}", ("error", "unsupported key type")),
    ("map-key", "{[1]: 2}.size()", ("error", "unsupported key type")),
    ("map-key", "false && {1.0: 'a'} == {}", ("value", "false")),
    ("map-key", "true || {b'a': 1}.size() > 0", ("value", "true")),
    ("map-key", "{1: 'a', 'b': 2}.size()", ("value", "2")),
    ("null-nullable", "string(null)", ("error", "no such overload")),
    ("null-nullable", "null.getHours()", ("error", "no such overload")),
    ("null-nullable", "timestamp(null)", ("error", "no such overload")),
    ("null-nullable", "duration(null) == null", ("error", "no such overload")),
    ("null-nullable", "timestamp(0) != null", ("value", "true")),
    ("dyn-const", "dyn(1).a", ("error", "does not support field selection")),
    ("dyn-const", "dyn(null).a", ("error", "does not support field selection")),
    ("dyn-const", "dyn(-1.5)['a']", ("error", "no such overload")),
    ("dyn-const", "dyn('s')['a']", ("error", "no such overload")),
    ("dyn-const", "dyn(true).a || true", ("value", "true")),
    ("dyn-const", "dyn([]).a", ("error", "does not support field selection")),
    ("dyn-const", "dyn([1])['a']", ("error", "no such overload")),
    ("math-literal", "math.least([1, 'a'])", ("check_error", "simple literal arguments must be numeric")),
    ("math-literal", "math.greatest([])", ("check_error", "simple literal arguments must be numeric")),
    ("math-literal", "math.least(1, [1])", ("check_error", "simple literal arguments must be numeric")),
    ("math-literal", "math.greatest('a')", ("check_error", "simple literal arguments must be numeric")),
    ("math-literal", "math.least([1, 2.5, 0u])", ("value", "0u")),
    ("math-literal", "math.greatest(dyn([1, 3]))", ("value", "3")),
    ("math-literal", "math.least(-1, 2)", ("value", "-1")),
    ("filter-type", "null == dyn([1]).filter(x, true)", ("check_error", "`(null_type, list(dyn))`")),
    ("filter-type", "dyn([1, 2]).filter(x, x > 1) == [2]", ("value", "true")),
    ("filter-type", "dyn({'a': 1}).filter(k, k == 'a')", ("value", "['a']")),
]
IDS = [f"{c_[0]}:{c_[1]}" for c_ in CASES]
_ENV = None


def _env():  # type: ignore[no-untyped-def]
    global _ENV
    if _ENV is None:
        _ENV = c.NewEnv(variables={}, extensions=[ext_bindings.ExtBindings(), ext_math.ExtMath(),
                                                   ext_optional.ExtOptional(), ext_strings.ExtStrings()])
    return _ENV


def _ours(expr: str, checked: bool) -> tuple[str, object]:
    try:
        prog = cel.compile(expr, {}) if checked else cel.compile(expr)
    except cel.CelError as e:
        return "check_error", str(e)
    try:
        return "value", prog({})
    except cel.CelError as e:
        return "error", str(e)


def _theirs(expr: str, checked: bool) -> tuple[str, object]:
    try:
        r = _env().compile(expr, disable_check=not checked).eval(data={})
    except Exception as e:  # noqa: BLE001 - refused by the parser or the checker
        return "check_error", str(e)
    if r.type() == c.Type.ERROR:
        return "error", r.plain_value()
    return "value", r.plain_value()


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_case(klass: str, expr: str, want: tuple[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SyntaxWarning from the generated code
        cel.clear_cache()
        kind, got = _ours(expr, checked=True)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert norm(got) == norm(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_table_agrees_with_cel_cpp(klass: str, expr: str, want: tuple[str, str]) -> None:
    """The row is cel-cpp's answer too; a row refused by the checker runs unchecked in both
    and they agree on the value or error-ness."""
    kind, got = _theirs(expr, checked=True)
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert norm(got) == norm(cel.compile(want[1])({})), (expr, got)
    if kind == "check_error":
        ours, theirs = _ours(expr, checked=False), _theirs(expr, checked=False)
        errors = ("error", "check_error")  # cel-cpp's macros refuse some while parsing
        assert ours[0] == theirs[0] or (ours[0] in errors and theirs[0] in errors), (expr, ours, theirs)
        if ours[0] == "value":
            assert norm(ours[1]) == norm(theirs[1]), (expr, ours, theirs)


# -- host integers outside 64 bits -----------------------------------------------------
BIG = [2**70, 2**64, 2**63, -(2**63) - 1, 10**30]
HOST_CASES = [  # (declaration, expression over x, value of x) -> error, as cel-cpp
    *(("int", "x + 1 > x", v) for v in BIG),
    *(("int", "string(x)", v) for v in BIG),
    *(("uint", "x", v) for v in [2**64, -1, 2**70]),
    *(("list(int)", "x[0]", [v]) for v in BIG),
    *(("map(string, int)", "size(x)", {"a": v}) for v in BIG),
]
_T = c.Type
_CPP_TYPES = {"int": _T.INT, "uint": _T.UINT, "dyn": _T.DYN, "double": _T.DOUBLE, "list(int)": _T.List(_T.INT),
              "map(string, int)": _T.Map(_T.STRING, _T.INT), "map(string, dyn)": _T.Map(_T.STRING, _T.DYN),
              "list(dyn)": _T.List(_T.DYN)}  # fmt: skip


@pytest.mark.parametrize(("decl", "expr", "value"), HOST_CASES)
def test_int_past_64_bits_in_an_int_variable_is_an_error(decl: str, expr: str, value: object) -> None:
    """A variable declared ``int`` or ``uint`` (or holding them) given a Python int that is
    no 64-bit CEL value: an evaluation error, never Python's unbounded arithmetic (``x + 1 >
    x`` was true for ``-2**63 - 1``); cel-cpp refuses such a host value too."""
    with pytest.raises(cel.CelError, match="out of range"):
        cel.compile(expr, {"x": decl})({"x": value})
    r = c.NewEnv(variables={"x": _CPP_TYPES[decl]}).compile(expr).eval(data={"x": value})
    assert r.type() == c.Type.ERROR, (decl, expr, value)


DYN_CASES = [  # (declaration or None for undeclared, expression, value of x)
    *((d, "x", v) for d in ("dyn", None) for v in BIG),
    *((d, "x + 1.0 > x", v) for d in ("dyn", None) for v in BIG),
    *((d, "x + 1 > x", v) for d in ("dyn", None) for v in BIG),  # a double and an int: no overload
    ("dyn", "x == 1e30", 10**30),
    ("map(string, dyn)", "x.a", {"a": 2**70, "b": 1}),
    ("map(string, dyn)", "x.a + 1 > x.a", {"a": -(2**63) - 1}),
    ("map(string, dyn)", "x['a'] < 0.0", {"a": -(2**63) - 1}),
    ("map(string, dyn)", "x.b.c[1]", {"b": {"c": [1, -(2**63) - 1]}}),
    ("list(dyn)", "x[1]", [1, 2**64]),
    ("list(dyn)", "x.map(i, i)", [1, 2**64, "s"]),
    ("list(dyn)", "x.exists(i, type(i) == double)", [1, 2**64]),
    (None, "x.filter(i, i > 1e20)", [1, 2**70]),
    ("map(string, list(dyn))", "x.k.all(i, i > 0.0)", {"k": [2**63, 2**64]}),
]


@pytest.mark.parametrize(("decl", "expr", "value"), DYN_CASES)
def test_int_past_64_bits_in_a_dyn_is_the_json_double(decl: str | None, expr: str, value: object) -> None:
    """In a ``dyn`` (JSON data: ``map(string, dyn)``, an undeclared variable, what is taken
    out of them) an int past 64 bits is the double a JSON number is in CEL: the same answer,
    value or error, as cel-cpp given the double."""
    try:
        got: tuple[str, object] = ("value", cel.compile(expr, {"x": decl} if decl else None)({"x": value}))
    except cel.CelError as e:
        got = ("error", str(e))

    def doubled(v: object) -> object:
        if type(v) is int and not -(2**63) <= v < 2**63:
            return float(v)
        if isinstance(v, dict):
            return {k: doubled(x) for k, x in v.items()}
        return [doubled(x) for x in v] if isinstance(v, list) else v

    types = {**_CPP_TYPES, "map(string, list(dyn))": _T.Map(_T.STRING, _T.List(_T.DYN))}
    r = c.NewEnv(variables={"x": types[decl or "dyn"]}).compile(expr).eval(data={"x": doubled(value)})
    if r.type() == c.Type.ERROR:
        assert got[0] == "error", (expr, got, r.plain_value())
    else:
        assert got[0] == "value" and norm(got[1]) == norm(r.plain_value()), (expr, got, r.plain_value())


def test_in_range_host_values_are_read_as_they_are() -> None:
    """The limits themselves and uints are values; nothing is copied that need not be (a bool
    in a `list(int)` is 1: test_differential_wave16.py)."""
    ints = [-(2**63), 2**63 - 1, 0]
    assert cel.compile("x", {"x": "list(int)"})({"x": ints}) is ints
    data = {"a": [1, "s", {"b": 2**63 - 1}], "c": None}
    assert cel.compile("x", {"x": "map(string, dyn)"})({"x": data}) is data
    assert cel.compile("x", {"x": "uint"})({"x": 2**64 - 1}) == UInt(2**64 - 1)
    assert cel.compile("x", {"x": "double"})({"x": 2**70}) == 2.0**70
    assert cel.compile("x", {"x": "double"})({"x": -(10**400)}) == -math.inf  # as json.loads('-1e400')
    assert cel.compile("x", {"x": "dyn"})({"x": 10**400}) == math.inf
    with pytest.raises(cel.CelError, match="out of range"):  # a key cannot be a double
        cel.compile("x", {"x": "map(dyn, int)"})({"x": {2**70: 1}})
    assert math.isinf(cel.compile("x", {"x": "dyn"})({"x": float("inf")}))
    assert cel.compile("true || x > 0", {"x": "int"})({"x": 2**70}) is True  # an error absorbed


def test_a_request_number_past_64_bits_through_the_policy_environment() -> None:
    """REQUEST.json parsed by Python: `conn.bytes_in` (declared int) of 10**30 is an error
    where a condition reads it (absorbed by `||`), a number in `req.cookies` (dyn) a double."""
    from aigw_policy.env import compile_condition
    from aigw_policy.env.activation import activation, classify_request
    from aigw_policy.env.request import Request

    req = Request.parse({
        "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "headers": {},
                    "body": {"model": "gpt-4o", "messages": []}},
        "conn": {"bytes_in": 10**30}, "req": {"cookies": {"a": [{"n": -(2**63) - 1}]}},
    })  # fmt: skip
    act = activation(req, classify_request(req), "rid", 0.0)
    with pytest.raises(cel.CelError, match="int value out of range") as e:
        compile_condition("conn.bytes_in + 1 > conn.bytes_in")(act)
    assert e.value.code == "out_of_range"
    assert compile_condition("true || conn.bytes_in > 0")(act) is True
    assert compile_condition("req.cookies.a[0].n")(act) == -(2.0**63)
