"""The document's own names: its limits and `vars` (where each is defined), its rules as
symbols, and going from a use (`limits["team-tpm"]`, `vars.route`) to the definition."""

from __future__ import annotations

import re

from lsprotocol import types

from ..ir import Policy
from ..ir.nodes import Action
from ..source import Span
from .positions import Lines

__all__ = ["definition_at", "limit_names", "limits", "name_at", "symbols", "variables"]

_PHASE_NAMES = {"on_http_request": "on request", "on_http_response": "on response"}
_LIMIT_USE = re.compile(r"""limits\s*\[\s*(["'])([^"'\r\n]*)\1\s*\]""")
_VAR_USE = re.compile(r"""vars\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*(["'])([^"'\r\n]*)\2\s*\])""")


def limits(policy: Policy | None) -> dict[str, Action]:
    """Limit name -> its (first) limit action."""
    out: dict[str, Action] = {}
    for _, rule in policy.rules() if policy is not None else ():
        for action in rule.actions:
            if action.config.LIMIT:
                out.setdefault(_limit_name(action), action)
    return out


def _limit_name(action: Action) -> str:
    return str(action.config.written()["name"])  # every limit's config has a name


def limit_names(policy: Policy | None) -> list[str]:
    return sorted(limits(policy))


def variables(policy: Policy | None) -> dict[str, tuple[Action, str]]:
    """`vars` name -> the (first) `set-vars` action setting it and its field path."""
    out: dict[str, tuple[Action, str]] = {}
    for _, rule in policy.rules() if policy is not None else ():
        for action in rule.actions:
            for name, path in _sets(action):
                out.setdefault(name, (action, path))
    return out


def _sets(action: Action) -> list[tuple[str, str]]:
    """The `vars` names a `set-vars` action sets, with their field paths (`vars.0.route`)."""
    if action.type != "set-vars":
        return []
    entries = action.config.written().get("vars", ())
    return [(name, f"vars.{i}.{name}") for i, entry in enumerate(entries) for name in entry]


def name_at(text: str, offset: int) -> tuple[str, str] | None:
    """``("limit", name)`` or ``("var", name)`` when the cursor is on such a use."""
    for pattern, kind in ((_LIMIT_USE, "limit"), (_VAR_USE, "var")):
        for m in pattern.finditer(text, max(0, offset - 1100), min(len(text), offset + 1100)):
            if m.start() <= offset <= m.end():
                name = m.group(2) if kind == "limit" else (m.group(1) or m.group(3))
                return kind, name
    return None


def definition_span(policy: Policy | None, kind: str, name: str) -> Span | None:
    if kind == "limit":
        action = limits(policy).get(name)
        return action.span_of("name") if action is not None else None
    found = variables(policy).get(name)
    if found is None:
        return None
    action, path = found
    return action.field_spans.get(path + ":key") or action.span_of(path)


def definition_at(policy: Policy | None, text: str, offset: int) -> Span | None:
    use = name_at(text, offset)
    return definition_span(policy, *use) if use is not None else None


def symbols(policy: Policy | None, lines: Lines) -> list[types.DocumentSymbol]:
    """Phases, their rules, and the limits and vars each rule defines."""
    out: list[types.DocumentSymbol] = []
    for phase in ("on_http_request", "on_http_response"):
        rules = getattr(policy, phase, None) if policy is not None else None
        if not rules:
            continue
        children = []
        for n, rule in enumerate(rules, 1):
            inner = []
            for action in rule.actions:
                if action.config.LIMIT:
                    inner.append(_symbol(_limit_name(action), action.type, types.SymbolKind.Variable,
                                         action.span, action.span_of("name"), lines))
                for name, path in _sets(action):
                    inner.append(_symbol(f"vars.{name}", "set-vars", types.SymbolKind.Variable, action.span,
                                         action.span_of(path), lines))
            children.append(_symbol(rule.name or f"rule #{n}", "rule", types.SymbolKind.Function, rule.span,
                                    rule.name_span or rule.span, lines, inner))
        whole = _cover([r.span for r in rules])
        out.append(_symbol(_PHASE_NAMES[phase], "phase", types.SymbolKind.Module, whole, whole, lines, children))
    return out


def _cover(spans: list[Span | None]) -> Span | None:
    known = [s for s in spans if s is not None]
    if not known:
        return None
    first = min(known, key=lambda s: s.start)
    last = max(known, key=lambda s: s.end)
    return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column, first.file)


def _symbol(name: str, detail: str, kind: types.SymbolKind, span: Span | None, selection: Span | None,
            lines: Lines, children: list[types.DocumentSymbol] | None = None) -> types.DocumentSymbol:
    whole = lines.range(span)
    chosen = lines.range(selection) if selection is not None and span is not None and \
        span.start <= selection.start and selection.end <= span.end else whole
    return types.DocumentSymbol(name=name or "(unnamed)", detail=detail, kind=kind, range=whole,
                                selection_range=chosen, children=children or None)
