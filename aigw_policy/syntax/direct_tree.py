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
        make_lexer = frontend._make_lexer_thread  # noqa: SLF001
    except (AttributeError, KeyError, TypeError, ImportError):
        return None

    def run(text: str) -> Tree:
        driver = Driver(begin)
        stack, values = driver.state_stack, driver.value_stack
        token = None
        for token in make_lexer(text).lex(driver):
            feed(token, False, driver, stack, values, states, table, end_state)
        end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
        tree: Tree = feed(end, True, driver, stack, values, states, table, end_state)
        return tree

    return run


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
