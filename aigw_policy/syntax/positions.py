"""Start and end offsets on the DSL parser's trees, for less than lark's own propagation.

Lark's ``propagate_positions`` gives every tree its line, column and offset at both ends,
and the same again for its "container" (the text an inlined ``?rule`` covered); it costs
about as much as the parse itself. The reader needs only the offsets, so the parser is built
without it and :func:`propagate_offsets` wraps each reduction callback with the same rule
restricted to offsets: a tree starts where its first child's container starts (the first
child with a position: a token, or a tree whose meta is not empty) and ends where its last
child's container ends, the children being those before lark filters out the punctuation
and keywords. It reads lark internals (the LALR parser's ``callbacks``); without them it
returns False and the caller builds a parser with ``propagate_positions=True`` instead
(tests/syntax/test_positions.py compares both on every DSL document of the repository).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Lark, Tree

__all__ = ["propagate_offsets"]


def propagate_offsets(parser: Lark) -> bool:
    """Give ``parser`` (an LALR parser built without positions) offset propagation; False if
    this lark version does not keep its callbacks where this looks."""
    try:
        callbacks = parser.parser.parser.parser.callbacks
    except AttributeError:
        return False
    if not isinstance(callbacks, dict):
        return False
    for rule, build in list(callbacks.items()):
        callbacks[rule] = _offsets(build)
    return True


def _offsets(build: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    def call(children: list[Any]) -> Any:
        res = build(children)
        if type(res) is not Tree:
            return res
        meta: Any = res.meta  # lark's Meta: attributes set as they are known
        for c in children:
            if type(c) is Tree:
                m: Any = c._meta  # noqa: SLF001 - None until asked for: no position
                if m is None or m.empty:
                    continue
                start = m.container_start_pos
            else:
                start = c.start_pos
            if not hasattr(meta, "start_pos"):  # an inlined rule's tree keeps its own
                meta.start_pos = start
                meta.empty = False
            meta.container_start_pos = start
            break
        for i in range(len(children) - 1, -1, -1):
            c = children[i]
            if type(c) is Tree:
                m = c._meta  # noqa: SLF001
                if m is None or m.empty:
                    continue
                end = m.container_end_pos
            else:
                end = c.end_pos
            if not hasattr(meta, "end_pos"):
                meta.end_pos = end
                meta.empty = False
            meta.container_end_pos = end
            break
        return res

    return call
