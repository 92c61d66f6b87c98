"""Lint passes that know how the engine evaluates (SPEC §4): dead conditions, shadowed rules,
``limits[...]`` read before the limit runs, and lookups that can fail at run time.

Codes (policy analysis, ``AIGW4xx``):

- ``AIGW400`` warning: a condition with no variables is always true or always false; a
  header name with upper-case letters tested or read in a header map (its keys are
  lower-case);
- ``AIGW401`` warning: a rule after an unconditional terminating rule never runs;
- ``AIGW402`` warning: ``limits['x']`` read before limit ``x`` runs, or where it may not
  have run (its rule has a condition; in the response phase, an earlier request rule can end
  the request), or no such limit;
- ``AIGW404`` warning: ``vars.x`` read where no ``set-vars`` has set it (never, not yet, or
  maybe not, as for ``limits``);
- ``AIGW404`` warning also: a request rule's condition reads the response (``res.*``,
  ``getResHeader``, ...), which only ``on_http_response`` sets;
- ``AIGW403`` warning: an identity field, header or label read without ``has()``/``in``/``?``,
  in a condition or in an action's CEL (``bucket_key``, ``cost``, ``${...}``), fails the rule
  at run time when the request does not carry it (opt-in:
  ``aigw-policy lint --runtime-lookups``, ``LintOptions(runtime_lookups=True)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..cel import ast
from ..diagnostics import Diagnostic, did_you_mean
from ..ir import Policy, Rule
from ..ir.actions import ACTIONS
from ..source import Source, Span
from .free_vars import ACTIVATION_READS, free_vars

__all__ = ["TCP_ACTIONS", "always_matches", "check_connection_rule", "check_constant", "check_header_case", "check_limits_order",
           "check_lookups", "check_response_reads", "check_shadowed", "check_vars_order",
           "check_action_results_order"]

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


def _reads_a_name(node: Any) -> bool:
    """Whether an identifier occurs in ``node`` (a variable, or a macro's own variable), or a
    call of one of ngrok's functions that read the request without naming it
    (``hasReqHeader('x')``): such a condition is not constant."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Ident):
            return True
        if isinstance(n, ast.Call) and n.function in ACTIVATION_READS:
            return True
        stack.extend(ast.children(n))
    return False


def _path(node: Any) -> str | None:
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Select):
        base = _path(node.operand)
        return f"{base}.{node.field}" if base is not None else None
    return None


def _constant_value(source: str, node: Any) -> Any:
    """The value of a condition without variables, or ``...`` when it has any (or errors)."""
    if _reads_a_name(node):
        return ...
    from ..cel import CelError
    from ..env import compile_condition

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


_HEADER_MAPS = frozenset({"req.headers", "res.headers", "req.trailers", "res.trailers"})


