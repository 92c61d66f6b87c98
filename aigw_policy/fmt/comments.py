"""Comments in formatted text: which printed line each comment of the source goes with.

Comments are trivia, not IR. :func:`attach` gives every comment of a parsed document a
place next to one printed line, named by a *key*:

- an own-line comment leads the next line printed after it (it is printed on its own line
  before that line, at that line's indentation, or inside the block before a closing ``}``);
- a comment after code on its line trails the last printed line that starts before it
  (``deny 403  # why``); a second one for the same line leads the next line instead;
- inside an action's block, the same two rules apply to the block's lines: the action's
  first line, one line per key (``("field", phase, i, k, key)``) and its closing ``}``
  (``("action-end", phase, i, k)``); the printer then prints the block one key per line,
  or, for an action printed on one line (``deny 403``), puts them before it;
- a comment inside CEL text that the IR keeps (``Expr.source``, ``cost``, ``bucket_key``
  items) is not placed: it is printed with its CEL.

Keys: ``("head",)`` ``("setting", key)`` ``("phase", phase)`` ``("rule", phase, i)``
``("rule.on_error", phase, i)`` ``("rule.mode", phase, i)`` ``("when", phase, i, j)`` ``("action", phase, i, k)``
``("action-end", phase, i, k)`` ``("field", phase, i, k, key)`` ``("rule-end", phase, i)``
``("phase-end", phase)`` ``("end",)``, and ``("eof",)`` for the
comments after the policy's closing ``}``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..ir import Action
from ..ir.parts import kind_at, part_of
from ..ir.nodes import PHASES, SETTINGS, Policy
from ..source import Span, line_start

if TYPE_CHECKING:
    from ..syntax.dsl import Comment, Trivia

__all__ = ["Comments", "Key", "Placed", "attach", "comment_texts"]

Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Placed:
    """A comment as printed: its text, and whether a blank line separated it from the
    comment before it in the source (kept inside a group of comments, nowhere else)."""

    text: str
    blank_before: bool = False


@dataclass(slots=True)
class Comments:
    """Where the printer puts comments: before or after the line of a key."""

    leading: dict[Key, list[Placed]] = field(default_factory=dict)
    trailing: dict[Key, str] = field(default_factory=dict)

    def before(self, key: Key) -> list[Placed]:
        return self.leading.get(key, [])

    def after(self, key: Key) -> str | None:
        return self.trailing.get(key)


def attach(policy: Policy, trivia: Trivia, text: str) -> Comments:
    """Place every comment of ``trivia`` (read with ``policy`` from ``text``)."""
    anchors = sorted(_anchors(policy, trivia))
    units = _action_anchors(policy, text)
    kept = _kept_cel_spans(policy)
    out = Comments()
    for comment in trivia.comments:
        span = comment.span
        if any(_inside(span, s) for s in kept):
            continue
        inner = next((a for s, a in units if s.start < span.start < s.end - 1), None)
        _place(out, comment, inner or anchors, ("eof",), text)
    return out


def _place(out: Comments, comment: Comment, anchors: list[tuple[int, Key]], last: Key,
           text: str) -> None:
    starts = [offset for offset, _ in anchors]
    at = comment.span.start
    if not comment.own_line:
        i = bisect_left(starts, at) - 1
        if i >= 0 and anchors[i][1] not in out.trailing:
            out.trailing[anchors[i][1]] = comment.text
            return
    i = bisect_right(starts, at)
    key = anchors[i][1] if i < len(anchors) else last
    blank = comment.own_line and _blank_line_before(text, at)
    out.leading.setdefault(key, []).append(Placed(comment.text, blank))


def comment_texts(comments: list[Comment]) -> Counter[str]:
    """The multiset of comment texts, without their marker: a `#` comment inside CEL is
    kept as a `//` one, and is still the same comment."""
    return Counter(c.text[1:] if c.text.startswith("#") else c.text[2:] for c in comments)


# --- where the printed lines were written --------------------------------------------------

def _anchors(policy: Policy, trivia: Trivia) -> list[tuple[int, Key]]:
    out: list[tuple[int, Key]] = []
    if policy.span is not None:
        out += [(policy.span.start, ("head",)), (policy.span.end - 1, ("end",))]
    statements = trivia.statements
    for name, span in statements:
        if (name in SETTINGS or name == "shard_key") and getattr(policy, name) is not None:
            out.append((span.start, ("setting", name)))
    for phase in PHASES:
        rules = policy.phase(phase)
        blocks = [span for name, span in statements if name == phase]
        if getattr(policy, phase) is not None and blocks:  # printed, even when empty
            out += [(blocks[0].start, ("phase", phase)), (blocks[-1].end - 1, ("phase-end", phase))]
        for i, rule in enumerate(rules):
            if rule.span is None:
                continue
            out += [(rule.span.start, ("rule", phase, i)), (rule.span.end - 1, ("rule-end", phase, i))]
            out += [(span.start, (name, phase, i)) for name, span in statements
                    if name in ("rule.on_error", "rule.mode") and _inside(span, rule.span)]
            out += [(e.span.start, ("when", phase, i, j))
                    for j, e in enumerate(rule.expressions) if e.span is not None]
            for k, a in enumerate(rule.actions):
                if a.span is not None:
                    out += [(a.span.start, ("action", phase, i, k)),
                            (a.span.end - 1, ("action-end", phase, i, k))]
    return out


def _action_anchors(policy: Policy, text: str) -> list[tuple[Span, list[tuple[int, Key]]]]:
    """Each action's span, and the anchors of its block's lines: the action's, its keys',
    and, inside its parts (``providers: [...]``), every item or key that starts a line
    (``("nested", phase, i, k, "providers.1")``), which the printer keeps on a line of its own."""
    out = []
    for phase in PHASES:
        for i, rule in enumerate(policy.phase(phase)):
            for k, action in enumerate(rule.actions):
                if action.span is None:
                    continue
                at = (phase, i, k)
                anchors: list[tuple[int, Key]] = [(action.span.start, ("action", *at))]
                for key in action.config.written():
                    key_span = action.field_spans.get(f"{key}:key")
                    if key_span is not None:
                        anchors.append((key_span.start, ("field", *at, key)))
                anchors += [(start, ("nested", *at, path))
                            for path, start in _nested_starts(action, text)]
                anchors.append((action.span.end - 1, ("action-end", *at)))
                out.append((action.span, sorted(anchors)))
    return out


def _nested_starts(action: Action, text: str) -> list[tuple[str, int]]:
    """(path, offset) of the items and keys inside the action's parts that start a line."""
    config = type(action.config)
    out = []
    for path, span in action.field_spans.items():
        field, dot, rest = path.partition(".")
        if span is None or not dot or part_of(config, field) is None:
            continue
        if path.endswith(":key"):
            path = path[:-4]
        elif not rest.rsplit(".", 1)[-1].isdigit():
            continue  # a key's value: its key is the anchor
        if not text[line_start(text, span.start):span.start].strip():
            out.append((path, span.start))
    return out


def _kept_cel_spans(policy: Policy) -> list[Span]:
    """Spans of CEL text the IR keeps as written, comments included."""
    out: list[Span] = []
    if policy.shard_key is not None and policy.shard_key.span is not None:
        out.append(policy.shard_key.span)
    for _, rule in policy.rules():
        out += [e.span for e in rule.expressions if e.span is not None]
        for action in rule.actions:
            config = type(action.config)
            for path, span in action.field_spans.items():
                if span is None or ":" in path:
                    continue
                # CEL at any depth: `cost`, `bucket_key.0`, `model_selection.strategy.0`
                if kind_at(config, path) in (("cel", False), ("cel_list", True)):
                    out.append(span)
    return out


def _inside(inner: Span, outer: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _blank_line_before(text: str, offset: int) -> bool:
    begins = line_start(text, offset)
    if begins == 0:
        return False
    previous = line_start(text, begins - 1 - text.startswith("\r\n", begins - 2))
    return not text[previous:begins - 1].strip()
