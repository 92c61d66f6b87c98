"""Half-typed documents: every prefix of every example policy that ends at a word's edge (the
text as an editor holds it while a word, a string or a line is being typed), linted as the
server lints it, then asked for hover, completion (with this text's lint and with the last
whole document's, as the server completes from the latest lint), definition, symbols and
formatting at its end. None may raise: a handler that raises is an error in the server's log
and no answer for the editor. (It found `timezone: Europe`, a directory of the zone
database, raising IsADirectoryError out of lint.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types

from aigw_policy.analysis import LintOptions
from aigw_policy.cli.lint import lint_text
from aigw_policy.diagnostics import Diagnostic
from aigw_policy.ir import Policy
from aigw_policy.loader import Format
from aigw_policy.lsp.completion import complete
from aigw_policy.lsp.context import context_at
from aigw_policy.lsp.documents import analyse, document_of
from aigw_policy.lsp.formatting import FormatRefused, format_edits
from aigw_policy.lsp.hover import hover_at
from aigw_policy.lsp.navigation import definition_at, symbols

from .conftest import ROOT

EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".aigw", ".yaml"))
_WORD = re.compile(r"\w")


def _lint(path: Path, text: str, form: Format | None) -> tuple[Policy | None, list[Diagnostic]]:
    _, policy, found = lint_text(path, text, LintOptions(), form)
    return policy, found


def edges(text: str) -> list[int]:
    """The prefix lengths at which a word, or anything else, has just been typed."""
    return [n for n in range(len(text) + 1)
            if n in (0, len(text)) or not _WORD.match(text[n - 1]) or not _WORD.match(text[n])]


def test_edges_take_whole_words_and_every_gap() -> None:
    assert edges("ab c.d") == [0, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_prefix_is_answered(path: Path) -> None:
    whole = path.read_text()
    document = document_of(f"file:///tmp/prefix/{path.name}", None)
    last_whole = analyse(_lint, document, whole, 1).policy
    assert last_whole is not None
    for n in edges(whole):
        text = whole[:n]
        analysis = analyse(_lint, document, text, 2)
        lines = analysis.lines("utf-16")
        here = types.Range(lines.position(n), lines.position(n))
        context = context_at(text, n, document.is_dsl)
        hover_at(text, n, document.is_dsl, analysis.policy)
        complete(context, analysis.policy, document.is_dsl, here)
        complete(context, last_whole, document.is_dsl, here)
        definition_at(analysis.policy, text, n)
        symbols(analysis.policy, lines)
        try:
            format_edits(document, text, lines)
        except FormatRefused:
            pass  # an answer: the editor shows fmt's first diagnostic
