"""A DSL condition's node comes from the document's own parse (the DSL grammar holds CEL's):
``cel.parser.remember_tree`` lowers that tree with spans relative to the condition's text,
so the text is not lexed and parsed a second time (load_bench's ``ir`` stage). The node, its
spans and what the lint passes and the compiler then read must be what parsing the text
alone gives: compared here on every DSL document of the repository and on generated ones."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.cel import parser as P
from aigw_policy.syntax import dsl

from cel.cel_typed_gen import TYPES, Gen
from cel.test_compile_speed_paths import HAND, _dump, _fuzz

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([*ROOT.glob("examples/*.aigw"), *ROOT.glob("tests/**/*.aigw")])


def _taken(doc: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The (text, node) of each condition the document's tree gave while ``doc`` was read."""
    taken: list[tuple[str, Any]] = []
    real = dsl.remember_tree

    def spy(text: str, tree: Any, document: str, offset: int) -> bool:
        ok = real(text, tree, document, offset)
        if ok:
            taken.append((text, P.parse(text)))
        return ok

    monkeypatch.setattr(dsl, "remember_tree", spy)
    P.clear_memo()
    try:
        ap.loads(doc)
    except Exception:  # noqa: BLE001 - a document with errors: its good conditions still count
        pass
    finally:
        monkeypatch.setattr(dsl, "remember_tree", real)
    return taken


def _differ(doc: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:
    taken = _taken(doc, monkeypatch)
    differ = []
    for text, node in taken:
        P.clear_memo()
        try:
            alone = _dump(P.parse(text))
        except P.CelSyntaxError as error:
            alone = ("refused", _dump(error.diagnostics))
        if _dump(node) != alone:
            differ.append(text)
    return len(taken), differ


def test_every_document_of_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(DOCUMENTS) > 30
    total = 0
    for path in DOCUMENTS:
        n, differ = _differ(path.read_text(encoding="utf-8", errors="replace"), monkeypatch)
        assert not differ, (path, differ[:3])
        total += n
    assert total > 20  # the documents' conditions do come from their trees


def _policy(conditions: list[str]) -> str:
    rules = "\n".join(f'    rule "r{i}" {{\n      when {c}\n      deny 403\n    }}' for i, c in enumerate(conditions))
    return f"policy {{\n  on request {{\n{rules}\n  }}\n}}\n"


def test_generated_conditions(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(25)
    typed = [Gen(random.Random(i), variables=True).expr(rnd.choice(TYPES)) for i in range(250)]
    texts = [t for t in HAND + _fuzz(300) + typed if "\n" not in t and "#" not in t]
    checked = 0
    for i in range(0, len(texts), 1):
        # alone (a bad one refuses the document) and in company, with comments and parentheses around
        for conds in ([texts[i]], [f"({texts[i]})", f"{texts[i]} // why", rnd.choice(texts)]):
            n, differ = _differ(_policy(conds), monkeypatch)
            assert not differ, differ
            checked += n
    assert checked > 600


def test_a_condition_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = P.lower_directly

    def counted(text: str, lowering: Any) -> Any:
        parsed.append(text)
        return real(text, lowering)

    monkeypatch.setattr(P, "lower_directly", counted)
    P.clear_memo()
    conditions = [f"identity.team == 'team{i}' && ai.model in ['gpt-4o', 'o3']" for i in range(40)]
    policy = ap.loads(_policy(conditions))
    assert [r.expressions[0].source for r in policy.on_http_request] == conditions
    assert not [t for t in parsed if t in conditions]  # the document's parse gave them all
    ap.compile_policy(policy)
    assert not [t for t in parsed if t in conditions]  # nor did lint or the compiler parse them again


@pytest.mark.parametrize("condition", [
    "x # a DSL comment made `//`\n  == 1",  # the text is not as written: parsed alone
    "'\ud800' == x",  # a lone surrogate: AIGW007 from the parse alone
    "(" * 201 + "1" + ")" * 201,  # past the direct path: the tree path's own judgment
])
def test_what_the_tree_does_not_give_is_parsed_alone(condition: str, monkeypatch: pytest.MonkeyPatch) -> None:
    n, differ = _differ(_policy([condition]), monkeypatch)
    assert n == 0 and not differ
