"""A DSL file reads the same whatever ends its lines: `\\n`, `\\r\\n`, a lone `\\r` (classic
Mac) or a mix; a comment (`#` or `//`, inside a multi-line condition too) runs to the end of
its line however that line ends. The IR, lint's codes and line:column, `fmt` and the
language server's completion context agree with the `\\n` file's. A U+2028, U+2029, NEL or
form feed in a comment or string ends no line (LSP and lint end lines at CR and LF only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aigw_policy.fmt import format_policy
from aigw_policy.loader import read
from aigw_policy.lsp.context import context_at
from aigw_policy.syntax.dsl import Trivia, read_dsl
from aigw_policy.diagnostics import Diagnostics
from aigw_policy.source import Source

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.aigw"))
COMMENTED = ('# head\npolicy "p" { // after the brace\n  on request {\n    rule "r" {  # rule\n'
             '      when ai.model == "a" || # first\n        ai.model == "b" // second\n'
             '        || ai.model == "c"\n      deny 403 # end\n    }\n  }\n}\n')
BROKEN = ('# head\npolicy "p" {\n  on request {\n    rule "r" { # note\n      when ai.modle == "a" # x\n'
          '      deny 403\n    }\n    rule "s" {\n      when 1 +\n    }\n  }\n}\n')
ENDS = {"cr": "\r", "crlf": "\r\n"}
DOCUMENTS = {p.name: p.read_text() for p in EXAMPLES} | {"commented": COMMENTED}


def _ends(text: str, kind: str) -> str:
    if kind == "mixed":  # each line's end in turn: LF, CRLF, CR
        parts = text.split("\n")
        return "".join(p + ("\n", "\r\n", "\r")[i % 3] for i, p in enumerate(parts[:-1])) + parts[-1]
    return text.replace("\n", ENDS[kind])


def _policy(text: str):
    diags = Diagnostics()
    policy = read_dsl(Source(text), diags, Trivia())
    assert not diags.has_errors, diags.sorted()
    return policy


def _normal(shown: str) -> str:
    """A policy's repr with the line breaks inside its CEL texts made `\\n`."""
    return re.sub(r"\\r\\n|\\r|\\n", r"\\n", shown)


@pytest.mark.parametrize("kind", ["cr", "crlf", "mixed"])
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_document_reads_the_same_whatever_ends_its_lines(name: str, kind: str) -> None:
    text = DOCUMENTS[name]
    ended = _ends(text, kind)
    assert _normal(repr(_policy(ended))) == _normal(repr(_policy(text)))
    _, found = read(ended, format="dsl", cache_dir=None)
    assert [d.code for d in found] == [d.code for d in read(text, format="dsl", cache_dir=None)[1]]
    if kind != "mixed":
        assert format_policy(ended) == format_policy(text).replace("\n", ENDS[kind])


@pytest.mark.parametrize("kind", ["cr", "crlf", "mixed"])
def test_lint_places_a_diagnostic_on_the_same_line_and_column(kind: str) -> None:
    def places(text: str) -> list[tuple[str, int, int]]:
        return [(d.code, d.span.line, d.span.column) for d in read(text, format="dsl", cache_dir=None)[1]]

    expected = places(BROKEN)
    assert expected and places(_ends(BROKEN, kind)) == expected


@pytest.mark.parametrize("kind", ["cr", "crlf"])
def test_a_comment_in_a_condition_ends_at_its_line_end(kind: str) -> None:
    text = _ends(COMMENTED, kind)
    (rule,) = _policy(text).on_http_request
    (when,) = rule.expressions
    assert _normal(repr(when)) == _normal(repr(_policy(COMMENTED).on_http_request[0].expressions[0]))


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c"])
def test_a_separator_in_a_comment_or_string_ends_no_line(separator: str) -> None:
    text = COMMENTED.replace("# rule", f"# rule{separator}x").replace('"a"', f'"a{separator}"')
    base = [(d.code, d.span.line, d.span.column) for d in read(COMMENTED, format="dsl", cache_dir=None)[1]]
    assert [(d.code, d.span.line, d.span.column) for d in read(text, format="dsl", cache_dir=None)[1]] == base
    offset = text.index("deny 403")
    assert context_at(text, offset, True) == context_at(COMMENTED, COMMENTED.index("deny 403"), True)


@pytest.mark.parametrize("kind", ["cr", "crlf", "mixed"])
@pytest.mark.parametrize("dsl", [True, False], ids=["dsl", "yaml"])
def test_the_editors_completion_context_is_the_same(kind: str, dsl: bool) -> None:
    text = COMMENTED if dsl else Path(EXAMPLES[0]).with_suffix(".yaml").read_text()
    ended = _ends(text, kind)
    for needle in ("deny", "ai.model", "rule", "name:", "config:"):
        if needle in text:
            at = text.index(needle) + len(needle)
            start_line = text.count("\n", 0, at)
            line_start = [m.end() for m in re.finditer(r"\r\n|\r|\n", ended)][start_line - 1] if start_line else 0
            column = at - (text.rfind("\n", 0, at) + 1)
            assert context_at(ended, line_start + column, dsl) == context_at(text, at, dsl), needle
