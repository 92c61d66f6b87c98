"""Words from other languages where CEL has an operator: ``and``, ``or``, ``not`` (AIGW015).

CEL spells them ``&&``, ``||`` and ``!``. The parser only sees a stray identifier, and its
"unexpected ..." lands a token or two later; this finds the word itself so the diagnostic
can point at it and say what to write.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic
from ..source import Source, Span

__all__ = ["WORD_OPERATORS", "find_word_operator", "word_operator", "word_operator_diagnostic"]

WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!"}

_TOKEN = re.compile(
    r"""(?P<string>[rRbB]{0,2}(?:'''[\s\S]*?(?:'''|$)|\"\"\"[\s\S]*?(?:\"\"\"|$)"""
    r"""|'(?:\\.|[^'\\\n])*(?:'|$)|"(?:\\.|[^"\\\n])*(?:"|$)))"""
    r"""|(?P<comment>//[^\n]*)"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<other>[\s\S])""",
    re.M,
)


def word_operator(text: str, start: int = 0, end: int | None = None) -> tuple[int, str] | None:
    """The first ``and``/``or``/``not`` used as an operator in ``text[start:end]`` (not in a
    string or comment, not a field after ``.``): (offset in ``text``, word)."""
    end = len(text) if end is None else end
    previous = ""
    for m in _TOKEN.finditer(text, start, end):
        kind = m.lastgroup
        if kind == "word":
            if m.group() in WORD_OPERATORS and previous != ".":
                return m.start(), m.group()
        if kind != "comment" and not (kind == "other" and m.group().isspace()):
            previous = m.group()
    return None


def word_operator_diagnostic(word: str, span: Span) -> Diagnostic:
    return Diagnostic.make(
        "AIGW015", f"`{word}` is not a CEL operator", span,
        help=f"write `{WORD_OPERATORS[word]}`: CEL's logical operators are `&&`, `||` and `!`",
    )


def find_word_operator(text: str, source: Source, offset: int, start: int = 0,
                       end: int | None = None) -> Diagnostic | None:
    """AIGW015 for the first word operator in ``text[start:end]``, where ``text`` begins at
    ``offset`` in ``source``; ``None`` when there is none."""
    found = word_operator(text, start, end)
    if found is None:
        return None
    at, word = found
    return word_operator_diagnostic(word, source.span(offset + at, offset + at + len(word)))
