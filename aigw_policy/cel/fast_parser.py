"""The direct parse path: lowering while lark's LALR tables are driven, without building a
tree (about twice as fast as the tree path).

It reads lark internals that are not public API (``parser._parse_table``,
``_make_lexer_thread``, ``lark.parsers.lalr_analysis.Shift``). If a lark version lacks
them, :func:`direct_parser` returns None and the parser takes the tree path (same nodes,
spans and diagnostics, slower); tests/cel/test_compile_speed_paths.py fails loudly in that case, so an
upgrade of lark is noticed, not silently slower.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedToken

from ..source import Source
from . import ast
from .grammar import lark_parser
from .lowering import Lowering

__all__ = ["MAX_PARENS", "Driver", "compiled_states", "direct_parser", "feed", "is_unit", "lower_directly"]

# ``parse`` does not build a lark tree: the LALR parser calls, at each reduction, the same
# ``Lowering`` method the tree path would call, with a small meta object whose positions are
# computed as lark's ``propagate_positions`` computes them (first child's start, last child's
# end, where a child is a token or an already lowered node, parentheses included). The DSL
# (aigw_policy.syntax) keeps using ``Lowering`` on trees; both paths give the same nodes,
# spans and diagnostics (tests/cel/test_parse.py checks this on every conformance input).

MAX_PARENS = 200
"""More `(` than this and ``parse`` uses the tree path (whose recursion limit reports AIGW008)."""

# Rules whose ``Lowering`` method never looks at ``meta``: no positions are computed for them.
_NO_META = frozenset({
    "or_expr", "and_expr", "relation", "addition", "multiplication", "relop", "addop", "mulop",
    "not_chain", "neg_chain", "not_neg_chain", "field_name", "exprlist", "list_elems", "opt_elem", "map_inits",
    "field_inits",
})


class _Meta:
    __slots__ = ("start_pos", "end_pos")
    empty = False

    def __init__(self, start_pos: int, end_pos: int) -> None:
        self.start_pos = start_pos
        self.end_pos = end_pos


class _Seq:
    """The value of a lark helper rule (``__x_star_N``): its children, spliced into the parent."""

    __slots__ = ("children",)

    def __init__(self, children: list[Any]) -> None:
        self.children = children


class _Current(threading.local):
    lowering: Any = None


_CURRENT = _Current()


class Driver:
    """The LALR loop of lark's ``ParserState.feed_token``, over a copy of the parse table in
    which each reduction is ``(size, goto symbol, callback)`` (no Rule hashing per step).
    ``position`` is what lark's contextual lexer reads to pick the terminals it may match."""

    __slots__ = ("state_stack", "value_stack")

    def __init__(self, start: Any) -> None:
        self.state_stack = [start]
        self.value_stack: list[Any] = []

    @property
    def position(self) -> Any:
        return self.state_stack[-1]


@lru_cache(maxsize=1)
def direct_parser() -> Any:
    """The direct parse function (text -> node, lowering through ``_CURRENT.lowering``),
    built once; None if this lark version lacks the internals it uses."""
    try:
        from lark.parsers.lalr_analysis import Shift

        lark = lark_parser()
        frontend = lark.parser
        table = frontend.parser._parse_table  # noqa: SLF001 - lark internals, see the module doc
        start = table.start_states["expr"]
        end_state = table.end_states["expr"]
        callbacks = {rule: None if is_unit(rule) else _callback(rule) for rule in lark.rules}
        states = compiled_states(table, callbacks, Shift)
        make_lexer = frontend._make_lexer_thread  # noqa: SLF001

        def run(text: str) -> Any:
            driver = Driver(start)
            stack, values = driver.state_stack, driver.value_stack
            token = None
            for token in make_lexer(text).lex(driver):
                feed(token, False, driver, stack, values, states, table, end_state)
            end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
            return feed(end, True, driver, stack, values, states, table, end_state)

        _CURRENT.lowering = Lowering("1", Source("1"), 0)
        try:
            run("1")  # probe the API once
        finally:
            _CURRENT.lowering = None
    except Exception:  # noqa: BLE001 - another lark version: use the tree path
        return None
    return run


def compiled_states(table: Any, callbacks: dict[Any, Any], shift: Any) -> dict[Any, dict[str, Any]]:
    """lark's LALR table with each action as ``(True, state)`` for a shift and ``(False,
    (size, goto symbol, callback))`` for a reduction (``callback`` None for a unit rule).
    Symbol names are plain str: lark's are partly Tokens, whose Python-level ``__eq__`` a
    dict lookup would call at every step."""
    return {
        state: {str(sym): (True, arg) if action is shift
                else (False, (len(arg.expansion), str(arg.origin.name), callbacks[arg]))
                for sym, (action, arg) in actions.items()}
        for state, actions in table.states.items()
    }


