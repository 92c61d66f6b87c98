"""YAML text -> PyYAML nodes through libyaml's C parser, when PyYAML was built with it.

The fast path of :mod:`.yaml_tree`'s first stage. libyaml's parser (``yaml._yaml.CParser``)
is read as a stream of events, and the nodes PyYAML's pure-Python composer would build are
built here without recursion: the same classes, tags (by the caller's resolver), styles,
marks and anchors, with the nesting depth capped. The answer is the stream's documents, or
None whenever this path cannot vouch for giving what the pure-Python reader gives: libyaml
is absent; the text holds what the two scanners read differently (a tab, which Go's yaml and
our patched scanner take in more places than PyYAML's; a BOM; a line break other than CR
and LF); an event carries an explicit tag or a directive; the document is too deep or names
an unknown or repeated anchor; or libyaml reports any error. The caller then reads the text
with the pure-Python reader, whose messages and locations are the diagnostics.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from yaml.events import (
    AliasEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python reader reads everything
    CParser = None

__all__ = ["Resolve", "available", "documents"]

Resolve = Callable[[type, Any, Any], str]
"""``resolve(kind, value, implicit)`` of a PyYAML resolver: the tag of an untagged node."""

_UNSURE = ("\t", "\ufeff", "\x85", "\u2028", "\u2029")
"""Characters whose reading differs between libyaml's scanner and the pure-Python one (ours
takes tabs as Go's yaml does), or that move offsets (a BOM): texts holding one are left to
the pure-Python reader."""
_UNSURE_HEADER = re.compile(r"[|>][-+0-9]*#")
"""A block scalar's header with a comment right after it, which libyaml takes and PyYAML
refuses (or text that looks like one: the pure-Python reader decides)."""


def available() -> bool:
    """Whether this PyYAML has libyaml's parser."""
    return CParser is not None


def documents(text: str, resolve: Resolve, max_depth: int) -> list[tuple[Any, Any]] | None:
    """The stream's documents (each a root node and the mark where it starts, as the
    pure-Python composer's ``documents`` gives them), or None when the pure-Python reader
    must read this text (see the module's docstring)."""
    if CParser is None or any(c in text for c in _UNSURE) or _UNSURE_HEADER.search(text):
        return None
    try:
        parser = CParser(text)  # refuses a lone surrogate, which UTF-8 cannot carry
    except UnicodeError:
        return None
    try:
        return _compose(parser.get_event, resolve, max_depth)
    except Exception:  # noqa: BLE001 - any trouble at all: the pure-Python reader says what it is
        return None
    finally:
        parser.dispose()


class _Unsure(Exception):
    """This stream needs the pure-Python reader."""


_NO_KEY = object()


def _compose(get: Callable[[], Any], resolve: Resolve, max_depth: int) -> list[tuple[Any, Any]]:
    """Events -> nodes, with an explicit stack: every collection being filled, and for a
    mapping the key whose value comes next (``_NO_KEY`` when a key comes next)."""
    get()  # stream start
    found: list[tuple[Any, Any]] = []
    plain: dict[str, str] = {}  # an untagged plain scalar's tag, by its text
    while True:
        event = get()
        if event.__class__ is StreamEndEvent:
            return found
        if event.version is not None or event.tags:  # a %YAML or %TAG directive
            raise _Unsure
        start = event.start_mark
        anchors: dict[str, Any] = {}
        stack: list[Any] = []  # [node, key] per open collection
        root: Any = None
        flow = 0  # how many of the open collections are flow collections
        while root is None:
            event = get()
            cls = event.__class__
            if cls is ScalarEvent or cls is SequenceStartEvent or cls is MappingStartEvent:
                if event.tag is not None or len(stack) >= max_depth:
                    raise _Unsure
                if cls is ScalarEvent:
                    style = event.style or None  # libyaml's plain style is '', PyYAML's None
                    value = event.value
                    if style is None and flow and ("?" in value or not value):
                        # a `?` ends a plain scalar in a flow collection for PyYAML only, and an
                        # empty one there (`[a: ]`, `[? ]`) is placed elsewhere by each
                        raise _Unsure
                    implicit = event.implicit
                    if implicit[0]:
                        tag = plain.get(value)
                        if tag is None:
                            tag = plain[value] = resolve(ScalarNode, value, implicit)
                    else:
                        tag = resolve(ScalarNode, value, implicit)
                    node: Any = ScalarNode(tag, value, event.start_mark, event.end_mark, style=style)
                else:
                    kind = SequenceNode if cls is SequenceStartEvent else MappingNode
                    node = kind(resolve(kind, None, event.implicit), [], event.start_mark, None,
                                flow_style=event.flow_style)
                anchor = event.anchor
                if anchor is not None:
                    if anchor in anchors:
                        raise _Unsure
                    anchors[anchor] = node
                if cls is not ScalarEvent:
                    stack.append([node, _NO_KEY])
                    flow += event.flow_style
                    continue
            elif cls is AliasEvent:
                node = anchors.get(event.anchor)
                if node is None or len(stack) >= max_depth:
                    raise _Unsure
            else:  # a collection's end
                node = stack.pop()[0]
                node.end_mark = event.end_mark
                flow -= node.flow_style
            if not stack:
                root = node
                continue
            top = stack[-1]
            if top[0].__class__ is SequenceNode:
                top[0].value.append(node)
            elif top[1] is _NO_KEY:
                top[1] = node
            else:
                top[0].value.append((top[1], node))
                top[1] = _NO_KEY
        get()  # document end
        if not found or not (root.__class__ is ScalarNode and root.tag == "tag:yaml.org,2002:null"):
            found.append((root, start))
