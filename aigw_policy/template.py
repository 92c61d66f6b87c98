"""``${expr}`` interpolation in string config values (ngrok's rule).

A value that is exactly one ``${...}`` keeps the CEL type of the expression; otherwise every
``${...}`` is rendered as a string inside the surrounding text. ``$${`` is not special: ngrok
has no escape, so neither do we; a ``$`` not followed by ``{`` is literal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Interpolation", "TemplateError", "double_text", "split_template"]


@dataclass(frozen=True, slots=True)
class Interpolation:
    """One ``${source}``; ``offset`` is where ``source`` starts in the template text."""

    source: str
    offset: int


class TemplateError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def split_template(text: str) -> list[str | Interpolation]:
    """Split a template into literal strings and interpolations.

    The end of an interpolation is the ``}`` that closes it, skipping braces inside CEL
    string literals and nested map literals.
    """
    parts: list[str | Interpolation] = []
    i = 0
    literal_start = 0
    n = len(text)
    while i < n:
        if text.startswith("${", i):
            if i > literal_start:
                parts.append(text[literal_start:i])
            end = _closing_brace(text, i + 2)
            source = text[i + 2 : end]
            if not source.strip():
                raise TemplateError("empty interpolation `${}`", i)
            parts.append(Interpolation(source, i + 2))
            i = literal_start = end + 1
        else:
            i += 1
    if literal_start < n:
        parts.append(text[literal_start:])
    return parts


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            quote = text[i : i + 3] if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if text[i] == "\\" else 1
            if i >= n:
                break
            i += len(quote)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise TemplateError("unterminated interpolation: `${` without a closing `}`", start - 2)


def double_text(value: float) -> str:
    """A double inside text (``${...}`` in a string, a header value): CEL's ``string()``
    of the value rounded to 15 significant digits, the most a double always holds exactly.
    Arithmetic noise goes (``0.1 + 0.2`` is ``0.3``, not ``0.30000000000000004``; a cost
    summed in floating point reads ``165.006424``); a value that is exactly one ``${...}``
    keeps its type, and ``string(x)`` in CEL keeps the exact digits."""
    from .cel.runtime.ops import format_double

    if not math.isfinite(value):
        return format_double(value)
    return format_double(float(f"{value:.15g}"))
