"""CEL syntax: the cel-spec conformance expressions, AST shapes, literals, spans, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from aigw_policy.cel import ast
from aigw_policy.cel.parser import CelSyntaxError, parse
from aigw_policy.source import Source

from shared_data import CEL_SPEC as SPEC_DIR, require
from work import calls
DATA = Path(__file__).parent / "data"


def _spec_cases():
    if not SPEC_DIR.is_dir():
        return []
    cases = []
    for path in sorted(SPEC_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        for section in doc.get("section", []):
            for test in section.get("test", []):
                cases.append(pytest.param(test, id=f"{path.stem}/{section['name']}/{test['name']}"))
    return cases


SPEC_CASES = _spec_cases()


def test_every_cel_spec_expression_parses():
    require(SPEC_DIR)
    failures = []
    for case in SPEC_CASES:
        test = case.values[0]
        try:
            parse(test["expr"])
        except CelSyntaxError as error:
            failures.append((case.id, str(error)))
    assert failures == []
    assert len(SPEC_CASES) > 1000


def _literal_cases():
    return [c for c in SPEC_CASES if c.id.startswith(("parse/string_literals", "parse/bytes_"))]


@pytest.mark.parametrize("test", _literal_cases())
def test_cel_spec_literal_values(test):
    node = parse(test["expr"])
    assert isinstance(node, ast.Literal)
    value = test["value"]
    if "string_value" in value:
        assert node.kind == "string"
        assert node.value == value["string_value"]
    else:
        assert node.kind == "bytes"
        assert node.value == base64.b64decode(value["bytes_value"])


# --- shapes ---------------------------------------------------------------------------

def call(fn, *args, target=None):
    return ast.Call(fn, tuple(args), target, span=None)


def i(name):
    return ast.Ident(name, span=None)


def lit(value, kind="int"):
    return ast.Literal(value, kind, span=None)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a || b && c", call("_||_", i("a"), call("_&&_", i("b"), i("c")))),
        ("a && b || c", call("_||_", call("_&&_", i("a"), i("b")), i("c"))),
        ("a == b && c", call("_&&_", call("_==_", i("a"), i("b")), i("c"))),
        ("a + b * c", call("_+_", i("a"), call("_*_", i("b"), i("c")))),
        ("a - b - c", call("_-_", call("_-_", i("a"), i("b")), i("c"))),
        ("a / b % c", call("_%_", call("_/_", i("a"), i("b")), i("c"))),
        ("a < b + 1", call("_<_", i("a"), call("_+_", i("b"), lit(1)))),
        ("a in b == c", call("_==_", call("@in", i("a"), i("b")), i("c"))),
        ("a ? b : c ? d : e",
         call("_?_:_", i("a"), i("b"), call("_?_:_", i("c"), i("d"), i("e")))),
        ("a || b ? c : d", call("_?_:_", call("_||_", i("a"), i("b")), i("c"), i("d"))),
        ("!a.b", call("!_", ast.Select(i("a"), "b", span=None))),
        ("!!a", i("a")),  # an even run of `!` is its operand, as CEL.g4 reads it (cel-go, cel-cpp)
        ("-a * b", call("_*_", call("-_", i("a")), i("b"))),
        ("-1", lit(-1)),
        ("- 2.5", lit(-2.5, "double")),
        ("--1", lit(1)),
        ("-(1)", call("-_", lit(1))),
        ("-1u", call("-_", lit(1, "uint"))),
        ("1 - 1", call("_-_", lit(1), lit(1))),
        ("a.b.c", ast.Select(ast.Select(i("a"), "b", span=None), "c", span=None)),
        (".a.b", ast.Select(i(".a"), "b", span=None)),
        ("a.?b", ast.Select(i("a"), "b", True, span=None)),
        ("a[?0]", ast.Index(i("a"), lit(0), True, span=None)),
        ("a[0][1]", ast.Index(ast.Index(i("a"), lit(0), span=None), lit(1), span=None)),
        ("a.b(1, 2)", call("b", lit(1), lit(2), target=i("a"))),
        ("f()", call("f")),
        (".f(x)", call(".f", i("x"))),
        ("has(a.b)", call("has", ast.Select(i("a"), "b", span=None))),
        ("l.all(x, x > 0)", call("all", i("x"), call("_>_", i("x"), lit(0)), target=i("l"))),
        ("[1, ?x,]", ast.CreateList((lit(1), i("x")), (1,), span=None)),
        ("[]", ast.CreateList((), (), span=None)),
        ("{'a': 1, ?b: c}", ast.CreateMap((
            ast.MapEntry(lit("a", "string"), lit(1), span=None),
            ast.MapEntry(i("b"), i("c"), True, span=None)), span=None)),
        ("a.b.C{f: 1, ?g: x}", ast.CreateStruct("a.b.C", (
            ast.FieldInit("f", lit(1), span=None),
            ast.FieldInit("g", i("x"), True, span=None)), span=None)),
        (".C{}", ast.CreateStruct(".C", (), span=None)),
        ("a.`b-c`", ast.Select(i("a"), "b-c", span=None)),
        ("{}.for", ast.Select(ast.CreateMap((), span=None), "for", span=None)),
        ("a.package()", call("package", target=i("a"))),
        ("a // comment\n + b", call("_+_", i("a"), i("b"))),
    ],
)
def test_shapes(text, expected):
    assert parse(text) == expected


def test_long_logical_chains_are_balanced():
    node = parse(" && ".join(["a"] * 64))

    def depth(n):
        return 1 + max((depth(a) for a in n.args), default=0) if isinstance(n, ast.Call) else 1

    assert depth(node) == 7


# --- literals -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, value, kind",
    [
        ("0", 0, "int"), ("0x1F", 31, "int"), ("0x1f", 31, "int"),
        ("9223372036854775807", 2**63 - 1, "int"), ("-9223372036854775808", -(2**63), "int"),
        ("-0x8000000000000000", -(2**63), "int"),
        ("1u", 1, "uint"), ("0xFFU", 255, "uint"), ("18446744073709551615u", 2**64 - 1, "uint"),
        ("1.5", 1.5, "double"), (".5", 0.5, "double"), ("1e3", 1000.0, "double"),
        ("1.5E-3", 0.0015, "double"), ("2e+2", 200.0, "double"),
        ("true", True, "bool"), ("false", False, "bool"), ("null", None, "null"),
        ("'a\\tb'", "a\tb", "string"), ('"\\"q\\""', '"q"', "string"),
        ("'''x''x'''", "x''x", "string"), ('"""a\nb"""', "a\nb", "string"),
        ("r'\\d+'", "\\d+", "string"), ('R"\\n"', "\\n", "string"),
        ("r'''a\\'''", "a\\", "string"),
        ("'\\a\\b\\f\\n\\r\\t\\v\\\\\\'\\\"\\`\\?'", "\a\b\f\n\r\t\v\\'\"`?", "string"),
        ("'\\101\\x42\\X43\\u0044\\U00000045'", "ABCDE", "string"),
        ("'\\303\\277'", "Ã¿", "string"), ("'\\377'", "ÿ", "string"),
        ("'\\U0001F62C'", "😬", "string"), ("'é'", "é", "string"),
        ("b'abc'", b"abc", "bytes"), ("b'ÿ'", b"\xc3\xbf", "bytes"),
        ("b'\\303\\277'", b"\xc3\xbf", "bytes"), ("b'\\377'", b"\xff", "bytes"),
        ("b'\\xff'", b"\xff", "bytes"), ("B'''a\nb'''", b"a\nb", "bytes"),
        ("br'\\d'", b"\\d", "bytes"), ("bR\"\\x\"", b"\\x", "bytes"),
        ("''", "", "string"), ('""""""', "", "string"),
    ],
)
def test_literal_decoding(text, value, kind):
    node = parse(text)
    assert node == ast.Literal(value, kind, span=None)
    assert type(node.value) is type(value)


# --- spans ----------------------------------------------------------------------------

def test_spans_cover_the_text():
    node = parse("a.b(1, 'x') + -2")
    assert (node.span.start, node.span.end) == (0, 16)
    method, neg = node.args
    assert (method.span.start, method.span.end) == (0, 11)
    assert (method.target.span.start, method.target.span.end) == (0, 1)
    assert (method.args[1].span.start, method.args[1].span.end) == (7, 10)
    assert (neg.span.start, neg.span.end) == (14, 16)


def test_spans_with_offset_point_into_the_document():
    doc = Source("rule {\n  when  x.y  > 10\n}", name="p.aigw")
    start = doc.text.index("x.y")
    end = doc.text.index("10") + 2
    node = parse(doc.text[start:end], source=doc, offset=start)
    assert node.span.start == start and node.span.end == end
    assert (node.span.line, node.span.column) == (2, 9)
    assert node.span.file == "p.aigw"
    right = node.args[1]
    assert (right.span.line, right.span.column, right.span.end_column) == (2, 16, 18)


def test_error_spans_with_offset():
    doc = Source("when\n  a = 1")
    start = doc.text.index("a")
    with pytest.raises(CelSyntaxError) as info:
        parse(doc.text[start:], source=doc, offset=start)
    (d,) = info.value.diagnostics
    assert d.code == "AIGW004"
    assert (d.span.line, d.span.column) == (2, 5)


def test_spans_do_not_affect_equality():
    assert parse("a + 1") == parse("a  +\n  1")


# --- diagnostics ----------------------------------------------------------------------

ERROR_CASES = yaml.safe_load((DATA / "syntax_errors.yaml").read_text())


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c["expr"][:30])
def test_syntax_errors(case):
    with pytest.raises(CelSyntaxError) as info:
        parse(case["expr"])
    diags = info.value.diagnostics
    assert diags, "a syntax error carries diagnostics"
    first = diags[0]
    assert first.code == case["code"], str(first)
    assert f"{first.span.line}:{first.span.column}" == case["at"], str(first)
    assert first.message and not first.message.endswith(".")


def test_expected_tokens_have_human_names():
    with pytest.raises(CelSyntaxError) as info:
        parse("f(a")
    assert "`)`" in info.value.diagnostics[0].message
    with pytest.raises(CelSyntaxError) as info:
        parse("a +")
    assert "an expression" in info.value.diagnostics[0].message


def test_several_literal_errors_are_all_reported():
    with pytest.raises(CelSyntaxError) as info:
        parse("'\\s' + for + 99999999999999999999")
    assert [d.code for d in info.value.diagnostics] == ["AIGW201", "AIGW201", "AIGW202"] or \
        sorted(d.code for d in info.value.diagnostics) == ["AIGW201", "AIGW201", "AIGW202"]


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000 + "1" + ")" * 10_000,
        "[" * 10_000 + "]" * 10_000,
        "a" + ".b" * 10_000,
        "1" + " + 1" * 5_000,
        "x" * 200_000,
    ],
    ids=["parens", "lists", "selects", "additions", "long"],
)
def test_huge_or_deep_input_is_a_diagnostic(text):
    parse("1")  # the parser is built once, not for this input
    with pytest.raises(CelSyntaxError) as info:  # linear work: ~150 calls a character today
        calls(lambda: parse(text), budget=300 * len(text))
    assert info.value.diagnostics[0].code == "AIGW008"


@pytest.mark.parametrize(("text", "want"), [("-" * 20_000 + "1", lit(1)), ("-" * 20_001 + "a", call("-_", i("a"))),
                                             ("!" * 20_000 + "a", i("a")), ("!" * 20_001 + "a", call("!_", i("a")))],
                         ids=["negations", "odd-negations", "nots", "odd-nots"])
def test_a_long_run_of_one_unary_operator_is_its_operand_or_one_operator(text, want):
    """As CEL.g4 reads it (cel-go's VisitNegate/VisitLogicalNot, cel-cpp): no deep tree, in
    linear work."""
    parse("1")
    got = []
    calls(lambda: got.append(parse(text)), budget=300 * len(text))
    assert got == [want]


def test_moderate_nesting_is_fine():
    assert parse("(" * 40 + "1" + ")" * 40) == lit(1)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_only_raises_syntax_errors(text):
    try:
        node = parse(text)
    except CelSyntaxError as error:
        assert error.diagnostics
        return
    assert node.span.end <= len(text)


_CEL_ALPHABET = st.sampled_from(list("ab1.()[]{}?:!-+*/%<>=&|,'\"\\ru ") + ["in", "0x", "\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_CEL_ALPHABET, max_size=40).map("".join))
def test_cel_like_text_only_raises_syntax_errors(text):
    try:
        parse(text)
    except CelSyntaxError as error:
        assert error.diagnostics


def test_spans_include_parentheses_of_operands():
    text = "!(a in b) && (c || d)"
    node = parse(text)
    assert (node.span.start, node.span.end) == (0, len(text))
    assert node.args[0].span.end == text.index(")") + 1
