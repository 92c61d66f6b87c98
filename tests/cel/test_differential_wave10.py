"""Wave 10: classes of disagreement with cel-go and cel-cpp that the earlier waves missed.

Each row is one expression and what it must give, written from the reference named in its
class (the langdef, cel-go's or cel-cpp's sources); every row runs type-checked and unchecked
(all ``dyn``). Where Google's C++ runtime (``cel-expr-python``) is installed, each row is
also run there, so a row that misreads the reference fails too.

Classes:

* ``bind-lazy``: ``cel.bind(x, init, e)`` evaluates ``init`` only when ``e`` reads ``x``
  (once, however often it is read). cel-go's ``folder.ResolveName`` initialises the
  accumulator lazily "to preserve evaluation order semantics ... through the use of
  cel.bind"; cel-cpp's bind does the same. We evaluated ``init`` first, so an error in an
  unused binding failed the whole expression.
* ``accu-name``: a macro's iteration variable may not be ``__result__``, the accumulator's
  name: a parse error in cel-go (``parser/macro.go``, ``ext/comprehensions.go``: "iteration
  variable overwrites accumulator variable") and cel-cpp ("variable name cannot be
  __result__"). We compiled it.
* ``regex-const``: a constant pattern that does not compile is an error of the evaluation,
  which ``||`` and ``&&`` absorb like any other (langdef "Logical operators"; cel-go builds
  its regex at run time unless asked to optimize, cel-cpp too). We refused to compile
  ``'a'.matches('(') || true``.
* ``zero-optional``: ``optional.ofNonZeroValue`` of an optional, even an empty one, has a
  value: an optional is no zero value (cel-go's ``Optional`` is no ``traits.Zeroer``;
  cel-cpp's opaque ``IsZeroValue()`` is false). We answered ``optional.none()``.
* ``ts-overflow``: ``timestamp - timestamp`` overflows as cel-go (``subtractTimeChecked``
  in ``common/types/overflow.go``) and cel-cpp compute it: the floored whole seconds first,
  whose nanoseconds must fit int64, then the fractions; ``timestamp - duration`` negates the
  duration first (``subtractTimeDurationChecked``), so the int64 minimum overflows. We
  checked only the exact result, which fits within a second of the minimum.
* ``math-order``: ``math.greatest`` and ``math.least`` order int and uint against double as
  ``<`` does (as doubles, langdef "Numbers"), the first of equal arguments kept, as cel-cpp.
  We compared exactly (Python), so ``math.greatest(9223372036854775806, 9.223372036854775807e18)``
  was the double although ``<`` calls the two equal.
* ``unary-run``: a run of ``!`` or ``-`` written without parentheses is read as CEL.g4's
  parsers read it (cel-go's ``VisitLogicalNot``/``VisitNegate``, cel-cpp): an even run is
  its operand, an odd run one operator, and after two or more minuses a literal keeps no
  sign. We applied each operator, so ``!!1`` had no overload and ``--(-9223372036854775808)``
  overflowed; ``!(!1)`` (parenthesized) still has none.
"""

from __future__ import annotations

import math

import pytest

from aigw_policy import cel
from aigw_policy.cel.runtime.values import Optional

