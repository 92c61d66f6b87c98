"""Wave 14: the lexer's words, call styles, the runtime table and macro types against cel-cpp.

Found by a throwaway fuzzer drawing what the earlier generators do not: token soup (names,
keywords, reserved words, literals of every form and operators run together with and without
white space), one- and two-token mutations of the earlier waves' rows and of the conformance
expressions, random syntax trees with every separator, every standard and extension function
called with zero to three arguments of every kind in both call styles, and every macro on
targets and bodies of every kind, checked and unchecked. Each row is one expression and what it must give type-checked;
``check_error`` rows are refused, and run unchecked they must fail in cel-cpp too (or give
its value). Every row also runs through Google's C++ runtime (``cel-expr-python``).

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import pytest

from aigw_policy import cel

c = pytest.importorskip("cel_expr_python.cel")

from differential_table import check_classes, check_cpp, check_ours  # noqa: E402
from test_differential_more import norm  # noqa: E402
from test_differential_wave11 import _ours as ours  # noqa: E402
from test_differential_wave12 import theirs  # noqa: E402

CLASSES = {
    "in-word": "`in` is a token only as a whole word: CEL.g4's lexer takes the longest token, so `x int`, "
               "`1 inx` and `'a' in1` hold the identifiers `int`, `inx`, `in1` where no name can stand, a syntax "
               "error checked or not; lark's contextual lexer cut `in` out of them where an identifier could not "
               "follow (`[[1]].map(t, 1 int)` was `[true]`)",
    "global-predicate": "run unchecked, `contains(s, t)`, `startsWith(s, t)` and `endsWith(s, t)` are the string "
                        "tests (cel-cpp files them under both call styles, cel-go dispatches by name); we had them as "
                        "receivers only (`unbound function`); checked, both refuse the global form",
    "argless-call": "a call of `matches` with no receiver and no argument is `no matching overload` when run "
                    "unchecked (cel-cpp: no overload); our cost estimate raised `IndexError` out of `cel.compile`",
    "type-name-call": "a type's name is no function: run unchecked, `google.protobuf.Timestamp(0)`, "
                      "`google.protobuf.Duration('1s')`, `net.IP(s)`, `net.CIDR(s)` are undeclared (cel-cpp, "
                      "cel-go); our runtime table held them as aliases of the conversions that no declaration "
                      "named, so they ran",
    "flat-map-type": "`o.optFlatMap(x, e)` checks `e` as an optional (the macro is `o.hasValue() ? e : "
                     "optional.none()`, whose branches have one type; `dyn` and `null` fit), as cel-go and cel-cpp "
                     "check it; we took any type, so `optional.of(1).optFlatMap(x, x) + 1` checked; unchecked the "
                     "expression's value is still the result",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

# (class, expression, ("value", CEL literal) | ("error", piece of the message) | ("check_error", piece))
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("in-word", "x int", ("check_error", "unexpected `int`")),
    ("in-word", "1 inx", ("check_error", "unexpected `inx`")),
    ("in-word", "'a' in1", ("check_error", "unexpected `in1`")),
    ("in-word", "'s'in_x", ("check_error", "unexpected `in_x`")),
    ("in-word", "1.5inta", ("check_error", "unexpected `inta`")),
    ("in-word", "[1]index", ("check_error", "unexpected `index`")),
    ("in-word", "[[1]].map(t, 1 int)", ("check_error", "unexpected `int`")),
    ("in-word", "[[1]].exists(ts, 1 ints)", ("check_error", "unexpected `ints`")),
    ("in-word", "cel.bind(t, [2], 2 int)", ("check_error", "unexpected `int`")),
    ("in-word", "true || x inx", ("check_error", "unexpected `inx`")),
    ("in-word", "1 in [1]", ("value", "true")),
    ("in-word", "1 in[1]", ("value", "true")),
    ("in-word", "1 in(dyn([1]))", ("value", "true")),
    ("in-word", "'a'in{'a': 1}", ("value", "true")),
    ("in-word", "[1].exists(inx, inx in [1])", ("value", "true")),
    ("in-word", "{'int': 1}.int", ("value", "1")),
    ("in-word", "1 in//c\n[1]", ("value", "true")),
    ("global-predicate", "contains('abc', 'b')", ("check_error", "`contains` applied to `(string, string)`")),
    ("global-predicate", "startsWith('abc', 'a')", ("check_error", "`startsWith` applied to")),
    ("global-predicate", "endsWith('abc', 'c')", ("check_error", "`endsWith` applied to")),
    ("global-predicate", "endsWith('abc', 'b')", ("check_error", "`endsWith` applied to")),
    ("global-predicate", "contains(dyn('a😀b'), '😀')", ("check_error", "`contains` applied to")),
    ("global-predicate", "contains('abc', 1)", ("check_error", "`contains` applied to")),
    ("global-predicate", "contains(b'abc', b'b')", ("check_error", "`contains` applied to")),
    ("global-predicate", "startsWith('abc')", ("check_error", "`startsWith` applied to")),
    ("global-predicate", "false && contains('a', 'b')", ("check_error", "`contains` applied to")),
    ("global-predicate", "'abc'.contains('b')", ("value", "true")),
    ("global-predicate", "matches('abc', 'b')", ("value", "true")),
    ("type-name-call", "google.protobuf.Timestamp(0)", ("check_error", "undeclared reference to `google.protobuf`")),
    ("type-name-call", "google.protobuf.Timestamp('2024-01-01T00:00:00Z')", ("check_error", "undeclared reference")),
    ("type-name-call", "google.protobuf.Duration('1s')", ("check_error", "undeclared reference to `google.protobuf`")),
    ("type-name-call", "net.IP('1.2.3.4')", ("check_error", "undeclared reference to `net`")),
    ("type-name-call", "net.CIDR('10.0.0.0/8')", ("check_error", "undeclared reference to `net`")),
    ("type-name-call", ".google.protobuf.Timestamp(0)", ("check_error", "undeclared reference")),
    ("type-name-call", "type(timestamp(0)) == google.protobuf.Timestamp", ("value", "true")),
    ("type-name-call", "type(duration('1s')) == google.protobuf.Duration", ("value", "true")),
    ("type-name-call", "timestamp(0) == timestamp('1970-01-01T00:00:00Z')", ("value", "true")),
    ("type-name-call", "cel.bind(net, {'IP': 1}, net.IP)", ("value", "1")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, x)", ("check_error", "found `int`")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, x) + 1", ("check_error", "found `int`")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, 'a') == 'a'", ("check_error", "found `string`")),
    ("flat-map-type", "optional.none().optFlatMap(x, 1) == 1", ("check_error", "found `int`")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, [x])", ("check_error", "found `list(int)`")),
    ("flat-map-type", "false && optional.of(1).optFlatMap(x, x) == 1", ("check_error", "`optFlatMap`")),
    ("flat-map-type", "type(optional.of(1).optFlatMap(x, x))", ("check_error", "`optFlatMap`")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, optional.of(x + 1)).value()", ("value", "2")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, optional.none()).hasValue()", ("value", "false")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, x > 0 ? optional.of(x) : optional.none()).value()",
     ("value", "1")),
    ("flat-map-type", "optional.of({'a': 1}).optFlatMap(m, m.?a).value()", ("value", "1")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, dyn(x))", ("value", "1")),
    ("flat-map-type", "optional.of(1).optFlatMap(x, null)", ("value", "null")),
    ("flat-map-type", "dyn(optional.of(1)).optFlatMap(x, x)", ("value", "1")),
    ("flat-map-type", "optional.of(1).optMap(x, x + 1).value()", ("value", "2")),
    ("argless-call", "matches()", ("check_error", "`matches` applied to `()`")),
    ("argless-call", "false && matches()", ("check_error", "`matches` applied to `()`")),
    ("argless-call", "matches() || true", ("check_error", "`matches` applied to `()`")),
    ("argless-call", "size()", ("check_error", "`size` applied to `()`")),
    ("argless-call", "contains()", ("check_error", "`contains` applied to `()`")),
]
IDS = [f"{c_[0]}:{c_[1]!r}" for c_ in CASES]
SYNTAX = {"in-word"}


def test_every_row_names_a_class() -> None:
    check_classes(CASES, CLASSES)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_case(klass: str, expr: str, want: tuple[str, str]) -> None:
    check_ours(ours, expr, want, syntax=klass in SYNTAX)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_table_agrees_with_cel_cpp(klass: str, expr: str, want: tuple[str, str]) -> None:
    check_cpp(ours, theirs, expr, want, same_kind=True)


# -- differences we keep, each tested to still be one --------------------------------------
# (expression, type-checked?, our kind, cel-cpp's kind, why)
KEPT: list[tuple[str, bool, str, str, str]] = [
    ("[1, 2].existsOne(x, x == 1)", True, "value", "check_error",
     "cel-go's `existsOne(x, p)` (ExistsOneMacroNew, the new name of exists_one); cel-cpp's existsOne "
     "takes two variables"),
    ("{'a': 1}.existsOne(k, k == 'a')", False, "value", "error",
     "the same, unchecked: a call of an unbound function there"),
    ("cel.bind(.x, 1, 2)", False, "check_error", "value",
     "a bound variable is a simple name, as a comprehension's (`[1].map(.x, 1)` is refused by both); cel-cpp's bind "
     "macro takes `.x` unchecked (its checker refuses it)"),
    ("[2, 1].sortBy(.x, 1)", True, "check_error", "value", "the same for sortBy, whose cel-cpp macro takes `.x`"),
    ("true ? {'a': b'x', 'b': dyn(1)} : {'k': [1]}", True, "value", "check_error",
     "cel-go joins a map literal's value types bytes and dyn to dyn; cel-cpp's checker keeps bytes"),
    ("[1, 2][?dyn(1.0)].orValue(0)", True, "value", "error",
     "cel-go's index conversion takes a whole double or a uint; cel-cpp's `_[?_]` an int only (its `_[_]` all three)"),
    ("{1: 1, 1: 2} == {} || true", True, "value", "check_error",
     "a repeated key is an error value that `||` absorbs (cel-go; the suite asks only for an evaluation error); "
     "cel-cpp ends the whole evaluation with a status (ALREADY_EXISTS)"),
    ("[1, 2].exists(x, x == 2 || {x: 1, 1: 2}.size() == 2)", False, "value", "check_error",
     "the same inside a comprehension"),
    ("[true].filter(x, false).sortBy(x, dyn(1)).join('')", True, "check_error", "value",
     "with dyn keys every `@sortByAssociatedKeys` overload fits with one result, list(bool) (cel-go keeps it); "
     "cel-cpp's checker makes it dyn"),
    ("lists.range(-1)", True, "value", "check_error",
     "cel-cpp aborts the evaluation (`vector::reserve`); ours counts up to a negative end: []"),
]


@pytest.mark.parametrize(("expr", "checked", "mine", "cpp", "why"), KEPT, ids=[repr(k[0])[:60] for k in KEPT])
def test_each_kept_difference_is_still_one(expr: str, checked: bool, mine: str, cpp: str, why: str) -> None:
    got, want = ours(expr, checked), theirs(expr, checked)
    assert (got[0], want[0]) == (mine, cpp), (expr, got, want)
    if mine == cpp == "value":
        assert norm(got[1]) != norm(want[1]), (expr, got, want)


@pytest.mark.parametrize("word", ["int", "inx", "in1", "in_", "index", "inf", "ins"])
@pytest.mark.parametrize("before", ["x", "1", "1u", "1.5", "'s'", "b'b'", "[1]", "{}", "(x)", "x.y", "f()"])
def test_a_word_that_starts_with_in_is_never_the_operator(before: str, word: str) -> None:
    """Every operand form followed by a word beginning with ``in``: with a space both runtimes
    refuse it as syntax, where ``before in <rest>`` parses; run together they agree (``xint`` is
    one name)."""
    spaced, joined = f"{before} {word}", f"{before}{word}"
    got, want = ours(spaced, False), theirs(spaced, False)
    assert got[0] == want[0] == "check_error", (spaced, got, want)
    got, want = ours(joined, False), theirs(joined, False)
    assert got[0] == want[0], (joined, got, want)
    assert cel.compile(f"{before} in {word}") is not None


@pytest.mark.parametrize("fn", ["contains", "startsWith", "endsWith"])
@pytest.mark.parametrize(("s", "t"), [("'abc'", "'b'"), ("'abc'", "'a'"), ("'abc'", "'c'"), ("''", "''"),
                                      ("'a😀'", "'😀'"), ("'a'", "'abc'"), ("1", "'a'"), ("'a'", "null")])
def test_the_global_form_runs_as_the_receiver_form(fn: str, s: str, t: str) -> None:
    """Unchecked, ``f(s, t)`` is ``s.f(t)`` in ours and in cel-cpp (value or error alike)."""
    glob, recv = f"{fn}({s}, {t})", f"{s}.{fn}({t})"
    got, want, same = ours(glob, False), theirs(glob, False), ours(recv, False)
    assert got[0] == want[0] == same[0], (glob, got, want, same)
    if got[0] == "value":
        assert got[1] == want[1] == same[1], (glob, got, want)


def test_the_runtime_table_runs_only_declared_functions() -> None:
    """Every function of the runtime table is declared (checked, it can be called), apart from
    the macros' helpers and the global forms of the three string tests, which only unchecked
    calls reach (class ``global-predicate``): an undeclared entry runs unchecked where the
    checker, cel-cpp and cel-go know no such function (class ``type-name-call``)."""
    from aigw_policy.cel import decls
    from aigw_policy.cel.runtime import stdlib

    declared = {("." if o.receiver else "") + name for name, ovs in decls.standard().items() for o in ovs}
    unchecked_only = {"contains", "startsWith", "endsWith", "math.greatest", "math.least"}
    runtime = {k for k in stdlib.FUNCTIONS if not k.startswith(("_", "@"))}
    assert runtime - declared == unchecked_only, runtime - declared
