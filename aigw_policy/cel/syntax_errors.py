"""Friendly syntax errors: one located diagnostic for a lark error, recognising the common
mistakes (``=`` for ``==``, an unterminated string), with expected tokens named for people.
Shared by the CEL parser and the DSL (:mod:`aigw_policy.syntax`)."""

from __future__ import annotations

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..diagnostics import Diagnostic, PolicyError
from ..source import Source
from .grammar import lark_parser

__all__ = ["CelSyntaxError", "describe_expected", "human_token", "syntax_diagnostic"]


class CelSyntaxError(PolicyError):
    """A CEL expression could not be parsed; ``diagnostics`` says where and why."""


_EXPR_START = frozenset({"IDENT", "INT", "UINT", "FLOAT", "STRING", "BYTES", "LPAR", "LSQB",
                         "LBRACE", "BANG", "MINUS", "TRUE", "FALSE", "NULL"})
_HUMAN = {
    "IDENT": "a name", "QUOTED_IDENT": "a name", "INT": "a number", "UINT": "a number",
    "FLOAT": "a number", "STRING": "a string", "BYTES": "a bytes literal",
    "$END": "the end of the input", "<END-OF-FILE>": "the end of the input",
    "ACTION_TYPE": "an action", "IN": "`in`",
    "DURATION": "a duration", "SEPARATED_INT": "a number", "PERCENTAGE": "a percentage",
}


def human_token(name: str, parser: Lark | None = None) -> str:
    """How a terminal is named in messages: "`)`", "a name", ..."""
    if name in _HUMAN:
        return _HUMAN[name]
    lark = parser or lark_parser()
    try:
        pattern = lark.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower().replace("_", " ")


def describe_expected(names: set[str] | frozenset[str], parser: Lark | None = None) -> str:
    """"an expression", "`)`", "`,` or `]`", ... from a set of terminal names."""
    names = set(names)
    words: list[str] = []
    if len(names & _EXPR_START) >= 5:
        words.append("an expression")
        names -= _EXPR_START
        names -= {"DOT", "QMARK"}
    for w in sorted({human_token(n, parser) for n in names}):
        if w not in words:
            words.append(w)
    if not words:
        return "something else"
    words = words[:6]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _string_start(text: str, pos: int) -> int | None:
    """Where an unterminated string starting at or just before ``pos`` begins, if any."""
    if pos >= len(text) or text[pos] not in "\"'":
        return None
    start = pos
    while start > 0 and pos - start < 2 and text[start - 1] in "rRbB":
        start -= 1
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return pos
    return start


def syntax_diagnostic(error: UnexpectedInput, text: str, src: Source, base: int,
                      code: str, parser: Lark | None = None) -> Diagnostic:
    """One diagnostic for a lark error, recognising the common mistakes."""
    if isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream
        char = text[pos] if pos < len(text) else ""
        if char == "=" and text[pos + 1:pos + 2] != "=":
            return Diagnostic.make("AIGW004", "`=` is not an operator", src.span(base + pos,
                                   base + pos + 1), help="write `==` to compare values")
        start = _string_start(text, pos)
        if start is not None:
            end = text.find("\n", pos)
            end = len(text) if end == -1 else end
            return Diagnostic.make("AIGW003", "unterminated string",
                                   src.span(base + start, base + end),
                                   help="close the string with the quote it was opened with")
        expected = describe_expected(set(error.allowed or ()), parser)
        shown = char if char.isprintable() else repr(char)[1:-1]
        return Diagnostic.make(code, f"unexpected character `{shown}`, expected {expected}",
                               src.span(base + pos, base + pos + 1), help=_CHARACTER_HELP.get(char))
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = describe_expected(set(error.expected or ()), parser)
        if token.type == "$END":
            pos = len(text.rstrip())
            return Diagnostic.make(code, f"unexpected end of input, expected {expected}",
                                   src.span(base + pos, base + pos))
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start + len(token)
        word = str(token)
        if len(word) > 30:
            word = word[:27] + "..."
        return Diagnostic.make(code, f"unexpected `{word}`, expected {expected}",
                               src.span(base + start, base + end))
    pos = getattr(error, "pos_in_stream", None) or len(text)
    return Diagnostic.make(code, "syntax error", src.span(base + pos, base + pos))


# characters other languages use that CEL spells differently
_CHARACTER_HELP = {
    "&": "CEL writes `&&` for and",
    "|": "CEL writes `||` for or",
    "~": "CEL has no bitwise operators",
    "^": "CEL has no bitwise operators",
    "$": "`${...}` is for interpolation in string values, not inside a condition",
}
