"""The DSL parser's own offset propagation gives every tree the offsets lark's
``propagate_positions`` gives it, on every DSL document of the repository and on noise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedInput

from aigw_policy.syntax.dsl import dsl_grammar, dsl_parser
from aigw_policy.syntax.positions import propagate_offsets

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(p for d in ("tests", "examples", "docs") for p in (ROOT / d).rglob("*.aigw"))
LARK = Lark(dsl_grammar(), start="document", parser="lalr",
            lexer="contextual", propagate_positions=True, maybe_placeholders=False)


def offsets(tree):
    return [(t.data, t.meta.empty, getattr(t.meta, "start_pos", None), getattr(t.meta, "end_pos", None))
            for t in tree.iter_subtrees_topdown()]


def same(text: str) -> None:
    try:
        want = LARK.parse(text)
    except UnexpectedInput:
        with pytest.raises(UnexpectedInput):
            dsl_parser().parse(text)
        return
    got = dsl_parser().parse(text)
    assert got == want and offsets(got) == offsets(want)


def test_the_parser_propagates_offsets_itself():
    parser = Lark("start: \"a\"", parser="lalr", propagate_positions=False)
    assert propagate_offsets(parser)
    assert parser.parse("a").meta.end_pos == 1


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_document_has_lark_s_offsets(path: Path):
    same(path.read_text(encoding="utf-8"))


_pieces = st.lists(st.sampled_from([
    "policy", "{", "}", "on", "request", "response", "rule", '"r"', "when", "(", ")", "((", "))",
    "a", "a.b", "==", "&&", "||", "!", "-", "1", "'x'", "[", "]", ",", "deny", "403", "log",
    "metadata", ":", "x ? y : z", "m[\"k\"]", "f(1, 2)", "# c\n", "// c\n", "\n", " ",
]), max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_pieces.map(lambda body: f"policy {{ on request {{ rule {{ when {body} deny }} }} }}"))
def test_any_condition_has_lark_s_offsets(text: str):
    same(text)
