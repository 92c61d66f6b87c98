"""Wave 13: the lexer's and the macro expanders' syntax against cel-cpp.

Found by a throwaway fuzzer drawing from what the earlier generators do not reach: string and
bytes literals of every prefix, quote and escape (and the line breaks written inside them),
number literals and the signs before them, reserved words and keywords where names stand,
macro calls whose variables are not names, error absorption through ``&&``, ``||``, ``?:``
and every comprehension, mixed numbers in ``==``, ``in`` and map keys, time arithmetic at
its range edges, and well-typed expressions drawn by type (checked and unchecked). Each row is
one expression and what it must give type-checked; ``check_error`` rows are refused, and run
unchecked they must fail in cel-cpp too. Every row also runs through Google's C++ runtime
(``cel-expr-python``), so a row cannot drift.

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
    "in-keyword": "`in` is an operator token of CEL.g4's lexer, never a name: `in`, `.in`, `in(1, [1])` and a "
                  "macro variable `in` are syntax errors (AIGW202), checked or not; unchecked we read `in` as an "
                  "undeclared name, an evaluation error that `||` absorbed",
    "macro-var": "a receiver macro's variables are simple names (cel-go's and cel-cpp's expanders: \"variable name "
                 "must be a simple identifier\"): `[1].map(x.y, 1)`, `l.all(1, true)`, `m.exists(k, 1, p)`, "
                 "`l.transformList(i, 'v', v)` are refused as syntax, checked or not; unchecked they were calls of an "
                 "unbound function, so `false && [1].map(1, 1) == []` was false",
    "signed-literal": "CEL.g4's `literal: sign=MINUS? NUM_INT | sign=MINUS? NUM_FLOAT` is a primary: the `-` of a "
                      "number belongs to it, so `!-1` parses (we refused it), `!!-1` is `-1`, and "
                      "`-9223372036854775808.f()` applies `f` to the int64 minimum (we read `-(9223372036854775808"
                      ".f())`, out of range at compile time); only white space or comments stand between sign and digits",
    "literal-newline": "a line break written inside a string or bytes literal (triple-quoted, raw or not) is LF, "
                       "whether the text has CR LF or CR (cel-go's `unescape` normalizes them first, cel-cpp too); "
                       "we kept the CR",
    "quoted-line-break": "a literal between one-character quotes (not triple) holds no line break, not even after a backslash (CEL.g4: "
                         "`~('\\\\' | '\"' | '\\n' | '\\r')` and escapes that name no CR or LF): our lexer let "
                         "`\\` then CR through (`\"\\\\<CR>\"` was a backslash and a line break), because the "
                         "grammar's class `[^\\\\\"\\r\\n]` lost its backslash to lark's escaping",
    "namespace-shadow": "a namespaced function (`math.abs`, `strings.quote`, `optional.of`, `lists.range`...) or macro "
                        "(`cel.bind`, `math.greatest`) is found before a variable of the namespace's name, declared "
                        "or bound by a macro or `cel.bind` (cel-go's checker and planner look the qualified function up "
                        "first; macros expand while parsing); the variable hid them (`undeclared reference to function`)",
}
__doc__ += "".join(f"\n* ``{k}``: {v}." for k, v in CLASSES.items())

# (class, expression, ("value", CEL literal) | ("error", piece of the message) | ("check_error", piece))
CASES: list[tuple[str, str, tuple[str, str]]] = [
    ("in-keyword", "in", ("check_error", "`in` is a keyword")),
    ("in-keyword", ".in", ("check_error", "`in` is a keyword")),
    ("in-keyword", "in.x", ("check_error", "`in` is a keyword")),
    ("in-keyword", "in(1, [1])", ("check_error", "`in` is a keyword")),
    ("in-keyword", "true || in", ("check_error", "`in` is a keyword")),
    ("in-keyword", "[1].map(in, in)", ("check_error", "`in` is a keyword")),
    ("in-keyword", "cel.bind(in, 1, in)", ("check_error", "`in` is a keyword")),
    ("in-keyword", "[1].exists(x, in == x)", ("check_error", "`in` is a keyword")),
    ("in-keyword", "1 in [1]", ("value", "true")),
    ("in-keyword", "{'in': 1}['in']", ("value", "1")),
    ("in-keyword", "{'index': 2}.index", ("value", "2")),
    ("in-keyword", "[3].map(inx, inx)", ("value", "[3]")),
    ("macro-var", "[1].map(x.y, 1)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].map(1, 1)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "false && [1].map(1, 1) == []", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "true || [1].all(1, true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].exists_one(a.b, true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].filter('x', true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].exists(null, true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].map(.x, 1)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].map(x, x > 0, x)", ("value", "[1]")),
    ("macro-var", "{'a': 1}.all(1, v, true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "{'a': 1}.exists(k, 1, true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].existsOne(i, 1, true)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].transformList(1, v, v)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].transformList(i, 'v', v)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].transformMap(a.b, v, v)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[1].sortBy(1, 1)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "optional.of(1).optMap(1, 2)", ("check_error", "variable name must be a simple identifier")),
    ("macro-var", "[2, 1].exists(i, v, i == 0 && v == 2)", ("value", "true")),
    ("macro-var", "[1].map(x, x)", ("value", "[1]")),
    ("signed-literal", "!-1", ("check_error", "`!_` applied to `(int)`")),
    ("signed-literal", "!-1.5", ("check_error", "`!_` applied to `(double)`")),
    ("signed-literal", "true || !-1", ("check_error", "`!_` applied to `(int)`")),
    ("signed-literal", "!!-1", ("value", "-1")),
    ("signed-literal", "!!-9223372036854775808 == -9223372036854775808", ("value", "true")),
    ("signed-literal", "!!-.5", ("value", "-0.5")),
    ("signed-literal", "-9223372036854775808.charAt(1)", ("check_error", "`charAt` applied to `(int, int)`")),
    ("signed-literal", "false && -9223372036854775808.charAt(1) == ''", ("check_error", "`charAt` applied to")),
    ("signed-literal", "-9223372036854775808[0]", ("check_error", "`_[_]` applied to `(int, int)`")),
    ("signed-literal", "-9223372036854775808.a", ("check_error", "does not support field selection")),
    ("signed-literal", "-//sign\n9223372036854775808", ("value", "-9223372036854775808")),
    ("signed-literal", "- 9223372036854775808", ("value", "-9223372036854775808")),
    ("signed-literal", "-(9223372036854775808)", ("check_error", "does not fit in 64 bits")),
    ("signed-literal", "--9223372036854775808", ("check_error", "does not fit in 64 bits")),
    ("signed-literal", "!-1u", ("check_error", "unexpected `-`")),
    ("signed-literal", "!-x", ("check_error", "unexpected `-`")),
    ("signed-literal", "!!-(1)", ("check_error", "unexpected `-`")),
    ("signed-literal", "-1 * -1", ("value", "1")),
    ("signed-literal", "[-1][0]", ("value", "-1")),
    ("literal-newline", "'''a\r\nb'''", ("value", "'a\\nb'")),
    ("literal-newline", "'''a\rb'''", ("value", "'a\\nb'")),
    ("literal-newline", "\"\"\"a\r\n\r\nb\"\"\"", ("value", "'a\\n\\nb'")),
    ("literal-newline", "r'''a\r\nb'''", ("value", "'a\\nb'")),
    ("literal-newline", "R\"\"\"\r\"\"\"", ("value", "'\\n'")),
    ("literal-newline", "b'''a\r\nb'''", ("value", "b'a\\nb'")),
    ("literal-newline", "br'''\r'''", ("value", "b'\\n'")),
    ("literal-newline", "'''\\x41\r\n\\u00e9'''.size()", ("value", "3")),
    ("literal-newline", "'''a\r\nb'''.size()", ("value", "3")),
    ("literal-newline", "'''a\\r\\nb'''.size()", ("value", "4")),
    ("literal-newline", "'''\\r''' == '\\r'", ("value", "true")),
    ("literal-newline", "'''\\\r\n'''", ("check_error", "invalid escape")),
    ("quoted-line-break", '"\\\\\r"', ("check_error", "unterminated string")),
    ("quoted-line-break", "'a\\\\\r'", ("check_error", "unterminated string")),
    ("quoted-line-break", 'b"\\\\\r"', ("check_error", "unterminated string")),
    ("quoted-line-break", "b'\\\\\r\n'", ("check_error", "unterminated string")),
    ("quoted-line-break", '"\\\r"', ("check_error", "unterminated string")),
    ("quoted-line-break", "'a\r'", ("check_error", "unterminated string")),
    ("quoted-line-break", "'a\\'", ("check_error", "unterminated string")),
    ("quoted-line-break", '"\\\\"', ("value", "'\\\\'")),
    ("quoted-line-break", "'\\''", ("value", '"\'"')),
    ("quoted-line-break", "'\\r\\n'.size()", ("value", "2")),
    ("namespace-shadow", "cel.bind(math, 1, math.abs(-2))", ("value", "2")),
    ("namespace-shadow", "[1].map(math, math.greatest(1, 2))", ("value", "[2]")),
    ("namespace-shadow", "[1].map(math, math.least([math, 0]))", ("value", "[0]")),
    ("namespace-shadow", "cel.bind(cel, 1, cel.bind(y, 2, y + cel))", ("value", "3")),
    ("namespace-shadow", "cel.bind(strings, {'quote': 1}, strings.quote('a'))", ("value", "'\"a\"'")),
    ("namespace-shadow", "cel.bind(base64, 1, base64.encode(b'a'))", ("value", "'YQ=='")),
    ("namespace-shadow", "cel.bind(lists, 1, lists.range(2))", ("value", "[0, 1]")),
    ("namespace-shadow", "[1].map(optional, optional.of(optional).value())", ("value", "[1]")),
    ("namespace-shadow", "[[1]].exists(sets, sets.contains(sets, [1]))", ("value", "true")),
    ("namespace-shadow", "cel.bind(math, {'pi': 3}, math.pi)", ("value", "3")),
    ("namespace-shadow", "cel.bind(math, {'abs': 1}, math.abs)", ("value", "1")),
    ("namespace-shadow", "cel.bind(optional, {'of': 5}, optional.of)", ("value", "5")),
    ("namespace-shadow", "cel.bind(math, {'x': 1}, math.x(1))", ("check_error", "undeclared reference to function")),
]
IDS = [f"{c_[0]}:{c_[1]!r}" for c_ in CASES]
SYNTAX = {"in-keyword", "macro-var", "literal-newline", "quoted-line-break"}


def test_every_row_names_a_class() -> None:
    check_classes(CASES, CLASSES)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_case(klass: str, expr: str, want: tuple[str, str]) -> None:
    check_ours(ours, expr, want, syntax=klass in SYNTAX)


@pytest.mark.parametrize(("klass", "expr", "want"), CASES, ids=IDS)
def test_table_agrees_with_cel_cpp(klass: str, expr: str, want: tuple[str, str]) -> None:
    check_cpp(ours, theirs, expr, want, same_kind=True)


@pytest.mark.parametrize(("expr", "want"), [("math.abs(-2)", 2), ("math.greatest(1, 3)", 3), ("math.x", 7),
                                            ("size(math)", 1), ("cel.bind(math, 2, math.sign(math))", 1)])
def test_a_declared_variable_does_not_hide_a_namespaced_function(expr: str, want: int) -> None:
    """A variable declared ``math`` (a map here) leaves ``math.abs`` the function, as in cel-go and
    cel-cpp; selecting from it is the variable's."""
    got = cel.compile(expr, {"math": "map(string, int)"})({"math": {"x": 7}})
    env = c.NewEnv(variables={"math": c.Type.Map(c.Type.STRING, c.Type.INT)}, config=_cpp_config())
    assert got == want == env.compile(expr).eval(data={"math": {"x": 7}}).plain_value(), expr


