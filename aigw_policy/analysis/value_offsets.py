"""Where a finding inside a value's own text stands in the document, when the value is not
written there verbatim: a ``>-`` or ``|`` block, a plain scalar over several lines, a quoted
one with escapes, a JSON string with ``\\"`` (a CEL condition, a ``${...}`` template, a
selection strategy). Verbatim values are parsed in place and need none of this."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..source import Source, Span

__all__ = ["placed", "value_offsets"]


def value_offsets(text: str, span: Span | None, source: Source | None) -> list[int] | None:
    """Where each character of ``text``, a value not written verbatim at ``span`` (a ``>-`` or
    ``|`` block, a plain scalar over several lines, a quoted one with escapes), stands in
    ``source``, and where it ends (one more entry): each character is the next one of the span
    equal to it, a space or a line break of the value also a line break of the source (YAML
    folds one into the other), so that a finding can point at its word. None when one is not
    found in the span (a ``\\u00e9`` escape): the finding then points at the whole value."""
    if span is None or source is None:
        return None
    src, at, end, out = source.text, span.start, span.end, []
    for c in text:
        while at < end and src[at] != c and not (c in " \n" and src[at] in "\r\n"):
            at += 1
        if at >= end:
            return None
        out.append(at)
        at += 1
    out.append(at)
    return out


def placed(found: list[Diagnostic], offsets: list[int] | None, span: Span | None,
           source: Source | None) -> list[Diagnostic]:
    """``found`` (spans inside the value's own text) moved into ``source`` by ``offsets``,
    or onto the whole value at ``span`` without them."""
    out = []
    for d in found:
        if offsets is not None and source is not None and d.span is not None:
            start = offsets[min(d.span.start, len(offsets) - 1)]
            last = min(d.span.end, len(offsets) - 1) - 1
            stop = offsets[last] + 1 if d.span.end > d.span.start else start
            where: Span | None = source.span(start, max(start, stop))
        else:
            where = span or d.span
        out.append(Diagnostic(d.code, d.message, where, d.help, d.severity))
    return out
