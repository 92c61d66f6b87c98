"""The DSL's lean LALR loop (:mod:`aigw_policy.syntax.direct_tree`) gives the tree lark's
own loop gives, offsets included, and leaves every syntax error to lark."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Tree
from lark.exceptions import UnexpectedInput

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.source import Source
from aigw_policy.syntax import direct_tree as D
from aigw_policy.syntax.dsl import dsl_parser
from aigw_policy.syntax.recovery import recover

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(p for d in ("tests", "examples", "docs") for p in (ROOT / d).rglob("*.aigw"))


def metas(tree: Tree) -> list[tuple]:
    out = []
    for t in tree.iter_subtrees_topdown():
        m = t._meta  # noqa: SLF001 - None when no position was ever set
        out.append((t.data, None if m is None else tuple(
            getattr(m, k, None) for k in ("empty", "start_pos", "end_pos",
                                          "container_start_pos", "container_end_pos"))))
    return out


def tokens(tree: Tree) -> list[tuple]:
    return [(t.type, str(t), t.start_pos, t.end_pos, t.line, t.column)
            for t in tree.scan_values(lambda v: hasattr(v, "type"))]


def same(text: str) -> None:
    run = D.direct_tree(dsl_parser(), "document")
    try:
        want = dsl_parser().parse(text)
    except UnexpectedInput:
        with pytest.raises(UnexpectedInput):
            run(text)
        return
    got = run(text)
    assert got == want
    assert metas(got) == metas(want)
    assert tokens(got) == tokens(want)


def test_the_lean_loop_is_in_use() -> None:
    # it falls back to lark's loop silently if lark's internals change: notice that here
    assert D.direct_tree(dsl_parser(), "document") is not None, (
        "lark's internals changed: syntax/direct_tree.py no longer drives them; the DSL parse is slower")


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_document_gives_lark_s_tree(path: Path) -> None:
    same(path.read_text(encoding="utf-8"))


_pieces = st.lists(st.sampled_from([
    "policy", "{", "}", "on", "request", "response", "rule", '"r"', "when", "(", ")", "((", "))",
    "a", "a.b", "==", "&&", "||", "!", "-", "1", "'x'", "[", "]", ",", "deny", "403", "log",
    "metadata", ":", "x ? y : z", "m[\"k\"]", "f(1, 2)", "# c\n", "// c\n", "\n", " ", "1m", "10%",
    "1_000", "rate-limit", "{ capacity: 5 }", "mode shadow", "on-error continue", "?", ".",
]), max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_pieces.map(lambda body: f"policy {{ on request {{ rule {{ when {body} deny }} }} }}"))
def test_any_condition_gives_lark_s_tree(text: str) -> None:
    same(text)


@settings(max_examples=200, deadline=None)
@given(_pieces.map(lambda body: f"policy {{ {body} }}"))
def test_any_document_body_gives_lark_s_tree(text: str) -> None:
    same(text)


def test_a_valid_document_is_parsed_by_the_lean_loop_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    parser = dsl_parser()
    monkeypatch.setattr(type(parser), "parse", lambda self, text, *a, **k: calls.append(text))
    text = (ROOT / "examples" / "acme-gateway.aigw").read_text(encoding="utf-8")
    tree = recover(Source(text), Diagnostics(), parser)
    assert tree is not None and calls == []


@pytest.mark.parametrize("text", [
    "policy { on request { rule { when a = 1 deny } } }",
    "policy { on request { rule { when a.b deny 403 } }",
    "policy { on request { rule { when a deny } } } }",
    "policy { on request { rule { when a ++ b deny } } }",
    "policy { on request { rule { when 'x deny } } }",
    "policy { on request { rule { when (a deny } } }",
    "policy { on request { rule { when a deny } rule { when ( deny } } }",
])
def test_a_syntax_error_is_reported_as_lark_reports_it(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lean = Diagnostics()
    recover(Source(text), lean, dsl_parser())
    monkeypatch.setattr(D, "direct_tree", lambda parser, start: None)
    plain = Diagnostics()
    recover(Source(text), plain, dsl_parser())
    assert [d.to_dict() for d in lean] == [d.to_dict() for d in plain] != []
