"""Wave 23: what the regex and optional libraries do at their edges, against cel-cpp.

Found by a throwaway fuzzer against Google's C++ runtime (``cel-expr-python`` with its regex
extension on; counts in docs/decisions.md), by running every expression of cel-go's own
test tables (``cel/*_test.go``, ``ext/*_test.go``...) through ours and cel-cpp, and by re-running
cel-go's optional tests with the variables they declare (``DECLARED``; cel-cpp's Python binding
cannot declare an optional variable, so those rows are ours only).

Each row of ``CASES`` runs type-checked and unchecked through ours and, where
``cel-expr-python`` is installed, through cel-cpp: both must give the row's answer (cel-cpp's
checker does not declare the optional library's version 2, which its runtime has: those rows
are compared unchecked only). A row's ``want`` is ``(checked answer, unchecked answer)``, each
``("value", CEL literal)``, ``("error", piece of our message)`` or ``("check_error", piece)``.
``KEPT`` rows are ours only, each with what cel-cpp answers instead, so a row whose
difference went away fails and is moved to ``CASES``.

Classes (``CLASSES``; a row naming another fails):
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from differential_table import check_classes
from test_differential_wave11 import _ours
from test_differential_wave16 import c  # cel-cpp, None where it is not installed
from test_differential_wave19 import _as_cpp, typed
from test_differential_wave21 import _theirs

from aigw_policy import cel

CLASSES = {
    "regex-byte": "RE2's `\\C` matches one byte, which may cut a character in two: `regex.extract`, "
                  "`regex.extractAll` and `regex.replace` failed with `internal error: UnicodeDecodeError`. "
                  "A piece that cuts a character is now an error of its own (a CEL string holds whole "
                  "characters; cel-go's RE2 dialect has no `\\C`, cel-cpp hands out the stray bytes), and a "
                  "`regex.replace` whose pieces join into whole characters again is its text, as in cel-cpp",
    "optional-unwrap": "the optional library's version 2 (cel-go's latest, cel-cpp's runtime) has "
                       "`optional.unwrap(list(optional(T)))` and `list(optional(T)).unwrapOpt()`, the values "
                       "of the present optionals; we had its `first` and `last` only, and the two were "
                       "undeclared",
    "optional-select-declared": "`o.f` on a declared variable `o` of an optional type is an optional of the field "
                                "(cel-go's `TestOptionalValuesEval`: `optm.c.index.orValue('default value')`), as "
                                "`optional.of(m).f` already was; the checker typed a declared variable's selections "
                                "without the optional rule, so `optm.c`, `has(optm.c)` were refused (AIGW303) though "
                                "they ran unchecked",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

Want = tuple[str, str]
BOTH = lambda w: (w, w)  # noqa: E731 - the same answer checked and unchecked
CASES: list[tuple[str, str, tuple[Want, Want]]] = [
    ("regex-byte", "regex.replace('Σς', '\\\\C(a|b)*?', '\\\\0')", BOTH(("value", "'Σς'"))),
    ("regex-byte", "regex.replace('😀', '\\\\C', 'x')", BOTH(("value", "'xxxx'"))),
    ("regex-byte", "regex.replace('aé', '\\\\C\\\\C$', '[\\\\0]')", BOTH(("value", "'a[é]'"))),
    ("regex-byte", "regex.replace('é', '(\\\\C)(\\\\C)', '\\\\1\\\\2!')", BOTH(("value", "'é!'"))),
    ("regex-byte", "regex.extract('é', '\\\\C\\\\C').value()", BOTH(("value", "'é'"))),
    ("regex-byte", "regex.extractAll('éé', '(\\\\C\\\\C)')", BOTH(("value", "['é', 'é']"))),
    ("regex-byte", "regex.extractAll('é', '\\\\C\\\\C')", BOTH(("value", "['é']"))),
    ("regex-byte", "'😀'.matches('^\\\\C\\\\C\\\\C\\\\C$')", BOTH(("value", "true"))),
    ("regex-byte", "'😀'.matches('^\\\\C$')", BOTH(("value", "false"))),
    ("regex-byte", "regex.replace('😀', '\\\\C', 'x', 0)", BOTH(("value", "'😀'"))),
    ("optional-unwrap", "optional.unwrap([optional.of(1), optional.none()])", BOTH(("value", "[1]"))),
    ("optional-unwrap", "[optional.of(42), optional.none(), optional.of('a')].unwrapOpt()",
     BOTH(("value", "[42, 'a']"))),
    ("optional-unwrap", "optional.unwrap([optional.of(42), optional.of('a')])", BOTH(("value", "[42, 'a']"))),
    ("optional-unwrap", "optional.unwrap([])", BOTH(("value", "[]"))),
    ("optional-unwrap", "[].unwrapOpt()", BOTH(("value", "[]"))),
    ("optional-unwrap", "[optional.none(), optional.none()].unwrapOpt()", BOTH(("value", "[]"))),
    ("optional-unwrap", "optional.unwrap([optional.of(1u), optional.of(2u)])", BOTH(("value", "[1u, 2u]"))),
    ("optional-unwrap", "optional.unwrap([optional.of(1)])[0] + 1", BOTH(("value", "2"))),
    ("optional-unwrap", "[{'a': 1}.?a, {'a': 1}.?b, [1][?0]].unwrapOpt()", BOTH(("value", "[1, 1]"))),
    ("optional-unwrap", "optional.unwrap([optional.of(optional.of(1))])[0].value()", BOTH(("value", "1"))),
    ("optional-unwrap", "size([optional.none(), optional.ofNonZeroValue('')].unwrapOpt())", BOTH(("value", "0"))),
    ("optional-unwrap", "cel.bind(optional, [optional.of(1)], optional.unwrap(optional))", BOTH(("value", "[1]"))),
    ("optional-unwrap", "optional.unwrap([dyn(optional.of(1)), dyn(2)])", BOTH(("error", "is not an optional"))),
    ("optional-unwrap", "optional.unwrap([null])", BOTH(("error", "is not an optional"))),
    ("optional-unwrap", "optional.unwrap([1])",
     (("check_error", "no matching overload"), ("error", "is not an optional"))),
    ("optional-unwrap", "[1].unwrapOpt()", (("check_error", "no matching overload"), ("error", "is not an optional"))),
    ("optional-unwrap", "optional.unwrap({})", (("check_error", "no matching overload"), ("error", "no such overload"))),
    ("optional-unwrap", "dyn(1).unwrapOpt()", BOTH(("error", "no such overload"))),
    ("optional-unwrap", "optional.unwrap([optional.of(1)]) == [1u]",
     (("check_error", "no matching overload"), ("value", "true"))),
]
IDS = [f"{k}:{e}" for k, e, _ in CASES]

_OPTM = "optional(map(string, map(string, string)))"
DECLARED: list[tuple[str, dict[str, str], dict[str, object], str, Want]] = [  # ours only: cel-cpp's Python
    # binding cannot declare an optional variable (its `AbstractType('optional_type')` is another type)
    ("optional-select-declared", {"optm": _OPTM}, {"optm": {"c": {"index": "goodbye"}}},
     "optm.c.index.orValue('default value')", ("value", "'goodbye'")),
    ("optional-select-declared", {"optm": _OPTM}, {"optm": {"c": {}}},
     "optm.c.missing.orValue('default value')", ("value", "'default value'")),
    ("optional-select-declared", {"optm": _OPTM}, {"optm": None},
     "optm.c.index.orValue('default value')", ("value", "'default value'")),
    ("optional-select-declared", {"optm": _OPTM}, {"optm": {"c": {"index": "goodbye"}}},
     "optm.c['index'].orValue('default value')", ("value", "'goodbye'")),
    ("optional-select-declared", {"optm": _OPTM}, {"optm": {"c": {"entry": "hello world"}}},
     "has(optm.c) && !has(optm.c.missing)", ("value", "true")),
    ("optional-select-declared", {"optm": _OPTM}, {"optm": None}, "has(optm.c)", ("value", "false")),
    ("optional-select-declared", {"optm": _OPTM, "optl": "optional(list(string))"},
     {"optm": {"c": {}}, "optl": ["list-value"]}, "optm.c.missing.or(optl[0]).orValue('default value')",
     ("value", "'list-value'")),
    ("optional-select-declared", {"om": "optional(map(string, int))"}, {"om": {"a": 1}}, "om.a.value() + 1",
     ("value", "2")),
    ("optional-select-declared", {"a.b": "optional(map(string, int))"}, {"a.b": {"c": 3}}, "a.b.c.orValue(7)",
     ("value", "3")),
    ("optional-select-declared", {"om": "optional(map(string, int))"}, {"om": {"a": 1}}, "om.a + 1",
     ("check_error", "no matching overload")),
    ("optional-select-declared", {"om": "optional(map(string, int))"}, {"om": {"a": 1}}, "om.a.orValue('x')",
     ("check_error", "no matching overload")),
]
CPP_UNCHECKED_ONLY = {"optional-unwrap"}  # cel-cpp's checker lacks them; its runtime has them

KEPT: list[tuple[str, str, Want, Want]] = [  # (class, expr, ours (checked and unchecked), cel-cpp's)
    ("regex-byte", "regex.extract('😀', '\\\\C').hasValue()", ("error", "cuts a UTF-8 character"), ("value", "true")),
    ("regex-byte", "size(regex.replace('😀', '\\\\C', 'x', 1))", ("error", "cuts a UTF-8 character"), ("value", "4")),
    ("regex-byte", "regex.replace('😀', '\\\\C', 'x', 1) == 'x'", ("error", "cuts a UTF-8 character"),
     ("value", "false")),
    ("regex-byte", "size(regex.extractAll('ab😀ab', '\\\\C(?-s:.)'))", ("error", "cuts a UTF-8 character"),
     ("value", "2")),
]
KEPT_IDS = [f"{k}:{e}" for k, e, _, _ in KEPT]
UNREADABLE = [  # cel-cpp makes a string that is no UTF-8, which its Python binding cannot hand over
    "regex.extract('😀', '\\\\C')",
    "regex.extractAll('😀é', '(\\\\C\\\\C)')",
    "regex.replace('é', '\\\\C', '\\\\0\\\\0')",
    "regex.replace('é', '^\\\\C', '')",
]


@pytest.mark.parametrize(("klass", "decls", "values", "expr", "want"), DECLARED, ids=[r[3] for r in DECLARED])
def test_a_declared_optional(klass: str, decls: dict[str, str], values: dict[str, object], expr: str,
                             want: Want) -> None:
    """Type-checked with the declarations; the activation's optionals are built from ``values``
    (``None`` is ``optional.none()``)."""
    from aigw_policy.cel.runtime.values import NONE, Optional

    act = {k: NONE if v is None else Optional(v, True) for k, v in values.items()}
    cel.clear_cache()
    try:
        prog = cel.compile(expr, decls)
    except cel.CelError as e:
        kind, got = "check_error", str(e)
    else:
        try:
            kind, got = "value", prog(act)
        except cel.CelError as e:
            kind, got = "error", str(e)
    _check(kind, got, want, expr)


def _check(kind: str, got: object, want: Want, expr: str) -> None:
    assert kind == want[0], (expr, kind, got)
    if kind == "value":
        assert typed(got) == typed(cel.compile(want[1])({})), (expr, got, want[1])
    else:
        assert want[1] in str(got), (expr, got)


def test_every_row_names_a_class() -> None:
    check_classes([(k, e, w[0]) for k, e, w in CASES], CLASSES)
    check_classes([(k, e, w[1]) for k, e, w in CASES], CLASSES)
    check_classes([(k, e, w) for k, e, w, _ in KEPT], CLASSES)
    check_classes([(k, e, w) for k, _, _, e, w in DECLARED], CLASSES)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_case(klass: str, expr: str, want: tuple[Want, Want], checked: bool) -> None:
    cel.clear_cache()
    _check(*_ours(expr, checked), want[0] if checked else want[1], expr)


@pytest.mark.parametrize(("klass", "expr", "want", "cpp"), KEPT, ids=KEPT_IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_kept(klass: str, expr: str, want: Want, cpp: Want, checked: bool) -> None:
    cel.clear_cache()
    _check(*_ours(expr, checked), want, expr)


@pytest.mark.parametrize("expr", UNREADABLE)
def test_a_match_that_cuts_a_character_is_an_error_of_its_own(expr: str) -> None:
    for checked in (True, False):
        cel.clear_cache()
        kind, got = _ours(expr, checked)
        assert kind == "error" and "cuts a UTF-8 character" in str(got), (expr, got)
        assert "internal" not in str(got), got


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_agreed_with_cel_cpp(klass: str, expr: str, want: tuple[Want, Want], checked: bool) -> None:
    if checked and klass in CPP_UNCHECKED_ONLY:
        assert _theirs(expr, True)[0] == "check_error", expr  # its checker lacks them still
        return
    kind, got = _theirs(expr, checked)
    w = want[0] if checked else want[1]
    assert kind == w[0], (expr, kind, got)
    if kind == "value":
        assert got == _as_cpp(cel.compile(w[1])({})), (expr, got, w[1])


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize(("klass", "expr", "want", "cpp"), KEPT, ids=KEPT_IDS)
def test_kept_still_differs_from_cel_cpp(klass: str, expr: str, want: Want, cpp: Want) -> None:
    kind, got = _theirs(expr, True)
    assert kind == cpp[0], (expr, kind, got)
    if kind == "value":
        assert got == _as_cpp(cel.compile(cpp[1])({})), (expr, got, cpp[1])


@pytest.mark.skipif(c is None, reason="cel-expr-python (cel-cpp) not installed: the rows are not compared")
@pytest.mark.parametrize("expr", UNREADABLE)
def test_cel_cpp_still_makes_no_text_of_it(expr: str) -> None:
    with pytest.raises(TypeError):
        _theirs(expr, True)


_ITEMS = st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=6)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)


@given(items=_ITEMS)
@settings(max_examples=60, deadline=None)
def test_unwrap_keeps_the_present_values_in_order(items: list[int | None]) -> None:
    """``optional.unwrap(l)`` and ``l.unwrapOpt()`` are the present values, in order."""
    text = "[" + ", ".join("optional.none()" if v is None else f"optional.of({v})" for v in items) + "]"
    want = [v for v in items if v is not None]
    assert cel.compile(f"optional.unwrap({text})", {})({}) == want
    assert cel.compile(f"{text}.unwrapOpt()")({}) == want


@given(text=_TEXT, width=st.integers(1, 4), fn=st.sampled_from(["regex.extractAll(s, p)", "regex.replace(s, p, '<\\\\0>')",
                                                                "regex.extract(s, p).orValue('')"]))
@settings(max_examples=80, deadline=None)
def test_a_byte_pattern_gives_whole_characters_or_its_own_error(text: str, width: int, fn: str) -> None:
    """A pattern of ``\\C`` (one byte each) over any text: whole characters, each piece what
    the text's UTF-8 holds at those bytes, or the error that says a character was cut."""
    prog = cel.compile(fn, {"s": "string", "p": "string"})
    try:
        got = prog({"s": text, "p": "\\C" * width})
    except cel.CelError as e:
        assert e.code == "invalid_argument" and "cuts a UTF-8 character" in str(e), e
        return
    for piece in got if isinstance(got, list) else [got]:
        assert isinstance(piece, str)
        piece.encode("utf-8")  # no lone surrogate: whole characters
