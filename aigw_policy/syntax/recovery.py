"""Parse a DSL document, reporting every independent syntax error.

LALR stops at the first error. To go on, the broken rule (or, outside rules, the broken
statement) is blanked out with spaces, which keeps every offset, line and column of the
rest of the document, and the document is parsed again. A missing final ``}`` is reported
once and supplied at the end. Friendly messages: misspelled keywords (AIGW006),
a missing ``}`` (AIGW002), and the CEL parser's ``=`` (AIGW004) and unterminated string
(AIGW003) checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..cel.syntax_errors import describe_expected, syntax_diagnostic
from ..diagnostics import Diagnostic, Diagnostics, did_you_mean
from ..ir.actions import ACTIONS
from ..source import Source, line_end, line_start
from .direct_tree import parse_tree
from .hints import WORD_OPERATORS, find_word_operator

__all__ = ["MAX_RECOVERIES", "recover"]

MAX_RECOVERIES = 25
"""At most this many syntax errors are reported for one document."""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
_KEYWORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_RULE_HEADER = re.compile(r"\s*(rule)\b")
_RULE_LINE = re.compile(r"(?:^|(?<=\r))[ \t]*rule\b", re.M)
_STATEMENT_WORDS = ("when", "on-error", "rule", "default", "on")


@dataclass(slots=True)
class _Brace:
    """A `{`, its matching `}` (if any), and the `rule` keyword before it (if any)."""

    open: int
    close: int | None
    rule_start: int | None

    @property
    def is_rule(self) -> bool:
        return self.rule_start is not None


def recover(source: Source, diags: Diagnostics, parser: Lark) -> Tree | None:
    """The parse tree of ``source``, with broken parts blanked; ``None`` if hopeless."""
    text = source.text
    closed_at_end = False
    seen: set[int] = set()
    for _ in range(MAX_RECOVERIES):
        try:
            return parse_tree(parser, text)
        except UnexpectedInput as error:
            braces = _braces(text)
            if _at_end(error):
                unclosed = [b for b in braces if b.close is None]
                if unclosed and not closed_at_end:
                    if not _reported_missing_brace(diags):
                        diags.extend([_unclosed(text, source, braces, unclosed[-1])])
                    closed_at_end = True
                    text = text + "}" * len(unclosed)
                    continue
                diags.extend([_diagnostic(error, text, source, parser, braces)])
                return None
            pos = _position(error)
            if pos in seen:
                return None
            seen.add(pos)
            diags.extend([_diagnostic(error, text, source, parser, braces)])
            region = _region(text, pos, braces)
            if region is None and any(b.close is not None and b.close < pos for b in braces):
                region = (pos, len(text))  # junk after the policy's closing brace
            if region is None:
                return None
            start, end = region
            text = text[:start] + _blank(text[start:end]) + text[end:]
    return None


def _unclosed(text: str, source: Source, braces: list[_Brace], last: _Brace) -> Diagnostic:
    """The `{` that is never closed. Braces pair up innermost first, so the `}` missing
    inside leaves an outer `{` unpaired; indentation tells which one the author left open:
    the first `}` indented less than the line of the `{` it closed belongs further out."""
    misclosed = _misclosed(text, braces)
    culprit = misclosed or last
    before = misclosed.close if misclosed else None
    line = source.position(culprit.open)[0]
    if before is None:
        where = "add it at the end of the document"
    else:
        where = (f"close it before line {source.position(before)[0]}, whose `}}` is "
                 "indented for an outer block")
    return Diagnostic.make("AIGW002", f"the `{{` on line {line} is never closed",
                           source.span(culprit.open, culprit.open + 1), help=where)


def _misclosed(text: str, braces: list[_Brace], before: int | None = None) -> _Brace | None:
    """The first `{` (in the order of the `}`s) closed by a `}` indented less than its own
    line, so by a `}` meant for an outer block: the `{` whose own `}` is missing."""
    closed = sorted((b for b in braces if b.close is not None
                     and (before is None or b.close < before)), key=lambda b: b.close or 0)
    for brace in closed:
        closing = _indent(text, brace.close)  # type: ignore[arg-type]
        if closing is not None and closing < (_indent(text, brace.open, anywhere=True) or 0):
            return brace
    return None


def _indent(text: str, pos: int, *, anywhere: bool = False) -> int | None:
    """The indentation of the line holding ``pos``; ``None`` unless the character at ``pos``
    is the first on its line (or ``anywhere``)."""
    start = line_start(text, pos)
    lead = text[start:pos]
    if lead.strip(" \t") and not anywhere:
        return None
    return len(lead) - len(lead.lstrip(" \t"))


def _reported_missing_brace(diags: Diagnostics) -> bool:
    return any(d.code == "AIGW002" for d in diags)


def _at_end(error: UnexpectedInput) -> bool:
    return isinstance(error, UnexpectedToken) and error.token.type == "$END"


def _position(error: UnexpectedInput) -> int:
    if isinstance(error, UnexpectedToken):
        return error.token.start_pos or 0
    return error.pos_in_stream or 0  # type: ignore[return-value]


def _blank(text: str) -> str:
    return "".join(c if c in "\r\n" else " " for c in text)


# --- where the damage is -----------------------------------------------------------------

def _braces(text: str) -> list[_Brace]:
    """Every `{` with its matching `}`, skipping strings and comments (a rough scan)."""
    out: list[_Brace] = []
    stack: list[_Brace] = []
    i, n = 0, len(text)
    begins = 0
    while i < n:
        c = text[i]
        if c in "\r\n":
            begins = i + 1
        elif c == "#" or text.startswith("//", i):
            i = line_end(text, i)
            continue
        elif c in "\"'":
            i = _skip_string(text, i)
            continue
        elif c == "{":
            header_start = max(begins, _last_brace(text, begins, i))
            header = _RULE_HEADER.match(text, header_start, i)
            brace = _Brace(i, None, header.start(1) if header else None)
            out.append(brace)
            stack.append(brace)
        elif c == "}" and stack:
            stack.pop().close = i
        i += 1
    return out


def _last_brace(text: str, start: int, end: int) -> int:
    return max(text.rfind("{", start, end), text.rfind("}", start, end)) + 1


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    if text.startswith(quote * 3, i):
        j = i + 3
        while j < len(text):
            if text[j] == "\\":
                j += 2
            elif text.startswith(quote * 3, j):
                return j + 3
            else:
                j += 1
        return len(text)
    j = i + 1
    while j < len(text) and text[j] != quote and text[j] not in "\r\n":
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, len(text))


def _region(text: str, pos: int, braces: list[_Brace]) -> tuple[int, int] | None:
    """The span to blank out for an error at ``pos``, or ``None`` at the top level."""
    inside = [b for b in braces if b.open < pos and (b.close is None or b.close >= pos)]
    if not inside:
        return None
    rules = [b for b in inside if b.is_rule]
    if rules:
        brace = rules[-1]
        start = brace.rule_start if brace.rule_start is not None else brace.open
        end = len(text) if brace.close is None else brace.close + 1
        following = _RULE_LINE.search(text, brace.open + 1)
        if following and following.start() < end:
            return (start, following.start()) if following.start() <= pos else (start, max(
                following.start(), pos + 1))
        return start, max(end, pos + 1)
    start = _statement_start(text, pos)
    end = pos
    while end < len(text) and text[end] not in "\r\n{}":
        end += 1
    if end < len(text) and text[end] == "{":
        opened = [b for b in braces if b.open == end]
        close = opened[0].close if opened else None
        end = len(text) if close is None else close + 1
    return start, max(end, pos + 1)


def _statement_start(text: str, pos: int) -> int:
    """The first word of the statement holding ``pos`` (after a newline, `{` or `}`)."""
    start = max(line_start(text, pos), text.rfind("{", 0, pos) + 1, text.rfind("}", 0, pos) + 1)
    while start < pos and text[start] in " \t\r\f":
        start += 1
    return start


# --- friendly messages -------------------------------------------------------------------

def _expected(error: UnexpectedInput) -> set[str]:
    if isinstance(error, UnexpectedToken):
        return set(error.expected or ())
    if isinstance(error, UnexpectedCharacters):
        return set(error.allowed or ())
    return set()


def _keywords(names: set[str], parser: Lark) -> list[str]:
    out = []
    for name in names:
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and _KEYWORD.fullmatch(pattern.value):
            out.append(pattern.value)
    return sorted(out)


def _diagnostic(error: UnexpectedInput, text: str, source: Source, parser: Lark,
                braces: list[_Brace]) -> Diagnostic:
    pos = _position(error)
    expected = _expected(error)
    keywords = _keywords(expected, parser)
    first = _WORD.match(text, _statement_start(text, pos))
    if first and (first.group() == "when" or first.group().lower() in WORD_OPERATORS):
        # `when a and b`, or a condition continued on the next line with `and b`
        start = first.end() if first.group() == "when" else first.start()
        hint = find_word_operator(text, source, 0, start, line_end(text, pos))
        if hint is not None:
            return hint
    if first and first.start() < pos and first.group() not in ACTIONS:
        span = source.span(first.start(), first.end())
        inside_rule = any(b.is_rule and b.open < first.start() for b in braces)
        if first.group() == "rule" and inside_rule:
            return _missing_brace(first.group(), span, source, braces, first.start())
        hint = did_you_mean(first.group(), _STATEMENT_WORDS)
        if hint and first.group() not in _STATEMENT_WORDS:
            return Diagnostic.make("AIGW006", f"unknown keyword `{first.group()}`", span,
                                   help=hint)
    word = _WORD.match(text, pos)
    if word and keywords and word.group() not in ("true", "false", "null", "in"):
        span = source.span(word.start(), word.end())
        closes = "}" in keywords_or_braces(expected, parser)
        if closes and ((word.group() == "rule" and "when" in keywords)
                       or (word.group() in ("on", "default") and "rule" in keywords)):
            return _missing_brace(word.group(), span, source, braces, pos)
        if word.group() not in keywords:
            return Diagnostic.make(
                "AIGW006", f"unknown keyword `{word.group()}`", span,
                help=did_you_mean(word.group(), keywords)
                or f"expected {describe_expected(expected, parser)}")
    return syntax_diagnostic(error, text, source, 0, "AIGW001", parser)


def _missing_brace(word: str, span, source: Source, braces: list[_Brace],
                   pos: int) -> Diagnostic:
    misclosed = _misclosed(source.text, braces, before=pos)
    opening = [misclosed] if misclosed else [
        b for b in braces if b.open < pos and (b.is_rule or word != "rule")]
    where = f"the `{{` on line {source.position(opening[-1].open)[0]}" if opening else "a `{`"
    return Diagnostic.make("AIGW002", f"missing `}}` before `{word}`", span,
                           help=f"{where} is not closed")


def keywords_or_braces(names: set[str], parser: Lark) -> set[str]:
    """The literal tokens among ``names`` (keywords and punctuation)."""
    out = set()
    for name in names:
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            out.add(pattern.value)
    return out
