"""Every CEL text in a policy parses and type-checks: conditions, CEL config fields, templates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..diagnostics import Diagnostic
from ..ir import Action, Policy
from ..ir.actions import field_kind
from ..source import Source, Span
from ..template import Interpolation, TemplateError, split_template


def check(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for _, rule in policy.rules():
        for expr in rule.expressions:
            found.extend(_parse(expr.source, expr.span, source))
        for action in rule.actions:
            for text, span, is_template in _cel_texts(action):
                if is_template:
                    found.extend(_parse_template(text, span, source))
                else:
                    found.extend(_parse(text, span, source))
    return found


def cel_texts(policy: Policy) -> Iterator[tuple[str, Span | None]]:
    """Every CEL text of a policy with where it was written: conditions, CEL config
    fields and the expressions inside ``${...}`` interpolations."""
    for _, rule in policy.rules():
        for expr in rule.expressions:
            yield expr.source, expr.span
        for action in rule.actions:
            for text, span, is_template in _cel_texts(action):
                if not is_template:
                    yield text, span
                    continue
                try:
                    parts = split_template(text)
                except TemplateError:
                    continue
                for part in parts:
                    if isinstance(part, Interpolation):
                        yield part.source, span


def _cel_texts(action: Action) -> Iterator[tuple[str, Span | None, bool]]:
    config = action.config
    for name, value in config.written().items():
        kind = field_kind(type(config), name)
        if kind == "cel":
            yield value, action.span_of(name), False
        elif kind == "cel_list":
            for i, item in enumerate(value):
                yield item, action.span_of(f"{name}.{i}"), False
        elif kind == "template":
            yield value, action.span_of(name), True
        elif kind == "template_map":  # header values are strings; log metadata may be any value
            for key, item in value.items():
                for text in _strings(item):
                    yield text, action.span_of(f"{name}.{key}"), True
        elif type(config).TYPE == "set-vars":
            for i, entry in enumerate(value):
                for key, item in entry.items():
                    for text in _strings(item):
                        yield text, action.span_of(f"{name}.{i}.{key}"), True


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _exact(text: str, span: Span | None, source: Source | None) -> bool:
    """Whether ``text`` stands verbatim at ``span`` in ``source`` (spans can then be exact)."""
    return (
        span is not None
        and source is not None
        and source.text[span.start : span.start + len(text)] == text
    )


def _parse(text: str, span: Span | None, source: Source | None) -> list[Diagnostic]:
    from ..cel.api import check_text
    from ..cel.parser import CelSyntaxError, parse

    known = check_text(text)  # memoized: most texts are fine, and then spans do not matter
    if known is not None and not known[1]:
        return []
    exact = _exact(text, span, source)
    try:
        if exact:
            node = parse(text, source=source, offset=span.start)  # type: ignore[union-attr]
        else:
            node = parse(text)
    except CelSyntaxError as error:
        if exact:
            return list(error.diagnostics)
        # the text was quoted or escaped in the document: point at the value as a whole
        return [
            Diagnostic(d.code, d.message, span or d.span, d.help, d.severity)
            for d in error.diagnostics
        ]
    from ..cel.api import check_condition

    found = check_condition(node)
    if exact:
        return found
    return [Diagnostic(d.code, d.message, span or d.span, d.help, d.severity) for d in found]


def _parse_template(text: str, span: Span | None, source: Source | None) -> list[Diagnostic]:
    try:
        parts = split_template(text)
    except TemplateError as error:
        return [Diagnostic.make("AIGW203", str(error), span)]
    found: list[Diagnostic] = []
    for part in parts:
        if isinstance(part, Interpolation):
            inner = None
            if span is not None and source is not None:
                start = source.text.find(text, span.start, span.end + 2) if _contains(
                    text, span, source) else -1
                if start != -1:
                    offset = start + part.offset
                    inner = source.span(offset, offset + len(part.source))
            found.extend(_parse(part.source, inner or span, source))
    return found


def _contains(text: str, span: Span, source: Source) -> bool:
    return text in source.text[span.start : span.end + 2]