def feed(token: Token, is_end: bool, driver: Driver, stack: list, values: list,  # type: ignore[type-arg]
          states: dict, table: Any, end_state: Any) -> Any:
    kind = token.type
    while True:
        try:
            shift, arg = states[stack[-1]][kind]
        except KeyError:
            expected = {s for s in table.states[stack[-1]] if s.isupper()}
            raise UnexpectedToken(token, expected, state=driver, interactive_parser=None) from None
        if shift:
            stack.append(arg)
            values.append(token)
            return None
        size, origin, callback = arg
        if callback is None:  # a unit rule (`?a: b`): the value stays, only the state moves
            del stack[-1]
            stack.append(states[stack[-1]][origin][1])
            if is_end and stack[-1] == end_state:
                return values[-1]
            continue
        if size:
            children = values[-size:]
            del stack[-size:]
            del values[-size:]
        else:
            children = []
        value = callback(children)
        stack.append(states[stack[-1]][origin][1])
        values.append(value)
        if is_end and stack[-1] == end_state:
            return values[-1]


def lower_directly(text: str, lowering: Lowering) -> ast.Expr | None:
    """Parse and lower ``text`` in one pass; None when it is too deep for this path (the
    tree path then reports it). Raises lark's ``UnexpectedInput`` on a syntax error."""
    run = direct_parser()
    if run is None:
        return lowering.lower(lark_parser().parse(text))
    current = _CURRENT
    outer = current.lowering
    current.lowering = lowering
    lowering.start_direct()
    try:
        node = run(text)
    except RecursionError:
        return None
    finally:
        current.lowering = outer
    return lowering.finish_direct(node)


def is_unit(rule: Any) -> bool:
    """Whether reducing ``rule`` returns its one child unchanged: an inlined (``?``) rule
    of one kept symbol. Most reductions of a CEL expression are these chain rules
    (``expr -> or_expr -> and_expr -> ...``)."""
    if len(rule.expansion) != 1 or not rule.options.expand1 or rule.alias:
        return False
    sym = rule.expansion[0]
    name = rule.options.template_source or rule.origin.name
    kept = rule.options.keep_all_tokens or not (sym.is_term and sym.filter_out)
    return kept and not name.startswith("_") and not (not sym.is_term and sym.name.startswith("_"))


def _callback(rule: Any) -> Any:
    """The reduction callback of one grammar rule (mirrors lark's tree builder wrappers)."""
    name = rule.alias or rule.options.template_source or rule.origin.name
    keep = rule.options.keep_all_tokens
    include = [(i, not sym.is_term and sym.name.startswith("_"))
               for i, sym in enumerate(rule.expansion)
               if keep or not (sym.is_term and sym.filter_out)]
    plain = len(include) == len(rule.expansion) and not any(e for _, e in include)
    indices = [i for i, _ in include]

    if plain:
        def select(children: list[Any]) -> list[Any]:
            return children
    elif not any(e for _, e in include):
        if len(indices) == 1:
            only = indices[0]

            def select(children: list[Any]) -> list[Any]:
                return [children[only]]
        else:
            def select(children: list[Any]) -> list[Any]:
                return [children[i] for i in indices]
    else:
        def select(children: list[Any]) -> list[Any]:
            out: list[Any] = []
            for i, expand in include:
                if not expand:
                    out.append(children[i])
                elif out:
                    out += children[i].children
                else:  # left recursion: extend the child's list in place (as lark does)
                    out = children[i].children
            return out

    if name.startswith("_"):
        return lambda children: _Seq(select(children))

    func = Lowering.__dict__.get(name)
    func = getattr(func, "base_func", func)
    expand1 = rule.options.expand1 and not rule.alias
    current = _CURRENT

    if func is None:
        if not expand1:
            raise AssertionError(f"unhandled rule {name}")  # pragma: no cover

        def passthrough(children: list[Any]) -> Any:
            filtered = select(children)
            if len(filtered) == 1:
                return filtered[0]
            raise AssertionError(f"unhandled rule {name}")  # pragma: no cover
        return passthrough

    if name in _NO_META:
        def call(children: list[Any]) -> Any:
            filtered = select(children)
            if expand1 and len(filtered) == 1:
                return filtered[0]
            return func(current.lowering, None, filtered)
        return call

    def call_meta(children: list[Any]) -> Any:
        filtered = select(children)
        if expand1 and len(filtered) == 1:
            return filtered[0]
        low = current.lowering
        first = children[0]
        last = children[-1]
        if isinstance(first, Token):
            start = first.start_pos
        else:
            start = low.outer_span(first).start - low.base
        if isinstance(last, Token):
            end = last.end_pos
        else:
            end = low.outer_span(last).end - low.base
        return func(low, _Meta(start, end), filtered)
    return call_meta