# (class, expression, ("value", CEL literal) | ("error", piece of the message))
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("bind-lazy", "cel.bind(x, 1 / 0, 2)", ("value", "2")),
    ("bind-lazy", "cel.bind(x, 1 / 0, false && x == 1)", ("value", "false")),
    ("bind-lazy", "cel.bind(x, 1 / 0, true || x == 1)", ("value", "true")),
    ("bind-lazy", "cel.bind(x, 1 / 0, [1, 2].map(y, y))", ("value", "[1, 2]")),
    ("bind-lazy", "cel.bind(x, 1 / 0, [].map(y, x))", ("value", "[]")),
    ("bind-lazy", "cel.bind(x, 'a', cel.bind(y, 1 / 0, x))", ("value", "'a'")),
    ("bind-lazy", "[1, 2].exists(x, cel.bind(y, 1 / 0, x == 1))", ("value", "true")),
    ("bind-lazy", "cel.bind(x, int('z'), 1 > 2 ? x : 3)", ("value", "3")),
    ("bind-lazy", "cel.bind(x, 1 / 0, x)", ("error", "divide by zero")),
    ("bind-lazy", "cel.bind(x, 1 / 0, [1].map(y, x))", ("error", "divide by zero")),
    ("bind-lazy", "cel.bind(x, [1, 2], x.size() + x.size())", ("value", "4")),
    ("bind-lazy", "cel.bind(x, 2, cel.bind(x, x + 1, x * x))", ("value", "9")),
    ("bind-lazy", "cel.bind(x, 1, [2].map(x, x)[0] + x)", ("value", "3")),
    ("accu-name", "[1].all(__result__, true)", ("error", "accumulator")),
    ("accu-name", "[1].exists(__result__, true)", ("error", "accumulator")),
    ("accu-name", "[1].exists_one(__result__, true)", ("error", "accumulator")),
    ("accu-name", "[1].map(__result__, 1)", ("error", "accumulator")),
    ("accu-name", "[1].map(__result__, true, 1)", ("error", "accumulator")),
    ("accu-name", "[1].filter(__result__, true)", ("error", "accumulator")),
    ("accu-name", "[1].all(__result__, v, true)", ("error", "accumulator")),
    ("accu-name", "[1].transformList(i, __result__, i)", ("error", "accumulator")),
    ("accu-name", "{'a': 1}.transformMap(__result__, v, v)", ("error", "accumulator")),
    ("accu-name", "cel.bind(__result__, 1, __result__)", ("value", "1")),  # not a comprehension macro
    ("accu-name", "[1].map(result, result)", ("value", "[1]")),
    ("regex-const", "'a'.matches('(') || true", ("value", "true")),
    ("regex-const", "true || 'a'.matches('[')", ("value", "true")),
    ("regex-const", "'a'.matches('(') && false", ("value", "false")),
    ("regex-const", "[1].exists(x, 'a'.matches('a{2,1}')) || 1 == 1", ("value", "true")),
    ("regex-const", "'a'.matches('(') ? 1 : 2", ("error", "invalid regex")),
    ("regex-const", "'a'.matches('(')", ("error", "invalid regex")),
    ("regex-const", "'ab'.matches('^a') && 'ab'.matches('b$')", ("value", "true")),
    ("zero-optional", "optional.ofNonZeroValue(optional.none()).hasValue()", ("value", "true")),
    ("zero-optional", "optional.ofNonZeroValue(optional.of(0)).hasValue()", ("value", "true")),
    ("zero-optional", "optional.ofNonZeroValue(0).hasValue()", ("value", "false")),
    ("zero-optional", "optional.ofNonZeroValue(null).hasValue()", ("value", "false")),
    ("zero-optional", "optional.ofNonZeroValue(timestamp(0)).hasValue()", ("value", "false")),
    ("zero-optional", "optional.ofNonZeroValue(int).hasValue()", ("value", "true")),
    ("ts-overflow", "timestamp('1677-09-21T00:12:43.145224192Z') - timestamp('1970-01-01T00:00:00Z')", ("error", "overflow")),
    ("ts-overflow", "timestamp('1677-09-21T00:12:43.9Z') - timestamp('1970-01-01T00:00:00Z')", ("error", "overflow")),
    ("ts-overflow", "timestamp('1970-01-01T00:00:00.5Z') - timestamp('2262-04-11T23:47:17.354775808Z')", ("error", "overflow")),
    ("ts-overflow", "timestamp(0) - duration('-9223372036.854775808s')", ("error", "overflow")),
    ("ts-overflow", "timestamp('1677-09-21T00:12:44.1Z') - timestamp('1970-01-01T00:00:00Z')", ("value", "duration('-9223372035.9s')")),
    ("ts-overflow", "timestamp(0) - timestamp('2262-04-11T23:47:16.854775808Z')", ("value", "duration('-9223372036.854775808s')")),
    ("ts-overflow", "timestamp('2262-04-11T23:47:16.854775807Z') - timestamp(0)", ("value", "duration('9223372036.854775807s')")),
    ("ts-overflow", "timestamp(0) - duration('-9223372036.854775807s')", ("value", "timestamp('2262-04-11T23:47:16.854775807Z')")),
    ("ts-overflow", "timestamp(0) + duration('-9223372036.854775808s')", ("value", "timestamp('1677-09-21T00:12:43.145224192Z')")),
    ("math-order", "math.greatest(9223372036854775806, 9.223372036854775807e18)", ("value", "9223372036854775806")),
    ("math-order", "math.greatest(9007199254740992.0, 9007199254740993)", ("value", "9007199254740992.0")),
    ("math-order", "math.least([9007199254740993, 9007199254740992.0])", ("value", "9007199254740993")),
    ("math-order", "math.greatest(18446744073709551615u, 1.8446744073709552e19)", ("value", "18446744073709551615u")),
    ("math-order", "math.least(1.8446744073709552e19, 18446744073709551615u)", ("value", "1.8446744073709552e19")),
    ("math-order", "math.least(9007199254740993u, 9007199254740992.0)", ("value", "9007199254740993u")),
    ("math-order", "math.greatest(1, 1.5, 2u)", ("value", "2u")),
    ("math-order", "math.least(-1, 0u, -1.5)", ("value", "-1.5")),
    ("math-order", "math.greatest(1, double('NaN'))", ("value", "1")),
    ("math-order", "math.greatest(dyn([1, 'a']))", ("error", "no such overload")),
    ("unary-run", "!!1", ("value", "1")),
    ("unary-run", "! !'a'", ("value", "'a'")),
    ("unary-run", "!!dyn(null)", ("value", "null")),
    ("unary-run", "[!!1, --'s'] == [1, 's']", ("value", "true")),
    ("unary-run", "!!1 + 1", ("value", "2")),
    ("unary-run", "--1u", ("value", "1u")),
    ("unary-run", "--[1]", ("value", "[1]")),
    ("unary-run", "--(-9223372036854775808)", ("value", "-9223372036854775808")),
    ("unary-run", "!!!true", ("value", "false")),
    ("unary-run", "---1", ("value", "-1")),
    ("unary-run", "- - 1", ("value", "1")),
    ("unary-run", "!!!1", ("error", "overload")),
    ("unary-run", "!(!1)", ("error", "overload")),
    ("unary-run", "-(-1u)", ("error", "overload")),
    ("unary-run", "-(-(-9223372036854775808))", ("error", "overflow")),
    ("unary-run", "--9223372036854775808", ("error", "64 bits")),
    ("unary-run", "---9223372036854775808", ("error", "64 bits")),
    ("unary-run", "-9223372036854775808", ("value", "-9223372036854775807 - 1")),
    ("ts-overflow", "timestamp('1969-12-31T23:59:59.5Z') - timestamp('1970-01-01T00:00:00.25Z')", ("value", "duration('-0.75s')")),
]
IDS = [f"{c[0]}:{c[1]}" for c in CASES]


