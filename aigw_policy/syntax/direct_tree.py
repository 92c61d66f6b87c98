"""The DSL's parse tree built by a leaner LALR loop than lark's own: the same tables, lexer
and tree callbacks, so the same tree, in less time.

lark's ``ParserState.feed_token`` hashes a ``Rule`` at every reduction and calls a callback
for every one, even for the chain rules of CEL's precedence levels (``?or_expr: and_expr``),
whose callback only hands its one child back; those are most of a condition's reductions.
:func:`direct_tree` drives the tables with :func:`..cel.fast_parser.feed`, which skips those
callbacks, over a table keyed by plain strings. The callbacks it calls are the parser's own
(for the DSL parser: wrapped with :mod:`.positions`' offsets), so the tree, its offsets and
its tokens are what ``parser.parse`` gives (tests/syntax/test_direct_tree.py compares both
on every DSL document in the repository and on noise).

Any syntax error is left to lark: the text is parsed again by ``parser.parse``, which
raises the error with everything :mod:`.recovery` reads (expected terminals, the
interactive parser). This reads lark internals that are not public API, as
:mod:`..cel.fast_parser` does; without them :func:`direct_tree` returns None and the
caller uses ``parser.parse``, and a test fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from ..cel.fast_parser import Driver, compiled_states, feed, is_unit

__all__ = ["direct_tree", "parse_tree"]


@lru_cache(maxsize=4)
def direct_tree(parser: Lark, start: str) -> Callable[[str], Tree] | None:
    """The tree parse of ``parser`` from rule ``start`` through the lean loop; None if this
    lark version keeps its tables or callbacks elsewhere, or if it has token callbacks."""
    try:
        from lark.parsers.lalr_analysis import Shift

        frontend = parser.parser
        lalr = frontend.parser
        table = lalr._parse_table  # noqa: SLF001 - lark internals, see the module doc
        callbacks = lalr.parser.callbacks
        if any(isinstance(key, str) for key in callbacks):  # token callbacks: lark's loop
            return None
        begin = table.start_states[start]
        end_state = table.end_states[start]
        states = compiled_states(table, {rule: None if is_unit(rule) else callbacks[rule]
                                         for rule in parser.rules}, Shift)
        lexers = _Lexers(frontend.lexer)
        lexers[begin]  # noqa: B018 - fails here, not mid-parse, if lark keeps them elsewhere
    except (AttributeError, KeyError, TypeError, ImportError):
        return None

    def run(text: str) -> Tree:
        driver = Driver(begin)
        stack, values = driver.state_stack, driver.value_stack
        token = None
        for token in _lex(text, lexers, stack):
            feed(token, False, driver, stack, values, states, table, end_state)
        end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
        tree: Tree = feed(end, True, driver, stack, values, states, table, end_state)
        return tree

    return run


class _NoMatch(UnexpectedInput):
    """No terminal of the state matches here: lark's own parse reports it."""


class _Lexers(dict):  # type: ignore[type-arg]
    """For each parser state, what its lexer of lark's ``ContextualLexer`` matches with: the
    compiled patterns, the ignored terminals and the token callbacks (lark's keyword checks).
    Filled as states are met, as lark compiles its lexers' patterns only when first used."""

    def __init__(self, contextual: Any) -> None:
        super().__init__()
        self.contextual = contextual

    def __missing__(self, state: Any) -> tuple[list[Any], frozenset[str], dict[str, Any]]:
        lexer = self.contextual.lexers[state]
        entry = (list(lexer.scanner._mres), frozenset(lexer.ignore_types),  # noqa: SLF001
                 dict(lexer.callback))
        self[state] = entry
        return entry


def _lex(text: str, lexers: _Lexers, stack: list[Any]) -> Any:
    """The tokens of ``text`` as lark's contextual lexer makes them (type, value, offsets,
    lines and columns, callbacks), the state read from the parser's stack before each one."""
    pos, line, line_start, size = 0, 1, 0, len(text)
    while pos < size:
        patterns, ignore, callbacks = lexers[stack[-1]]
        for pattern in patterns:
            match = pattern.match(text, pos)
            if match:
                break
        else:
            raise _NoMatch()
        value = match.group(0)
        kind = match.lastgroup
        start, column = pos, pos - line_start + 1
        start_line = line
        pos += len(value)
        if "\n" in value:
            line += value.count("\n")
            line_start = start + value.rindex("\n") + 1
        if kind in ignore and kind not in callbacks:
            continue
        token = Token(kind, value, start, start_line, column, line, pos - line_start + 1, pos)
        if kind in callbacks:
            token = callbacks[kind](token)
        if kind not in ignore:
            yield token


def parse_tree(parser: Lark, text: str, start: str = "document") -> Tree:
    """``parser.parse(text)``, through :func:`direct_tree` when it can: a syntax error is
    raised by ``parser.parse`` itself."""
    run = direct_tree(parser, start)
    if run is not None:
        try:
            return run(text)
        except UnexpectedInput:
            pass
    return parser.parse(text)