def _cpp_config():  # type: ignore[no-untyped-def]
    from test_differential_wave12 import CPP_CONFIG

    return c.NewEnvConfigFromYaml(CPP_CONFIG)


def test_the_sign_and_the_member_make_one_span() -> None:
    """``-9223372036854775808.charAt(1)``: the call's span starts at the sign (diagnostics point
    at the whole member, as before at the negation)."""
    from aigw_policy.cel.parser import parse

    node = parse("-9223372036854775808.charAt(1)")
    assert (node.span.start, node.span.end) == (0, 30)
    assert node.target.value == -(2**63) and (node.target.span.start, node.target.span.end) == (0, 20)  # type: ignore[union-attr]


# -- differences we keep, each tested to still be one --------------------------------------
# (expression, type-checked?, our kind, cel-cpp's kind, why)
KEPT: list[tuple[str, bool, str, str, str]] = [
    ('bR"\\"', True, "value", "check_error", "a raw literal keeps its backslash, last or not (cel-go's unescape); "
                                             "cel-cpp's bytes lexer asks for a closing quote after it"),
    ("r'''\\\r\n'''", True, "value", "value", "cel-go normalizes every line break first; cel-cpp keeps CR LF after a "
                                              "backslash in a raw literal"),
    ("optional.of([1])[1].hasValue()", True, "value", "value",
     "cel-go's optional chaining: an absent element is optional.none(); cel-cpp wraps the index error in an optional"),
    ("[1].exists_one(i, v, true)", True, "value", "check_error", "cel-go's two-variable macros include exists_one"),
]