def _same(a: object, b: object) -> bool:
    """Strict equality: CEL kinds apart (1, 1u, 1.0, true), -0.0 apart, NaN equal to NaN."""
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))  # type: ignore[arg-type]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return sorted(map(repr, a)) == sorted(map(repr, b)) and all(_same(v, b[k]) for k, v in a.items())  # type: ignore[index]
    if isinstance(a, Optional):
        return a.present == b.present and (not a.present or _same(a.value, b.value))  # type: ignore[attr-defined]
    return a == b


def _ours(expr: str, checked: bool) -> tuple[str, object]:
    try:
        prog = cel.compile(expr, {}) if checked else cel.compile(expr)
        return "value", prog({})
    except cel.CelError as e:
        return "error", str(e)


@pytest.mark.parametrize("checked", [True, False], ids=["checked", "dyn"])
@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_case(klass: str, expr: str, want: tuple[str, str], checked: bool) -> None:
    kind, got = _ours(expr, checked)
    if want[0] == "error":
        assert kind == "error" and want[1] in str(got), (expr, kind, got)
    else:
        assert kind == "value", (expr, got)
        assert _same(got, cel.compile(want[1])({})), (expr, got, want[1])


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_table_agrees_with_cel_cpp(klass: str, expr: str, want: tuple[str, str]) -> None:
    """The table is cel-cpp's answer too (value, or an error at compile or run time)."""
    c = pytest.importorskip("cel_expr_python.cel")
    from cel_expr_python.ext import ext_bindings, ext_math, ext_optional, ext_strings

    from test_differential_more import norm

    env = c.NewEnv(variables={}, extensions=[ext_bindings.ExtBindings(), ext_math.ExtMath(), ext_optional.ExtOptional(),
                                                ext_strings.ExtStrings()])
    try:
        r = env.compile(expr).eval(data={})
    except Exception:  # noqa: BLE001 - refused by the parser or the checker: an error
        assert want[0] == "error", expr
        return
    if r.type() == c.Type.ERROR:
        assert want[0] == "error", (expr, r.plain_value())
    else:
        assert want[0] == "value", (expr, r.plain_value())
        assert norm(r.plain_value()) == norm(cel.compile(want[1])({})), (expr, r.plain_value())


@pytest.mark.parametrize(("expr", "want"), [
    ("cel.bind(x, [1, 2, 3].map(y, y), true)", True),  # never read: never iterated
    ("cel.bind(x, [1, 2, 3].map(y, y), x.size())", "AIGW520"),
    ("cel.bind(x, [1, 2].map(y, y), x.size() + x.size())", 4),  # read twice, iterated once
])
def test_bind_charges_the_budget_only_when_read(expr: str, want: object) -> None:
    prog = cel.compile(expr, budget=2)
    if want == "AIGW520":
        with pytest.raises(cel.CelError, match="AIGW520"):
            prog({})
    else:
        assert prog({}) == want
