"""Wave 26: one operation over the paths a program can take to it (``draw``), and operands
that fail beside operands that decide under ``||``/``&&``/``?:`` and the macros (``absorb``).

Earlier waves drew whole expressions (wave 24: literals; wave 25: declared variables mixed in).
This draws one operation (an operator, a conversion, an extension function, a macro) over edge
operands and writes it three ways:

* ``lit``: the operands as literals (``9223372036854775807 + 1``), which the compiler may fold;
* ``typed``: the operands as variables declared with their types (``a + b``, ``a: int``), which
  the checker's types send through the generated code's fast operators;
* ``dyn``: the same variables declared ``dyn``, which go through the runtime's dispatch.

The three must give one answer (ours), and it must be cel-cpp's. A host value cel-cpp's binding
cannot take as a ``dyn`` (a ``uint``, a ``datetime``, a ``timedelta``) has no ``dyn`` form, and
durations past int64 nanoseconds and the instants at years 1 and 9999 have only the literal one
(the binding reads those through a double; docs/cel.md).

``absorb(seed)`` draws ``(a) || (b)`` and its mirror ``(b) || (a)`` (and ``&&``, ``?:``, the
macros' short circuits) over operands that are values, errors of every kind (division by zero,
overflow, a missing key, no overload, a bad pattern, an unset optional, a variable of a bad host
value) and declared variables: the langdef's logic is commutative over errors.

Deterministic: ``random.Random(seed)``; bounded by the count the caller asks for.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

_UTC = dt.timezone.utc


def _ts(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=_UTC)


# (declared type, host value, literal text)
Operand = tuple[str, object, str]
POOL: list[Operand] = [
    ("int", 0, "0"), ("int", 1, "1"), ("int", -1, "-1"), ("int", 3, "3"), ("int", -7, "-7"),
    ("int", 2**63 - 1, "9223372036854775807"), ("int", -(2**63), "-9223372036854775808"),
    ("int", 2**53 + 1, "9007199254740993"),
    ("uint", 0, "0u"), ("uint", 1, "1u"), ("uint", 5, "5u"), ("uint", 2**64 - 1, "18446744073709551615u"),
    ("uint", 2**63, "9223372036854775808u"),
    ("double", 0.0, "0.0"), ("double", -0.0, "-0.0"), ("double", 1.0, "1.0"), ("double", 0.5, "0.5"),
    ("double", -1.5, "-1.5"), ("double", 2.5, "2.5"), ("double", -2.5, "-2.5"), ("double", float("nan"), "double('NaN')"),
    ("double", float("inf"), "double('Infinity')"), ("double", float("-inf"), "double('-Infinity')"),
    ("double", 1e308, "1e308"), ("double", 5e-324, "5e-324"), ("double", 2.0**63, "9223372036854775808.0"),
    ("double", -(2.0**63), "-9223372036854775808.0"), ("double", 2.0**64, "18446744073709551616.0"),
    ("double", 9.2233720368547748e18, "9.2233720368547748e18"),
    ("string", "", "''"), ("string", "a", "'a'"), ("string", "é😀", "'é😀'"), ("string", "123", "'123'"),
    ("string", "-1", "'-1'"), ("string", "1.5", "'1.5'"), ("string", "true", "'true'"), ("string", "AbC", "'AbC'"),
    ("string", " x ", "' x '"), ("string", "Infinity", "'Infinity'"), ("string", "1s", "'1s'"),
    ("string", "2020-01-01T00:00:00Z", "'2020-01-01T00:00:00Z'"), ("string", "18446744073709551615", "'18446744073709551615'"),
    ("string", "9223372036854775808", "'9223372036854775808'"),
    ("bytes", b"", "b''"), ("bytes", b"a", "b'a'"), ("bytes", b"\xff", "b'\\xff'"), ("bytes", b"\xc3\xa9", "b'\\xc3\\xa9'"),
    ("bool", True, "true"), ("bool", False, "false"),
    ("timestamp", _ts(1970, 1, 1), "timestamp('1970-01-01T00:00:00Z')"),
    ("timestamp", _ts(2024, 2, 29, 23, 30, 0, 500000), "timestamp('2024-02-29T23:30:00.5Z')"),
    ("timestamp", _ts(1969, 12, 31, 23, 59, 59, 999999), "timestamp('1969-12-31T23:59:59.999999Z')"),
    ("timestamp", None, "timestamp('0001-01-01T00:00:00Z')"), ("timestamp", None, "timestamp('9999-12-31T23:59:59Z')"),
    ("duration", dt.timedelta(0), "duration('0s')"), ("duration", dt.timedelta(seconds=1), "duration('1s')"),
    ("duration", dt.timedelta(microseconds=-1), "duration('-1us')"),
    ("duration", dt.timedelta(hours=-25, microseconds=7), "duration('-89999.999993s')"),
    ("duration", dt.timedelta(days=106751, seconds=85636, microseconds=854775), "duration('9223372036.854775s')"),
    ("duration", None, "duration('315537897599s')"), ("duration", None, "duration('-315537897599s')"),
    ("list(int)", [], "[]"), ("list(int)", [1, 2], "[1, 2]"), ("list(string)", ["a", ""], "['a', '']"),
    ("list(double)", [1.0, float("nan")], "[1.0, double('NaN')]"),
    ("map(string, int)", {}, "{}"), ("map(string, int)", {"a": 1}, "{'a': 1}"), ("map(int, string)", {1: "x"}, "{1: 'x'}"),
    ("map(uint, int)", {1: 2}, "{1u: 2}"), ("map(bool, int)", {True: 1}, "{true: 1}"),
    ("null_type", None, "null"),
]
"""Operands; a host value of None (but for ``null``) marks a literal-only operand."""

UNARY = [
    "-{0}", "!{0}", "int({0})", "uint({0})", "double({0})", "string({0})", "bytes({0})", "bool({0})",
    "timestamp({0})", "duration({0})", "type({0})", "size({0})", "{0}.size()", "dyn({0})", "[{0}][0]", "{{'k': {0}}}['k']",
    "math.abs({0})", "math.sign({0})", "math.ceil({0})", "math.floor({0})", "math.round({0})", "math.trunc({0})",
    "math.isNaN({0})", "math.isInf({0})", "math.isFinite({0})", "math.sqrt({0})", "math.bitNot({0})",
    "{0}.getFullYear()", "{0}.getMonth()", "{0}.getDayOfYear()", "{0}.getDate()", "{0}.getDayOfWeek()",
    "{0}.getHours()", "{0}.getMinutes()", "{0}.getSeconds()", "{0}.getMilliseconds()", "{0}.getHours('-14:00')",
    "{0}.getFullYear('+14:00')", "{0}.getDate('Pacific/Kiritimati')", "{0}.getDayOfWeek('America/Adak')",
    "{0}.lowerAscii()", "{0}.upperAscii()", "{0}.trim()", "{0}.reverse()", "strings.quote({0})", "base64.encode({0})",
    "base64.decode({0})", "{0}.charAt(1)", "{0}.substring(1)", "{0}.indexOf('')", "{0}.lastIndexOf('')",
    "{0}.sort()", "{0}.distinct()", "math.greatest({0})", "math.least({0})", "{0}.flatten()", "sets.contains({0}, {0})",
    "math.bitShiftLeft({0}, 1)", "math.bitShiftRight({0}, 63)", "{0}.slice(0, 1)", "optional.of({0}).value()",
    "optional.ofNonZeroValue({0}).hasValue()", "'%s'.format([{0}])", "'%x'.format([{0}])", "'%o'.format([{0}])",
    "'%b'.format([{0}])", "'%.3e'.format([{0}])", "'%f'.format([{0}])", "[{0}].exists(x, x == {0})", "{0} in [{0}]",
    "{{{0}: 1}}[{0}]", "{0} == dyn({0})", "[1, 2, 3][{0}]", "{{1: 'a', 2u: 'b', 3.0: 'c'}}[{0}]",
    "{{1: 'a'}}[?{0}].orValue('z')", "[1][?{0}].orValue(9)", "'abc'.substring({0})", "'abc'.charAt({0})",
    "'a😀b'.indexOf('b', {0})", "'a😀b'.lastIndexOf('a', {0})", "'abc'.split('', {0})", "math.bitShiftLeft(1, {0})",
    "math.bitShiftRight(-1, {0})", "[1, 2, 3].slice({0}, 3)",
]
BINARY = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "in"]
CALLS = [
    "math.greatest({0}, {1})", "math.least({0}, {1})", "math.bitAnd({0}, {1})", "math.bitOr({0}, {1})",
    "math.bitXor({0}, {1})", "{0}.contains({1})", "{0}.startsWith({1})", "{0}.endsWith({1})", "{0}.indexOf({1})",
    "{0}.lastIndexOf({1})", "{0}.split({1})", "{0}.join({1})", "[{0}, {1}]", "[{0}, {1}].sort()", "{{{0}: 1, {1}: 2}}",
    "{0}.getHours({1})", "{0}.substring({1})", "{0}.charAt({1})", "{0}.format({1})", "sets.equivalent({0}, {1})",
    "sets.intersects([{0}], [{1}])", "[{0}].exists(x, x == {1})", "{0} ? {1} : {1}", "dyn({0}) in [{1}]",
    "[{0}, {1}].distinct()", "math.greatest([{0}, {1}])", "{0}.replace({1}, 'z')", "{0}.matches({1})",
    "{0}.map(x, x + {1})", "{0}.filter(x, x != {1})", "{0}.all(k, v, v != {1})", "{0}.transformList(i, v, v == {1})",
    "{0}.getMinutes({1})", "{0}.getDayOfWeek({1})", "{0} - {1} < {1}", "{0}[{1}]", "{0}[?{1}].hasValue()",
    "{{'k': {0}}}.?k.orValue({1})", "{0}.indexOf({1}, 1)", "{0}.substring({1}, 2)", "{0}.split({1}, 2)",
    "{0}.lastIndexOf({1}, 1)", "{0}.slice({1}, 2)", "{0}.flatten({1})", "math.bitShiftLeft({0}, {1})",
    "math.bitShiftRight({0}, {1})", "{0} < {1} || {1} < {0}", "{0} == {1} ? {0} : {1}", "[{0}][{1}]",
]
_NAMES = "ab"


def operation(rng: random.Random) -> tuple[list[Operand], str]:
    """One operation: its operands and its template (``{0}``, ``{1}`` where they go)."""
    k = rng.random()
    if k < 0.35:
        return [rng.choice(POOL)], rng.choice(UNARY)
    if k < 0.7:
        return [rng.choice(POOL), rng.choice(POOL)], "{0} " + rng.choice(BINARY) + " {1}"
    return [rng.choice(POOL), rng.choice(POOL)], rng.choice(CALLS)


def forms(operands: list[Operand], template: str) -> Iterator[tuple[str, str, dict[str, str], dict[str, object]]]:
    """``(path, expression, declarations, activation)`` for each path the operands can take."""
    yield "lit", template.format(*(o[2] for o in operands)), {}, {}
    if any(o[1] is None for o in operands):  # null, or literal-only
        return
    names = _NAMES[:len(operands)]
    expr = template.format(*names)
    act = {n: o[1] for n, o in zip(names, operands)}
    yield "typed", expr, {n: o[0] for n, o in zip(names, operands)}, act
    if not any("uint" in o[0] or o[0] in ("timestamp", "duration") for o in operands):
        yield "dyn", expr, {n: "dyn" for n in names}, act


def draw(seed: int) -> tuple[list[Operand], str]:
    return operation(random.Random(seed))


# error absorption ----------------------------------------------------------------------------
ATOMS = [
    "true", "false", "1/0 == 1", "{}['x']", "dyn('a') > 1", "dyn(1) + dyn('a') == 2", "9223372036854775807 + 1 > 0",
    "[1][2] == 1", "int('x') == 1", "dyn(1)", "dyn('s')", "dyn(null)", "'a'.matches('(')", "has(dyn(1).a)",
    "{'a': 1}.b == 1", "dyn([]).all(x, x)", "[1, 0].all(x, 1/x > 0)", "[0, 1].exists(x, 1/x > 0)",
    "optional.none().value()", "dyn(optional.of(true)).value()", "math.sqrt(-1) > 0", "uint(-1) > 0u",
    "duration('1000000000000s') > duration('0s')", "timestamp(253402300800) > timestamp(0)", "dyn({}).a",
    "1 == 1u", "dyn(1) == dyn(1.0)", "x", "y", "z", "w",
]
"""Values, errors of every kind, and variables: ``x`` a bool, ``y`` a dyn, ``z`` an int, ``w``
a bool bound to a value that is none (an error where it is read)."""
ABSORB_DECLS = {"x": "bool", "y": "dyn", "z": "int", "w": "bool"}
ABSORB_ACTS: list[dict[str, object]] = [{"x": True, "y": False, "z": 0, "w": "no"},
                                        {"x": False, "y": "s", "z": 1, "w": 2.5}]
_MIRRORED = ["({a}) || ({b})", "({a}) && ({b})", "[0, 1].exists(i, i == 0 ? ({a}) : ({b}))",
             "[0, 1].all(i, i == 0 ? ({a}) : ({b}))", "{{'k': 0, 'j': 1}}.exists(k, k == 'k' ? ({a}) : ({b}))",
             "!({a}) || !({b})", "(({a}) || ({b})) && ({c})", "({c}) ? ({a}) || ({b}) : ({a}) && ({b})"]
_ONE_WAY = ["({a}) ? ({b}) : ({c})", "({a}) || ({b}) && ({c})", "[0, 1].exists_one(i, i == 0 ? ({a}) : ({b}))",
            "[0, 1].filter(i, i == 0 ? ({a}) : ({b})).size() > 0", "cel.bind(v, {a}, v || ({b}))",
            "optional.of(1).optMap(o, ({a})).orValue(false) || ({b})", "[({a}), ({b})].size() == 2",
            "!!({a}) == ({b})", "({a}) != ({b})"]


def absorb(seed: int) -> tuple[str, str | None]:
    """An expression and, where the langdef makes the order not matter, its mirror (else None)."""
    r = random.Random(seed)
    a, b, c = r.choice(ATOMS), r.choice(ATOMS), r.choice(ATOMS)
    if r.random() < 0.6:
        form = r.choice(_MIRRORED)
        return form.format(a=a, b=b, c=c), form.format(a=b, b=a, c=c)
    return r.choice(_ONE_WAY).format(a=a, b=b, c=c), None


# the arithmetic matrix -----------------------------------------------------------------------
_EDGES = {"int": ["-9223372036854775808", "-1", "0", "1", "9223372036854775807"],
          "uint": ["0u", "1u", "9223372036854775808u", "18446744073709551615u"],
          "double": ["-0.0", "1.0", "double('NaN')", "double('Infinity')", "9223372036854775808.0"]}
MATRIX_OPS = ["+", "-", "*", "/", "%", "<", "=="]


def matrix() -> list[tuple[list[Operand], str]]:
    """Every operator of ``MATRIX_OPS`` over every pair of one kind's bounds (int, uint, double):
    the typed operators the code generator writes inline, next to the runtime's."""
    by_text = {o[2]: o for o in POOL}
    return [([by_text[x], by_text[y]], "{0} " + op + " {1}")
            for kind, edges in _EDGES.items() for op in MATRIX_OPS for x in edges for y in edges]
