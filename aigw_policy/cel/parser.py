"""CEL text -> :mod:`aigw_policy.cel.ast`, with friendly, located syntax diagnostics.

``parse`` is the stage function. It takes the direct path (:mod:`.fast_parser`) and falls
back to a lark tree lowered by :mod:`.lowering`; errors are described by
:mod:`.syntax_errors`. Lark trees and tokens never leave these modules (and
:mod:`aigw_policy.syntax`, which reuses the grammar, the lowering and the error helpers).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from lark.exceptions import UnexpectedInput

from ..diagnostics import Diagnostic
from ..source import Source, Span
from . import ast
from .fast_parser import MAX_PARENS, lower_directly
from .grammar import lark_parser
from .lowering import KEYWORDS, MAX_DEPTH, RESERVED, Lowering
from .syntax_errors import CelSyntaxError, syntax_diagnostic

__all__ = ["CelSyntaxError", "MAX_DEPTH", "MAX_LENGTH", "RESERVED", "KEYWORDS", "SURROGATE", "Lowering", "clear_memo",
           "node_count", "parse", "remember", "remember_tree"]

MAX_LENGTH = 100_000
"""Longest expression accepted, in characters (cel-go's default limit too)."""

SURROGATE = re.compile("[\ud800-\udfff]")
"""Code points that are not Unicode scalar values: Python strings can hold them, text cannot."""


def parse(text: str, *, source: Source | None = None, offset: int = 0) -> ast.Expr:
    """Parse one CEL expression.

    With ``source``, ``text`` starts at ``offset`` in that document and spans point into
    it; without, spans point into a fresh ``Source(text)``. Raises :class:`CelSyntaxError`.
    A text parsed without ``source`` is memoized (the lint passes and the compiler each ask
    for the same texts; nodes are immutable, so sharing them is safe).
    """
    if source is None:
        return _parse_alone(text)
    return _parse(text, source, offset)


MEMO_SIZE = 32_768
"""Texts whose node :func:`parse` remembers: every CEL text of a 10,000-rule policy with three
texts a rule (SPEC §9). The lint passes and the compiler each go through a policy's texts in
order, and an LRU memo smaller than that set would miss every one of them."""


_given: dict[str, ast.Expr] = {}
"""Nodes handed to :func:`remember`, each taken (once) instead of parsing its text again."""
_sizes: dict[str, int] = {}


@lru_cache(maxsize=MEMO_SIZE)
def _parse_alone(text: str) -> ast.Expr:
    node = _given.pop(text, None)
    return node if node is not None else _parse(text, None, 0)


def remember(nodes: dict[str, ast.Expr], sizes: dict[str, int] | None = None) -> None:
    """Let :func:`parse` answer these texts with these nodes, parsed earlier from them without
    ``source`` (the whole-policy cache keeps a policy's), and :func:`node_count` with
    ``sizes`` (each node's count); replaces what was given before."""
    global _given, _sizes
    _given = dict(nodes)
    _sizes = dict(sizes) if sizes is not None else {}


def node_count(text: str, node: ast.Expr, limit: int) -> int:
    """:func:`ast.count_nodes` of ``node``, the parse of ``text``: as :func:`remember` was
    told it, else counted (at 10,000 rules the count was 4% of a load from the cache)."""
    known = _sizes.get(text)
    return min(known, limit + 1) if known is not None else ast.count_nodes(node, limit)


def remember_tree(text: str, tree: Any, document: str, offset: int) -> bool:
    """Let :func:`parse` answer ``text`` with ``tree`` lowered: a document's parse of it (the
    DSL's grammar holds CEL's), ``text`` starting at ``offset`` in ``document``. The node and
    its spans (relative to ``text``) are what parsing ``text`` alone gives, so a condition
    the DSL parsed is not lexed and parsed a second time (tests/syntax/test_when_from_tree.py
    compares the two on every document). False, nothing remembered, where ``text`` is to be
    parsed on its own to be judged: too long, a lone surrogate, deeper than the direct path
    goes, or any diagnostic of the lowering."""
    if len(text) > MAX_LENGTH or text.count("(") > MAX_PARENS or SURROGATE.search(text) is not None:
        return False
    lowering = Lowering(document, Source(text), -offset)  # (a literal's digits are read from `document`)
    node = lowering.lower(tree)
    if lowering.diagnostics:
        return False
    _given[text] = node
    try:
        _parse_alone(text)  # memoized now (or earlier: the memo's node stands)
    finally:
        _given.pop(text, None)
    return True


def clear_memo() -> None:
    """Forget the nodes :func:`parse` remembers (benchmarks measure cold parses)."""
    _parse_alone.cache_clear()
    _given.clear()
    _sizes.clear()


def _parse(text: str, source: Source | None, offset: int) -> ast.Expr:
    src = source if source is not None else Source(text)
    base = offset if source is not None else 0
    if len(text) > MAX_LENGTH:
        _fail("AIGW008", f"expression is too long ({len(text)} characters, the limit is "
              f"{MAX_LENGTH})", src.span(base, base + len(text)))
    bad = SURROGATE.search(text)
    if bad is not None:
        _fail("AIGW007", f"unreadable character U+{ord(bad.group()):04X}: a lone surrogate is not "
              "Unicode text", src.span(base + bad.start(), base + bad.end()))
    lowering = Lowering(text, src, base)
    try:
        node = lower_directly(text, lowering) if text.count("(") <= MAX_PARENS else None
        if node is None:  # too deep for the direct path: let the tree path report it
            lowering = Lowering(text, src, base)
            node = lowering.lower(lark_parser().parse(text))
    except UnexpectedInput as error:
        raise CelSyntaxError([syntax_diagnostic(error, text, src, base, "AIGW200")]) from None
    if lowering.diagnostics:
        raise CelSyntaxError(lowering.diagnostics)
    return node


def _fail(code: str, message: str, span: Span, help: str | None = None) -> None:
    raise CelSyntaxError([Diagnostic.make(code, message, span, help)])

