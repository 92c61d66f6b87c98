"""The formatter: DSL text -> canonical DSL text, proven not to change meaning.

``format_policy`` parses, prints, re-parses its own output and compares the two IRs (spans
never take part in equality) and the two multisets of comments. If either differs it
refuses with ``AIGW009`` rather than rewrite a policy into one that means something else,
or lose a comment. Comments are placed by :mod:`.comments`; the layout is in docs/fmt.md.
The output ends its lines as the input does when all of its lines end alike (``\r\n`` or
``\r``), else with ``\n``.
"""

from __future__ import annotations

import re
from typing import Any

from ..diagnostics import Diagnostic, Diagnostics, PolicyError
from ..ir.nodes import Node, Policy
from ..source import Source, Span
from .comments import attach, comment_texts
from .printer import print_dsl

__all__ = ["format_policy", "print_dsl"]

_BREAK = re.compile(r"\r\n|\r|\n")
_PRINTED_BREAK = re.compile(r"(?<!\r)\n")


def format_policy(text: str, *, name: str | None = None) -> str:
    """The canonical DSL text of ``text``; :class:`PolicyError` if it cannot be formatted.

    Parse errors are raised with the parser's diagnostics; warnings do not stop formatting.
    Lines end as those of ``text`` do when none of them ends in a lone ``\n``, else (all
    ``\n``, or mixed) with ``\n``; the line breaks inside a multi-line condition are its own
    and are kept as written (a lone ``\n`` there would otherwise change the CEL's text).
    """
    from ..syntax.dsl import Trivia, read_dsl

    source = Source(text, name)
    trivia, again_trivia = Trivia(), Trivia()
    policy = _parse(read_dsl, source, trivia)
    formatted = print_dsl(policy, attach(policy, trivia, text))
    first_break = _BREAK.search(text)
    if first_break is not None and first_break.group() != "\n" and not _PRINTED_BREAK.search(text):
        formatted = _PRINTED_BREAK.sub(first_break.group(), formatted)
    try:
        again = _parse(read_dsl, Source(formatted, name), again_trivia)
    except PolicyError as error:
        first = error.diagnostics[0]
        raise PolicyError([Diagnostic.make(
            "AIGW009",
            "formatter would change meaning: its output does not parse",
            policy.span,
            help=f"formatted text: {first}; please report this bug",
        )]) from None
    if again != policy:
        raise PolicyError([Diagnostic.make(
            "AIGW009",
            "formatter would change meaning",
            _first_difference(policy, again) or policy.span or source.span(0),
            help="the file was left as it is; please report this bug",
        )])
    lost = comment_texts(trivia.comments) - comment_texts(again_trivia.comments)
    added = comment_texts(again_trivia.comments) - comment_texts(trivia.comments)
    if lost or added:
        first = next((c for c in trivia.comments if comment_texts([c]) & lost), None)
        raise PolicyError([Diagnostic.make(
            "AIGW009",
            "formatter would " + ("lose this comment" if first else "duplicate a comment"),
            first.span if first else policy.span or source.span(0),
            help="the file was left as it is; please report this bug",
        )])
    return formatted


def _parse(read_dsl: Any, source: Source, trivia: Any = None) -> Policy:
    diags = Diagnostics()
    policy = read_dsl(source, diags, trivia)
    errors = [d for d in diags.sorted() if d.is_error]
    if errors:
        raise PolicyError(errors)
    if policy is None:
        raise PolicyError([Diagnostic.make(
            "AIGW001", "nothing could be read from this document", source.span(0)
        )])
    return policy


def _first_difference(old: Any, new: Any) -> Span | None:
    """The span of the innermost node of ``old`` that differs from ``new``."""
    if isinstance(old, Node) and type(old) is type(new):
        for field in old._compared:
            a, b = getattr(old, field), getattr(new, field)
            if a != b:
                return _first_difference(a, b) or old.span
        return None
    if isinstance(old, tuple) and isinstance(new, tuple):
        for a, b in zip(old, new):
            if a != b:
                return _first_difference(a, b)
        if len(old) > len(new):
            return _first_difference(old[len(new)], None)
        return None
    return old.span if isinstance(old, Node) else None
