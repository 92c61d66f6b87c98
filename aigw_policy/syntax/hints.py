"""Words from other languages where CEL has an operator: ``and``, ``or``, ``not``, ``is``
(AIGW015), and where CEL has a literal: ``True``, ``False``, ``None`` (a help on AIGW300).

CEL spells them ``&&``, ``||``, ``!``, ``==`` and ``true``, ``false``, ``null``. The parser only sees a stray identifier, and its
"unexpected ..." lands a token or two later; this finds the word itself so the diagnostic
can point at it and say what to write.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic
from ..source import Source, Span

__all__ = ["WORD_OPERATORS", "find_word_operator", "literal_help", "word_operator", "word_operator_diagnostic"]

WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!", "is": "=="}
WORD_LITERALS = {"True": "true", "False": "false", "None": "null", "nil": "null",
                 "NULL": "null", "TRUE": "true", "FALSE": "false", "Null": "null"}

_TOKEN = re.compile(
    r"""(?P<string>[rRbB]{0,2}(?:'''[\s\S]*?(?:'''|$)|\"\"\"[\s\S]*?(?:\"\"\"|$)"""
    r"""|'(?:\\.|[^'\\\r\n])*(?:'|(?=\r)|$)|"(?:\\.|[^"\\\r\n])*(?:"|(?=\r)|$)))"""
    r"""|(?P<comment>//[^\r\n]*)"""
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
            if m.group().lower() in WORD_OPERATORS and previous != ".":
                return m.start(), m.group()
        if kind != "comment" and not (kind == "other" and m.group().isspace()):
            previous = m.group()
    return None


def word_operator_diagnostic(word: str, span: Span) -> Diagnostic:
    operator = WORD_OPERATORS[word.lower()]
    if operator == "==":
        help = "write `==` to compare (`!=` for `is not`)"
    else:
        help = f"write `{operator}`: CEL's logical operators are `&&`, `||` and `!`"
    return Diagnostic.make("AIGW015", f"`{word}` is not a CEL operator", span, help=help)


def literal_help(message: str) -> str | None:
    """``did you mean `true`?`` for an undeclared ``True``, ``None``, ..."""
    for word, literal in WORD_LITERALS.items():
        if message == f"undeclared reference to `{word}`":
            return f"did you mean `{literal}`? CEL's literals are `true`, `false` and `null`"
    return None


def find_word_operator(text: str, source: Source, offset: int, start: int = 0,
                       end: int | None = None) -> Diagnostic | None:
    """AIGW015 for the first word operator in ``text[start:end]``, where ``text`` begins at
    ``offset`` in ``source``; ``None`` when there is none."""
    found = word_operator(text, start, end)
    if found is None:
        return None
    at, word = found
    return word_operator_diagnostic(word, source.span(offset + at, offset + at + len(word)))