@pytest.mark.parametrize(("expr", "checked", "mine", "cpp", "why"), KEPT, ids=[repr(k[0])[:60] for k in KEPT])
def test_each_kept_difference_is_still_one(expr: str, checked: bool, mine: str, cpp: str, why: str) -> None:
    got, want = ours(expr, checked), theirs(expr, checked)
    assert (got[0], want[0]) == (mine, cpp), (expr, got, want)
    if mine == cpp == "value":
        assert norm(got[1]) != norm(want[1]), (expr, got, want)


# -- properties: every literal form, both runtimes -------------------------------------------
PIECES = ["a", "\\\\", "\\'", '\\"', "\\n", "\\r", "\\t", "\\a", "\\b", "\\f", "\\v", "\\?", "\\`", "\\x41", "\\xFF",
          "\\101", "\\377", "\\u00e9", "\\U0001F600", "\\z", "\\8", "\\400", "\\uD800", "\n", "\r", "\r\n", "\t",
          "é", "😀", "\\\r\n", "'", '"']
PREFIXES = ["", "r", "R", "b", "B", "br", "bR", "Rb"]
QUOTES = ["'", '"', "'''", '"""']


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("quote", QUOTES)
def test_literals_agree_with_cel_cpp(prefix: str, quote: str) -> None:
    """Every piece and every pair of pieces in every literal form: both read the same value or
    both refuse (a raw bytes literal ending in a backslash and a raw CR LF after a backslash are
    kept differences, above)."""
    for i, a in enumerate(PIECES):
        for b in PIECES[i:]:
            body = a + b
            if "r" in prefix.lower() and ("\\\r" in body or body.endswith("\\")):
                continue
            expr = f"{prefix}{quote}{body}{quote}"
            got, want = ours(expr, False), theirs(expr, False)
            assert got[0] == want[0], (expr, got, want)
            if got[0] == "value":
                assert norm(got[1]) == norm(want[1]), (expr, got, want)
