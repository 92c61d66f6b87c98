"""Lint passes that know how the engine evaluates (SPEC §4): dead conditions, shadowed rules,
``limits[...]`` read before the limit runs, and lookups that can fail at run time.

Codes (policy analysis, ``AIGW4xx``):

- ``AIGW400`` warning: a condition with no variables is always true or always false;
- ``AIGW401`` warning: a rule after an unconditional terminating rule never runs;
- ``AIGW402`` warning: ``limits['x']`` read before limit ``x`` runs (or no such limit);
- ``AIGW403`` warning: an identity field, header or label read without ``has()``/``in``/``?``
  fails the rule at run time when the request does not carry it (opt-in:
  ``aigw-policy lint --runtime-lookups``, ``LintOptions(runtime_lookups=True)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..cel import ast
from ..diagnostics import Diagnostic, did_you_mean
from ..ir import Policy, Rule
from ..source import Source, Span

__all__ = ["check_constant", "check_limits_order", "check_lookups", "check_shadowed"]

_TERMINATING = frozenset({"deny", "custom-response", "allow"})
_IDENTITY_FIELDS = frozenset({"identity.key", "identity.user", "identity.team", "identity.org", "identity.tier"})
_MAPS = frozenset({"req.headers", "res.headers", "identity.labels", "req.url.query_params", "vars", "limits"})


def _diag(code: str, message: str, span: Span | None, help: str | None = None) -> Diagnostic:
    return Diagnostic.make(code, message, span, help)


def _parse(source: str) -> Any:
    from ..cel.parser import CelSyntaxError, parse

    try:
        return parse(source)
    except (CelSyntaxError, RecursionError):
        return None  # the cel pass reports it


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for name in getattr(n, "__dataclass_fields__", ()):
            if name == "span":
                continue
            v = getattr(n, name)
            if isinstance(v, tuple):
                stack.extend(x for x in v if hasattr(x, "__dataclass_fields__"))
            elif hasattr(v, "__dataclass_fields__"):
                stack.append(v)


def _path(node: Any) -> str | None:
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Select):
        base = _path(node.operand)
        return f"{base}.{node.field}" if base is not None else None
    return None


def _constant_value(source: str, node: Any) -> Any:
    """The value of a condition without variables, or ``...`` when it has any (or errors)."""
    if any(isinstance(n, ast.Ident) for n in _walk(node)):
        return ...
    from ..cel import CelError, compile_condition

    try:
        return compile_condition(source)({})
    except (CelError, RecursionError):
        return ...


def check_constant(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found = []
    for _, rule in policy.rules():
        for expr in rule.expressions:
            node = _parse(expr.source)
            if node is None:
                continue
            value = _constant_value(expr.source, node)
            if value is True:
                found.append(_diag("AIGW400", f"`{expr.source}` is always true", expr.span,
                                   "remove the condition: a rule without conditions always matches"))
            elif value is False:
                found.append(_diag("AIGW400", f"`{expr.source}` is always false: rule `{rule.name or '?'}` never runs",
                                   expr.span, "remove the rule, or fix the condition"))
    return found


def _always_terminates(rule: Rule) -> bool:
    if any(_constant_value(e.source, n) is not True for e in rule.expressions for n in [_parse(e.source)]):
        return False
    return any(a.type in _TERMINATING for a in rule.actions)


def check_shadowed(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found = []
    for phase in ("on_http_request", "on_http_response"):
        blocker: Rule | None = None
        for rule in policy.phase(phase):  # type: ignore[arg-type]
            if blocker is not None:
                name = f"`{blocker.name}`" if blocker.name else "an unnamed rule"
                line = f" (line {blocker.span.line})" if blocker.span else ""
                found.append(_diag("AIGW401", f"rule `{rule.name or '?'}` never runs: {name}{line} always ends the phase before it",
                                   rule.name_span or rule.span, "move this rule above it, or give that rule a condition"))
                continue
            if _always_terminates(rule):
                blocker = rule
    return found


_LIMIT_READ = re.compile(r"""limits\s*(?:\[\s*(['"])(?P<a>[^'"]+)\1\s*\]|\.(?P<b>[A-Za-z_][A-Za-z0-9_]*))""")


def _texts(rule: Rule) -> Iterator[tuple[str, Span | None]]:
    for e in rule.expressions:
        yield e.source, e.span
    for a in rule.actions:
        for key, value in a.config.written().items():
            for text in _strings(value):
                yield text, a.span_of(key)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def check_limits_order(policy: Policy, source: Source | None = None, *,
                       complete: bool = True) -> list[Diagnostic]:
    found = []
    every = {a.config.name for _, r in policy.rules() for a in r.actions if a.config.LIMIT}
    seen: set[str] = set()
    for phase in ("on_http_request", "on_http_response"):
        for rule in policy.phase(phase):  # type: ignore[arg-type]
            for text, span in _texts(rule):
                for m in _LIMIT_READ.finditer(text):
                    name = m.group("a") or m.group("b")
                    if name in seen or (phase == "on_http_response" and name in every):
                        continue
                    if name in every:
                        found.append(_diag("AIGW402", f"`limits['{name}']` is read before limit `{name}` runs", span,
                                           f"move the rule with limit `{name}` above this one; until it runs the lookup is an error"))
                    elif complete:
                        found.append(_diag("AIGW402", f"there is no limit named `{name}`", span,
                                           _limit_name_help(name, every)))
            for a in rule.actions:
                if a.config.LIMIT and phase == "on_http_request":
                    seen.add(a.config.name)
    return found


def _limit_name_help(name: str, names: set[str]) -> str:
    dashed = name.replace("_", "-")
    if dashed in names:  # `limits.team_tpm` for the limit `team-tpm`
        return f"write `limits['{dashed}']`: a name with `-` cannot follow a `.`"
    return did_you_mean(name, sorted(names)) or (
        "limits are named by the `name` of a rate-limit, token-limit or usage-cap")


def _guarded(node: Any, path: str, key: str | None) -> bool:
    """Whether the expression tests presence: ``has(path)``, ``'key' in path``, ``path.?x``."""
    for n in _walk(node):
        if isinstance(n, ast.Call):
            if n.function == "has" and n.args and _path(n.args[0]) == (f"{path}.{key}" if key else path):
                return True
            if n.function == "has" and n.args and isinstance(n.args[0], ast.Select) and key is None and _path(n.args[0]) == path:
                return True
            if n.function == ast.IN and len(n.args) == 2 and _path(n.args[1]) == path:
                return True
            if n.function in ("hasReqHeader", "hasResHeader"):
                return True
        if isinstance(n, (ast.Select, ast.Index)) and getattr(n, "optional", False):
            return True
    return False


def check_lookups(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found = []
    for _, rule in policy.rules():
        if (rule.on_error or policy.on_error or "deny") == "skip":
            continue
        for expr in rule.expressions:
            node = _parse(expr.source)
            if node is None:
                continue
            reported: set[str] = set()
            for n in _walk(node):
                p = _path(n) if isinstance(n, ast.Select) else None
                if p in _IDENTITY_FIELDS and p not in reported and not _guarded(node, p, None):
                    reported.add(p)
                    found.append(_diag("AIGW403", f"`{p}` is an error when the request has no {p.split('.')[1]}: "
                                       f"rule `{rule.name or '?'}` then fails closed (500)", expr.span,
                                       f"write `has({p}) && ...`, or `on-error skip` on the rule"))
                if isinstance(n, ast.Index) and not n.optional:
                    base = _path(n.operand)
                    key = n.index.value if isinstance(n.index, ast.Literal) and n.index.kind == "string" else None
                    if base in _MAPS and base not in ("vars", "limits") and f"{base}[{key}]" not in reported \
                            and not _guarded(node, base, key):
                        reported.add(f"{base}[{key}]")
                        k = f"'{key}'" if key is not None else "k"
                        found.append(_diag("AIGW403", f"`{base}[{k}]` is an error when the key is missing: "
                                           f"rule `{rule.name or '?'}` then fails closed (500)", expr.span,
                                           f"write `{k} in {base} && ...` or `{base}[?{k}].orValue(...)`"))
    return found


"""Opt-in passes (``aigw-policy lint --runtime-lookups``)."""
