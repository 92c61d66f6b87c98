"""Wave 15: the checker's result types where several overloads or a macro's branches meet, against cel-cpp.

Found by a throwaway fuzzer drawing typed and ill-typed expressions over every kind, macro and
extension (with and without declared variables), and by two sweeps of the checker's result
types: every function and operator called with `dyn` among its arguments, and every macro and
index on targets of every kind (lists, maps, optionals, `dyn`, empty literals) with bodies of
every kind, each result then compared with a value of every type (`e == 1`, `e == [1]`...), so
that a result typed differently is refused by one checker only. Each row is one expression and
what it must give type-checked; ``check_error`` rows are refused, and run unchecked they must
give cel-cpp's value or fail in both. Every row also runs through Google's C++ runtime
(``cel-expr-python``).

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import pytest

c = pytest.importorskip("cel_expr_python.cel")

from differential_table import check_classes, check_cpp, check_ours  # noqa: E402
from test_differential_more import norm  # noqa: E402
from test_differential_wave11 import _ours as ours  # noqa: E402
from test_differential_wave12 import theirs  # noqa: E402

CLASSES = {
    "opt-index-dyn": "an index that several overloads fit, each with its own result parameter, is `dyn` "
                     "(cel-go's and cel-cpp's overload resolution): `dyn(l)[?k]` (the list and map overloads and "
                     "their optional-receiver forms) and `optional(dyn)[i]` or `[?i]` with an int or `dyn` index "
                     "(the optional list and optional map ones); we typed them `optional(dyn)`, so "
                     "`dyn([1])[?0] == 1` was refused; `optional.of(dyn(m))['a']` fits the optional map overload "
                     "only and stays `optional(dyn)`",
    "opt-flat-map-join": "`o.optFlatMap(x, e)` is `o.hasValue() ? e : optional.none()`: a `null` `e` joins "
                         "`optional.none()` to an optional, and over a `dyn` or `optional.none()` the variable is "
                         "`o.value()`'s free type, which the branches bind to an optional (cel-go, cel-cpp); we gave "
                         "`e`'s own type (`null`, `dyn`, a free type), so `optional.of(1).optFlatMap(x, null) == "
                         "timestamp(0)` and `dyn(o).optFlatMap(x, x) == 1` checked",
    "sort-by-dyn": "`d.sortBy(x, k)` over a `dyn` is a list when one key overload fits (`k` of one comparable "
                   "type): cel-go's `@sortByAssociatedKeys(list(T), list(K))` gives `list(T)`; we gave the target's "
                   "type, `dyn`, so `dyn(l).sortBy(x, 1) == 1` checked. A `dyn` key fits every overload: `dyn`",
    "mixed-list-range": "a comprehension over a list whose first element is a number and which holds a timestamp "
                        "or a duration (`[1, dyn(duration('1s'))].exists(x, x == 1)`) was `internal error: "
                        "AttributeError`: the range's test for 64-bit ints orders the elements with Python's "
                        "`min`/`max`, and a timestamp or duration compared with a number read the number's `.ns`; "
                        "their orderings now answer only their own kind (Python's `NotImplemented`)",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

# (class, expression, ("value", CEL literal) | ("error", piece of the message) | ("check_error", piece))
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("opt-index-dyn", "dyn([1])[?0] == 1", ("value", "false")),
    ("opt-index-dyn", "dyn({'a': 1})[?'a'] == 1", ("value", "false")),
    ("opt-index-dyn", "dyn({'a': 1})[?'b'] == 1", ("value", "false")),
    ("opt-index-dyn", "optional.of(dyn([1]))[0] == 1", ("value", "false")),
    ("opt-index-dyn", "optional.of(dyn([1]))[?0] == 1", ("value", "false")),
    ("opt-index-dyn", "optional.of(dyn([1]))[dyn(0)] == 1", ("value", "false")),
    ("opt-index-dyn", "dyn({'a': {'b': 1}})[?'a'].b == 1", ("value", "false")),
    ("opt-index-dyn", "cel.bind(o, dyn([1])[?0], o == 1)", ("value", "false")),
    ("opt-index-dyn", "[dyn([1])[?0]][0] == 1", ("value", "false")),
    ("opt-index-dyn", "dyn([1])[?0].orValue(2) == 1", ("value", "true")),
    ("opt-index-dyn", "optional.of(dyn({'a': 1}))['a'] == optional.of(1)", ("value", "true")),
    ("opt-index-dyn", "optional.of(dyn({'a': 1}))['a'] == 1", ("check_error", "`(optional(dyn), int)`")),
    ("opt-index-dyn", "optional.of(dyn({'a': 1}))[?'a'] == 1", ("check_error", "`(optional(dyn), int)`")),
    ("opt-index-dyn", "optional.of(dyn([1]))[0u] == 1", ("check_error", "`(optional(dyn), int)`")),
    ("opt-index-dyn", "optional.of(dyn({true: 1}))[true] == 1", ("check_error", "`(optional(dyn), int)`")),
    ("opt-index-dyn", "dyn({'a': 1}).?a == 1", ("check_error", "`(optional(dyn), int)`")),
    ("opt-index-dyn", "optional.of(dyn({'a': 1})).a == 1", ("check_error", "`(optional(dyn), int)`")),
    ("opt-index-dyn", "optional.of([1])[0u].value()", ("check_error", "`_[_]` applied to `(optional(list(int)), uint)`")),
    ("opt-flat-map-join", "optional.of(1).optFlatMap(x, null) == timestamp(0)", ("check_error", "`_==_` applied to `(optional(")),
    ("opt-flat-map-join", "optional.of(1).optFlatMap(x, null) == duration('1s')", ("check_error", "`_==_` applied to `(optional(")),
    ("opt-flat-map-join", "optional.of(1).optFlatMap(x, null) == optional.of(1)", ("value", "false")),
    ("opt-flat-map-join", "optional.of(1).optFlatMap(x, null) == null", ("value", "true")),
    ("opt-flat-map-join", "dyn(optional.of(1)).optFlatMap(x, x) == 1", ("check_error", "`_==_` applied to `(optional(")),
    ("opt-flat-map-join", "dyn(optional.of(1)).optFlatMap(x, x) == optional.of(1)", ("value", "false")),
    ("opt-flat-map-join", "dyn(optional.of(optional.of(1))).optFlatMap(x, x) == optional.of(1)", ("value", "true")),
    ("opt-flat-map-join", "optional.none().optFlatMap(x, x) == 1", ("check_error", "`_==_` applied to `(optional(")),
    ("opt-flat-map-join", "optional.none().optFlatMap(x, x) == optional.none()", ("value", "true")),
    ("opt-flat-map-join", "dyn(optional.of(1)).optMap(x, x + 1).value() + 1", ("value", "3")),
    ("opt-flat-map-join", "dyn(optional.of('a')).optMap(x, x + 'b').value()", ("value", "'ab'")),
    ("opt-flat-map-join", "optional.of(1).optFlatMap(x, dyn(x)) == 1", ("value", "true")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, 1) == 1", ("check_error", "`_==_` applied to `(list(dyn), int)`")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, int(x)) == 'a'", ("check_error", "`(list(dyn), string)`")),
    ("sort-by-dyn", "dyn({'b': 1}).sortBy(x, 1) == 1", ("check_error", "`(list(dyn), int)`")),
    ("sort-by-dyn", "dyn(1).sortBy(x, 1) == 1", ("check_error", "`(list(dyn), int)`")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, int(x)) == [1, 2]", ("value", "true")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, int(x))[0] + 1", ("value", "2")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, x > 1) == [1, 2]", ("value", "true")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, x) == 1", ("value", "false")),
    ("sort-by-dyn", "dyn(['b', 'a']).sortBy(x, x) == 'a'", ("value", "false")),
    ("sort-by-dyn", "dyn([2, 1]).sortBy(x, null) == 1", ("error", "sortBy")),
    ("mixed-list-range", "[1, dyn(duration('0s'))].exists(x, x == 1)", ("value", "true")),
    ("mixed-list-range", "[9.2e18, dyn(duration('0s'))].exists(x, x == 1.0)", ("value", "false")),
    ("mixed-list-range", "[1, dyn(timestamp(0))].exists(x, x == 2)", ("value", "false")),
    ("mixed-list-range", "[1, dyn(timestamp(0))].all(x, x != 3)", ("value", "true")),
    ("mixed-list-range", "[1, dyn(timestamp(0))].exists_one(x, x == 1)", ("value", "true")),
    ("mixed-list-range", "[1, dyn(duration('1s')), 2].map(x, x)", ("value", "[1, duration('1s'), 2]")),
    ("mixed-list-range", "dyn([1, timestamp(0)]).map(x, type(x))", ("value", "[int, google.protobuf.Timestamp]")),
    ("mixed-list-range", "dyn([1.5, duration('1s')]).filter(x, x != 1.5)", ("value", "[duration('1s')]")),
    ("mixed-list-range", "[2, dyn(timestamp(0))].transformList(i, v, v == 2)", ("value", "[true, false]")),
    ("mixed-list-range", "cel.bind(l, [2, dyn(timestamp(0)), dyn(duration('1s'))], l.exists(x, x == 2))",
     ("value", "true")),
    ("mixed-list-range", "[1, dyn(timestamp(0))].sortBy(x, 1).size()", ("value", "2")),
    ("mixed-list-range", "[dyn(timestamp(0)), 1].exists(x, x == 1)", ("value", "true")),
    ("mixed-list-range", "[2, dyn(timestamp(0))].sort()", ("error", "the same type")),
]
IDS = [f"{c_[0]}:{c_[1]!r}" for c_ in CASES]


def test_every_row_names_a_class() -> None:
    check_classes(CASES, CLASSES)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_case(klass: str, expr: str, want: tuple[str, str]) -> None:
    check_ours(ours, expr, want, syntax=False)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_table_agrees_with_cel_cpp(klass: str, expr: str, want: tuple[str, str]) -> None:
    check_cpp(ours, theirs, expr, want, same_kind=True)


# -- differences we keep, each tested to still be one --------------------------------------
# (expression, type-checked?, our kind, cel-cpp's kind, why)
KEPT: list[tuple[str, bool, str, str, str]] = [
    ("{1: 1} in [{1u: 1}]", False, "value", "value",
     "`in` is equality (langdef: `e in l` holds when some element equals `e`), and `{1: 1} == {1u: 1}` in both "
     "runtimes; cel-cpp's list membership compares maps of different key types as unequal"),
    ("sets.contains([{1u: 1}], [{1: 1}])", False, "value", "value", "the same in cel-cpp's sets extension"),
    ("[{1u: 1}, {1: 1}].distinct()", False, "value", "value", "the same in cel-cpp's `distinct`"),
]


@pytest.mark.parametrize(("expr", "checked", "mine", "cpp", "why"), KEPT, ids=[repr(k[0])[:60] for k in KEPT])
def test_each_kept_difference_is_still_one(expr: str, checked: bool, mine: str, cpp: str, why: str) -> None:
    got, want = ours(expr, checked), theirs(expr, checked)
    assert (got[0], want[0]) == (mine, cpp), (expr, got, want)
    if mine == cpp == "value":
        assert norm(got[1]) != norm(want[1]), (expr, got, want)