def check_header_case(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    """AIGW400 for a header name with upper-case letters tested or read in a header map:
    ngrok's maps (and ours) have lower-cased keys, so ``'Authorization' in req.headers`` is
    always false and ``req.headers['X-Api-Key']`` is never set (ngrok's own rate-limit
    examples write both). ``getReqHeader('X-Api-Key')`` ignores case and is fine."""
    from .cel_check import rule_cel_texts

    found = []
    for _, rule in policy.rules():
        for text, span, _ in rule_cel_texts(rule):
            node = _parse(text)
            if node is None:
                continue
            for n in _walk(node):
                name, where = _header_key(n)
                if name is None or name == name.lower():
                    continue
                message = (f"`'{name}' in {where}` is always false: `{where}` has lower-case keys"
                           if isinstance(n, ast.Call) else
                           f"`{where}['{name}']` is never set: `{where}` has lower-case keys")
                found.append(_diag("AIGW400", message, span, f"write `'{name.lower()}'`, or "
                                   f"`{'getReqHeader' if where.startswith('req') else 'getResHeader'}"
                                   f"('{name}')`, which ignores case"))
    return found


def _header_key(n: Any) -> tuple[str | None, str]:
    """The literal header name an ``in`` test or an index looks up in a header map."""
    if isinstance(n, ast.Call) and n.function == ast.IN and len(n.args) == 2:
        key, base = n.args
    elif isinstance(n, ast.Index):
        key, base = n.index, n.operand
    else:
        return None, ""
    where = _path(base)
    if where not in _HEADER_MAPS or not (isinstance(key, ast.Literal) and isinstance(key.value, str)):
        return None, ""
    return key.value, where


def always_matches(rule: Rule) -> bool:
    """Whether ``rule`` matches every request: no condition, or only ones always true."""
    return all(_constant_value(e.source, _parse(e.source)) is True for e in rule.expressions)


def _always_terminates(rule: Rule) -> bool:
    return always_matches(rule) and any(a.type in _TERMINATING for a in rule.actions)


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


_QUIET = frozenset({"add-headers", "remove-headers", "set-vars", "log", "set-model"})


def _can_end(action: Any) -> bool:
    """Whether an action can end the request phase (deny, answer, refuse over a limit)."""
    config = action.config
    if action.type in _QUIET or (config.LIMIT and getattr(config, "enforce", None) is False):
        return False
    return not (action.type == "max-tokens" and getattr(config, "mode", None) == "clamp")


def _label(rule: Rule) -> str:
    name = f"rule `{rule.name}`" if rule.name else "an unnamed rule"
    return f"{name} (line {rule.span.line})" if rule.span else name


def check_limits_order(policy: Policy, source: Source | None = None, *,
                       complete: bool = True) -> list[Diagnostic]:
    """AIGW402: ``limits[name]`` read where limit ``name`` may not have run. A limit is in
    ``limits`` only once it ran for this request: not when its rule's condition was false,
    nor, in the response phase, when an earlier request rule ended the request (a denied
    request still runs the response rules), and reading it then is an error. A read whose
    rule tests first every condition of the limit's rule is no warning (as for ``vars``)."""
    found = []
    every = {a.config.name for _, r in policy.rules() for a in r.actions if a.config.LIMIT}
    # request limits so far -> why they may not have run: (its rule's condition, an earlier
    # rule that can end the request; only the response phase runs after that)
    seen: dict[str, tuple[str | None, str | None]] = {}
    guards: dict[str, frozenset[str]] = {}  # limit -> the conditions under which it ran
    ender: Rule | None = None  # the first request rule that can end the phase
    for phase in ("on_http_request", "on_http_response"):
        for rule in policy.phase(phase):  # type: ignore[arg-type]
            texts = list(_texts(rule))
            conditions = [e.source for e in rule.expressions]
            for text, span in texts:
                for m in _LIMIT_READ.finditer(text):
                    name = m.group("a") or m.group("b")
                    if name in seen:
                        condition, ended = seen[name]
                        if name in guards and guards[name] <= _before(conditions, text):
                            condition = None  # this read runs only where the limit's rule matched
                        why = condition or (ended if phase == "on_http_response" else None)
                        if why is not None and not _reads_guarded(texts, name):
                            found.append(_diag(
                                "AIGW402", f"`limits['{name}']` is an error when limit `{name}` "
                                f"has not run: {why}", span,
                                f"test it first, `'{name}' in limits && ...`, or read "
                                f"`limits[?'{name}'].remaining.orValue(0.0)`"))
                    elif phase == "on_http_response" and name in every:
                        continue
                    elif name in every:
                        found.append(_diag("AIGW402", f"`limits['{name}']` is read before limit `{name}` runs", span,
                                           f"move the rule with limit `{name}` above this one; until it runs the lookup is an error"))
                    elif complete:
                        found.append(_diag("AIGW402", f"there is no limit named `{name}`", span,
                                           _limit_name_help(name, every)))
            if phase != "on_http_request":
                continue
            conditional = not always_matches(rule)
            for a in rule.actions:
                if a.config.LIMIT and a.config.name not in seen:
                    seen[a.config.name] = (
                        f"{_label(rule)} runs it only when its condition holds" if conditional
                        else None,
                        f"{_label(ender)} can end the request before it runs, and response "
                        "rules still run" if ender is not None else None)
                    if conditional:
                        guards[a.config.name] = frozenset(conditions)
                guards = {k: g for k, g in guards.items() if _guard_kept(g, a)}
                if ender is None and _can_end(a):
                    ender = rule
    return found


_VAR_READ = re.compile(r"""(?<![\w.])vars\s*(?:\[\s*(['"])(?P<a>[^'"]+)\1\s*\]|\.\??(?P<b>[A-Za-z_][A-Za-z0-9_]*))""")


def check_vars_order(policy: Policy, source: Source | None = None, *,
                     complete: bool = True) -> list[Diagnostic]:
    """AIGW404: ``vars.x`` read where no ``set-vars`` has set it: never, not yet, or maybe
    not (the setting rule has a condition; in the response phase, which runs for a denied
    request too, an earlier request rule can end the request first). Reading an unset
    variable is an error, as ``limits[...]`` is (AIGW402). A read whose rule tests, before
    it, every condition of the setting rule is set (ngrok's operator repeats a route's match
    in each rule of a weighted route), unless an action between could change what those
    conditions read (:func:`_guard_kept`)."""
    found = []
    every = {k for _, r in policy.rules() for a in r.actions if a.type == "set-vars"
             for entry in a.config.vars for k in entry}
    # variable -> why it may not be set: (its rule's condition, an earlier request rule that
    # can end the request; only the response phase runs after that)
    seen: dict[str, tuple[str | None, str | None]] = {}
    guards: dict[str, frozenset[str]] = {}  # variable -> the conditions under which it was set
    ender: Rule | None = None
    for phase in ("on_http_request", "on_http_response"):
        for rule in policy.phase(phase):  # type: ignore[arg-type]
            texts = list(_texts(rule))
            own = {k for a in rule.actions if a.type == "set-vars" for e in a.config.vars for k in e}
            conditions = [e.source for e in rule.expressions]
            for text, span in texts:
                for m in _VAR_READ.finditer(text):
                    name = m.group("a") or m.group("b")
                    if name in own and text not in conditions:
                        continue  # set by an earlier action of this rule
                    if name in seen:
                        condition, ended = seen[name]
                        if name in guards and guards[name] <= _before(conditions, text):
                            condition = None  # this read runs only where the setting rule matched
                        why = condition or (ended if phase == "on_http_response" else None)
                        if why is not None and not _reads_guarded(texts, name, "vars"):
                            found.append(_diag(
                                "AIGW404", f"`vars.{name}` is an error when it was not set: {why}",
                                span, f"test it first, `has(vars.{name}) && ...`, or read "
                                f"`vars.?{name}.orValue(...)`"))
                    elif name in every:
                        found.append(_diag(
                            "AIGW404", f"`vars.{name}` is read before a rule sets it", span,
                            f"move the rule that sets `{name}` above this one; until then "
                            "the lookup is an error"))
                    elif complete:
                        close = did_you_mean(name, sorted(every))
                        found.append(_diag("AIGW404", f"no rule sets `vars.{name}`", span,
                                           close or "variables are set by `set-vars`"))
            conditional = not always_matches(rule)
            for a in rule.actions:
                if a.type == "set-vars":
                    for name in (k for e in a.config.vars for k in e):
                        if name not in seen:
                            seen[name] = (
                                f"{_label(rule)} sets it only when its condition holds"
                                if conditional else None,
                                f"{_label(ender)} can end the request before it is set, and "
                                "response rules still run"
                                if ender is not None and phase == "on_http_request" else None)
                            if conditional:
                                guards[name] = frozenset(conditions)
                guards = {k: g for k, g in guards.items() if _guard_kept(g, a)}
                if phase == "on_http_request" and ender is None and _can_end(a):
                    ender = rule
    return found


_ACTION_READ = re.compile(r"(?<![\w.])actions\s*\.\s*(?P<g>ngrok|aigw)\s*\.\s*(?P<n>[A-Za-z_][A-Za-z0-9_]*)")


def check_action_results_order(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    """AIGW404: ``actions.ngrok.x`` read where the action that publishes it may not have run.
    ngrok makes an action's variables available "after the action has run"; until then the
    lookup is an error, as ``vars`` and ``limits`` are: read before any rule runs it, after a
    rule that runs it only under a condition (unless the reading rule tests that condition
    first), or in the response phase after a request rule that can end the request. A read
    in an operand of ``||`` or a branch of ``?:`` is not named for a condition: the other side
    may be what holds when the action did not run (ngrok's example
    ``actions.ngrok.restrict_ips.action == 'allow' || actions.ngrok.basic_auth...`` after a
    ``basic-auth`` run only for denied addresses). A policy without that action at all is
    :mod:`.action_vars`' finding."""
    from .action_vars import ACTION_VARIABLES, AIGW_VARIABLES
    from .cel_check import action_cel_texts

    publishes = {t: f"ngrok.{k}" for k, (t, _) in ACTION_VARIABLES.items()}
    publishes |= {t: f"aigw.{k}" for k, (t, _) in AIGW_VARIABLES.items()}
    every = {publishes[a.type] for _, r in policy.rules() for a in r.actions if a.type in publishes}
    found = []
    seen: dict[str, tuple[str | None, str | None]] = {}
    guards: dict[str, frozenset[str]] = {}
    ender: Rule | None = None
    for phase in ("on_http_request", "on_http_response"):
        for rule in policy.phase(phase):  # type: ignore[arg-type]
            conditions = [e.source for e in rule.expressions]
            texts = list(_texts(rule))
            ran: set[str] = set()  # published by an earlier action of this rule
            places = [(e.source, e.span, None, frozenset(conditions[:i])) for i, e in enumerate(rule.expressions)]
            places += [(t, span, a, frozenset(conditions)) for a in rule.actions for t, span in action_cel_texts(a)]
            for text, span, action, before in places:
                if action is not None:
                    ran = {publishes[b.type] for b in rule.actions[:rule.actions.index(action)] if b.type in publishes}
                for m in _ACTION_READ.finditer(text):
                    key = f"{m['g']}.{m['n']}"
                    if key not in every or key in ran or _reads_guarded(texts, m["n"], f"actions.{m['g']}"):
                        continue
                    if key not in seen:
                        found.append(_diag("AIGW404", f"`actions.{key}` is read before a rule runs its action",
                                           span, f"move the rule with that action above this one; until it "
                                           f"runs the lookup is an error (or test `has(actions.{key})`)"))
                        continue
                    condition, ended = seen[key]
                    if key in guards and guards[key] <= before or key in _beside(text):
                        condition = None
                    why = condition or (ended if phase == "on_http_response" else None)
                    if why is not None:
                        found.append(_diag("AIGW404", f"`actions.{key}` is an error when its action did not "
                                           f"run: {why}", span, f"test it first, `has(actions.{key}) && ...`"))
            conditional = not always_matches(rule)
            for a in rule.actions:
                key = publishes.get(a.type)
                if key is not None and key not in seen:
                    seen[key] = (f"{_label(rule)} runs it only when its condition holds" if conditional else None,
                                 f"{_label(ender)} can end the request before it runs, and response rules "
                                 "still run" if ender is not None and phase == "on_http_request" else None)
                    if conditional:
                        guards[key] = frozenset(conditions)
                guards = {k: g for k, g in guards.items() if _guard_kept(g, a)}
                if phase == "on_http_request" and ender is None and _can_end(a):
                    ender = rule
    return found


def _beside(text: str) -> set[str]:
    """The ``actions.<group>.<name>`` read in the CEL ``text`` inside an ``||`` or a ``?:``."""
    keys = set()
    for n in _walk(_parse(text)):
        if isinstance(n, ast.Call) and n.function in (ast.LOGICAL_OR, ast.CONDITIONAL):
            for inner in _walk(n):
                path = _path(inner) or ""
                if path.count(".") >= 2 and path.startswith(("actions.ngrok.", "actions.aigw.")):
                    keys.add(".".join(path.split(".")[1:3]))
    return keys


def _before(conditions: list[str], text: str) -> frozenset[str]:
    """The conditions of a rule that hold when ``text`` is evaluated: those before it when it is
    one of them (the engine evaluates them in order and stops at the first false one), all of
    them when it is in the rule's config (its actions run only when the rule matched)."""
    return frozenset(conditions[:conditions.index(text)] if text in conditions else conditions)


_UNCHANGING = frozenset({"vars", "conn", "endpoint"})  # what no action but set-vars writes
# actions that change nothing a condition reads but their own results (`actions.*`, `limits`)
_RESULTS_ONLY = frozenset({"rate-limit", "token-limit", "usage-cap", "model-access", "log", "restrict-ips",
                           "basic-auth", "deny", "custom-response", "forward-internal", "allow"})


def _guard_kept(guard: frozenset[str], action: Any) -> bool:
    """Whether the conditions ``guard`` still read what they read before ``action`` ran: a
    ``set-vars`` changes the variables it sets; an action of :data:`_RESULTS_ONLY` its own
    results; any other may change the request (``url-rewrite``, ``add-headers``, ...), so only
    conditions that read nothing but ``vars``, ``conn`` and ``endpoint`` are kept past it."""
    for text in guard:
        node = _parse(text)
        if node is None:
            return False
        fv = free_vars(node)
        roots = {p[0] for p in fv.names}
        if action.type == "set-vars":
            if {k for e in action.config.vars for k in e} & {p[1] for p in fv.names if p[0] == "vars" and len(p) > 1} \
                    or ("vars",) in fv.names:
                return False
        elif action.type in _RESULTS_ONLY:
            if roots & {"actions", "limits"}:
                return False
        elif roots - _UNCHANGING or any(f in ACTIVATION_READS for f in fv.functions):
            return False
    return True


def check_response_reads(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    """AIGW404: a request rule that reads the response (``res.status_code``,
    ``getResHeader(...)``), in a condition or in a ``${...}`` of its actions' config: only
    ``on_http_response`` sets it (ngrok offers the response macros in that phase alone), so
    each such read fails every request that reaches it."""
    found = []
    for rule in policy.phase("on_http_request"):
        for text, span in _cel_texts(rule):
            reads = _reads(text, ("res",))
            if reads:
                found.append(_diag(
                    "AIGW404", f"`{reads[0]}` reads the response, which `on_http_request` does not "
                    "have: it is set in `on_http_response`", span,
                    "move the rule to `on_http_response`; here every read of the response "
                    "(`res.*`, `getResHeader`, `hasResCookie`, ...) is an error of the rule"))
    return found


TCP_ACTIONS = frozenset({t for t, m in ACTIONS.items() if "on_tcp_connect" in m.PHASES}
                        | {"close-connection", "terminate-tls"})
"""The actions ngrok's reference lists for ``on_tcp_connect`` ("Supported Phases"): those
this engine reads (their ``PHASES``), and two it does not run anywhere (AIGW111)."""


def check_connection_rule(rule: Rule) -> list[Diagnostic]:
    """A rule of ``on_tcp_connect`` (skipped here, AIGW102): an action ngrok does not run on
    a connection (AIGW134) and a read of the HTTP request or response, which a connection
    has not (AIGW404): ngrok refuses such a rule, so it is not passed over unsaid."""
    found = []
    for action in rule.actions:
        if action.type not in TCP_ACTIONS:
            found.append(_diag("AIGW134", f"`{action.type}` is not available in `on_tcp_connect`", action.span,
                               "ngrok runs it in the HTTP phases only; move it to `on_http_request`"))
    for text, span in _cel_texts(rule):
        reads = _reads(text, ("req", "res"))
        if reads:
            found.append(_diag(
                "AIGW404", f"`{reads[0]}` reads the HTTP exchange, which `on_tcp_connect` does not have",
                span, "a connection has `conn.*`, `endpoint.*` and `time.now`; move the rule to "
                "`on_http_request`"))
    return found


def _cel_texts(rule: Rule) -> list[tuple[str, Span | None]]:
    """The rule's CEL: its conditions, and each ``${...}`` of its actions' config."""
    from ..template import Interpolation, TemplateError, split_template

    texts: list[tuple[str, Span | None]] = [(e.source, e.span) for e in rule.expressions]
    for text, span in list(_texts(rule))[len(rule.expressions):]:
        if "${" in text:
            try:
                texts += [(p.source, span) for p in split_template(text) if isinstance(p, Interpolation)]
            except TemplateError:
                continue
    return texts


def _reads(text: str, roots: tuple[str, ...]) -> list[str]:
    """The variables under ``roots`` that ``text`` reads, by name or through a function."""
    node = _parse(text)
    if node is None:
        return []
    fv = free_vars(node)
    reads = sorted(".".join(p) for p in fv.names if p[0] in roots)
    return reads + sorted(f for f in fv.functions if ACTIVATION_READS.get(f, "").split(".")[0] in roots)


def _reads_guarded(texts: list[tuple[str, Span | None]], name: str, base: str = "limits") -> bool:
    """Whether one of the rule's CEL texts tests ``name``'s presence before reading it."""
    from ..template import Interpolation, TemplateError, split_template

    for text, _ in texts:
        pieces = [text]
        if "${" in text:
            try:
                pieces = [p.source for p in split_template(text) if isinstance(p, Interpolation)]
            except TemplateError:
                continue
        for piece in pieces:
            node = _parse(piece)
            if node is not None and _guarded(node, base, name):
                return True
    return False


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
    """AIGW403 in conditions and in the CEL of actions (``bucket_key``, ``cost``, ``${...}``):
    a presence test in the rule's conditions guards its actions too."""
    from .cel_check import rule_cel_texts

    found = []
    for _, rule in policy.rules():
        if (rule.on_error or policy.on_error or "deny") == "skip":
            continue
        conditions = [n for e in rule.expressions if (n := _parse(e.source)) is not None]
        for text, span, in_action in rule_cel_texts(rule):
            node = _parse(text)
            if node is None:
                continue
            guards = [node, *conditions] if in_action else [node]
            found.extend(_lookups(node, guards, rule, span, in_action))
    return found


def _lookups(node: Any, guards: list[Any], rule: Rule, span: Span | None,
             in_action: bool) -> list[Diagnostic]:
    found = []
    reported: set[str] = set()
    for n in _walk(node):
        p = _path(n) if isinstance(n, ast.Select) else None
        if p in _IDENTITY_FIELDS and p not in reported and not any(_guarded(g, p, None) for g in guards):
            reported.add(p)
            found.append(_diag("AIGW403", f"`{p}` is an error when the request has no {p.split('.')[1]}: "
                               f"rule `{rule.name or '?'}` then fails closed (500)", span,
                               (f"add the condition `has({p})` to the rule" if in_action
                                else f"write `has({p}) && ...`") + ", or `on-error skip` on the rule"))
        if isinstance(n, ast.Index) and not n.optional:
            base = _path(n.operand)
            key = n.index.value if isinstance(n.index, ast.Literal) and n.index.kind == "string" else None
            if base in _MAPS and base not in ("vars", "limits") and f"{base}[{key}]" not in reported \
                    and not any(_guarded(g, base, key) for g in guards):
                reported.add(f"{base}[{key}]")
                k = f"'{key}'" if key is not None else "k"
                found.append(_diag("AIGW403", f"`{base}[{k}]` is an error when the key is missing: "
                                   f"rule `{rule.name or '?'}` then fails closed (500)", span,
                                   f"write `{k} in {base} && ...` or `{base}[?{k}].orValue(...)`"))
    return found
