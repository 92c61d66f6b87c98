"""Structural checks that need no CEL types: names, reachability, phases; and the
``ai-gateway`` config's own (:mod:`.ai_gateway`). Its strategies are CEL over the selection
environment: the strategies stage checks them, not this one nor the generic CEL pass."""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic
from ..ir import Action, Policy
from ..ir.ai_gateway import AiGateway
from . import ai_gateway
from ..source import Source, Span
from ..template import TemplateError, split_template

PHASE_WORDS = {"on_http_request": "request", "on_http_response": "response"}


def check(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    rule_names: dict[str, Span | None] = {}
    limit_names: dict[str, Span | None] = {}
    for phase, rule in policy.rules():
        if rule.name:  # `name: ""`, as generated documents write it, names nothing
            if rule.name in rule_names:
                first = rule_names[rule.name]
                found.append(Diagnostic.make(
                    "AIGW130", f"duplicate rule name `{rule.name}`",
                    rule.name_span or rule.span,
                    help=f"the first rule with this name is on line {_line(first)}; ngrok accepts "
                    "this, but decisions name the deciding rule, so a unique name says which",
                    related=_first(first, "the first rule with this name"),
                ))
            else:
                rule_names[rule.name] = rule.name_span or rule.span
        if rule.mode == "shadow" and not any(_can_deny(a) for a in rule.actions):
            found.append(Diagnostic.make(
                "AIGW135", f"shadow rule `{rule.name or '(unnamed)'}` has nothing that could deny: "
                "it would never record `would_deny`", rule.span,
                help="shadow mode is for a rule with `deny`, `custom-response`, a limit, `model-access`, "
                "`max-tokens` or `restrict-ips`; drop `mode: shadow` or add what it should try out",
            ))
        terminated_by: str | None = None
        for action in rule.actions:
            config = action.config
            if terminated_by is not None:
                found.append(Diagnostic.make(
                    "AIGW132", f"action `{action.type}` never runs: `{terminated_by}` ends the "
                    "rule before it", action.span,
                    help="move it before the terminating action, or into its own rule",
                ))
            if config.LIMIT:
                name = getattr(config, "name")
                if name in limit_names:
                    first = limit_names[name]
                    found.append(Diagnostic.make(
                        "AIGW131", f"duplicate limit name `{name}`", action.span_of("name"),
                        help=f"another limit with this name is on line {_line(first)}; limits "
                        "are read as `limits[name]`, so each needs its own name",
                        related=_first(first, "the other limit with this name"),
                    ))
                else:
                    limit_names[name] = action.span_of("name")
            if phase not in config.PHASES:
                found.append(_not_in_phase(action, phase))
            if action.type == "compress-response":
                found.append(Diagnostic.make(
                    "AIGW128", "`compress-response` is read and recorded, but this gateway answers "
                    "uncompressed", action.span,
                    help="clients get the same content, uncompressed (Content-Encoding: identity); "
                    "compress in front of the gateway if bandwidth matters"))
            if isinstance(config, AiGateway):
                found.extend(ai_gateway.check_action(action))
            found.extend(_bad_from(action))
            found.extend(_forward_protocol(action))
            found.extend(_unset_groups(action))
            if config.TERMINATING and terminated_by is None and not _may_continue(action):
                terminated_by = action.type
    return found


def _not_in_phase(action: Action, phase: str) -> Diagnostic:
    """AIGW134: an action in a phase it does not run in. ngrok refuses such a document
    (ERR_NGROK_2202, "Action type `deny` is not supported for `on_http_response`"), so it is an
    error here too, for this engine's own actions as well (a `set-model` in the response
    phase would do nothing)."""
    where = ", ".join(f"`{p}`" for p in action.config.PHASES)
    help = f"it runs in {where} only; move it there"
    if action.type == "deny" and phase == "on_http_response":  # what a response-phase deny meant to do
        help += ("; to answer instead of the upstream in this phase, use `custom-response` "
                 "(status_code, body), which runs in both phases")
    return Diagnostic.make("AIGW134", f"`{action.type}` is not available in `{phase}`", action.span, help=help)


def _bad_from(action: Action) -> list[Diagnostic]:
    """AIGW304 for a ``redirect``'s or ``url-rewrite``'s constant ``from`` that is no RE2
    pattern: the action would fail its rule on every request, as a constant bad ``matches``
    pattern would (a ``from`` with ``${...}`` is only known at run time)."""
    if action.type not in ("redirect", "url-rewrite"):
        return []
    pattern = action.config.written().get("from")
    if not isinstance(pattern, str) or "${" in pattern:
        return []
    from ..cel.runtime.stdlib import regex
    from ..cel.runtime.values import CelError

    try:
        regex(pattern)
    except CelError as error:
        return [Diagnostic.make("AIGW304", f"`from` in `{action.type}`: {error}", action.span_of("from"),
                                help="RE2 syntax (https://github.com/google/re2/wiki/Syntax)")]
    return []


def _forward_protocol(action: Action) -> list[Diagnostic]:
    """AIGW126 for a ``forward-internal`` of an HTTP phase whose written ``url`` is a ``tcp://``
    or ``tls://`` endpoint: ngrok forwards a request to an endpoint of its own protocol, and
    the engine fails every such request (a rendered one is its AIGW509)."""
    if action.type != "forward-internal":
        return []
    from ..ir.actions import HTTP_SCHEMES, internal_url_problem

    url = action.config.written().get("url")
    if not isinstance(url, str) or "${" in url or (problem := internal_url_problem(url, HTTP_SCHEMES)) is None:
        return []
    return [Diagnostic.make("AIGW126", f"`url` in `forward-internal`: {problem}", action.span_of("url"),
                            help="an HTTP request goes to an `http://` or `https://` internal endpoint; "
                            "`tcp://` and `tls://` ones are forwarded to in `on_tcp_connect`")]


_REFERENCE = re.compile(r"\$(?:\$|([A-Za-z0-9_]+))")
# ngrok's former named variables of `redirect` and `url-rewrite` (its 2024 action pages), before
# CEL interpolation replaced them; today `$args` is a group reference like any other
_FORMER = {"args", "authority", "query_string", "is_args", "uri", "scheme", "host", "port", "user",
           "is_user"}


def _unset_groups(action: Action) -> list[Diagnostic]:
    """AIGW404 for a `$1` or `$name` in a ``redirect``'s or ``url-rewrite``'s ``to`` that names
    no group of its constant ``from`` (the whole URL, group 0, without one): Go's ``Expand``,
    ngrok's, replaces it by nothing, so the URL silently loses what it was meant to hold
    (`$2` with one group; `$1_v2`, which Go reads as the group named `1_v2`; ngrok's former
    `$args`). ngrok takes the document, so this is a warning."""
    if action.type not in ("redirect", "url-rewrite"):
        return []
    written = action.config.written()
    to, pattern = written.get("to"), written.get("from")
    if not isinstance(to, str) or "$" not in to:
        return []
    groups, names = 0, {}
    if pattern is not None:
        if not isinstance(pattern, str) or "${" in pattern:
            return []
        from ..cel.runtime.stdlib import regex
        from ..cel.runtime.values import CelError

        try:
            compiled = regex(pattern)
        except CelError:  # _bad_from says so
            return []
        groups, names = compiled.groups, dict(compiled.groupindex)
    try:
        parts = split_template(to)
    except TemplateError:  # the template check says so
        return []
    for part in parts:
        for ref in _REFERENCE.finditer(part) if isinstance(part, str) else ():
            name = ref.group(1)
            if name is None or (name.isdigit() and int(name) <= groups) or name in names:
                continue
            has = f"`from` has {groups} group{'s' if groups != 1 else ''}" if pattern is not None else (
                "without `from` the whole URL is the match, `$0`")
            if name in _FORMER or name.startswith("arg_"):
                help = (f"{has}; ngrok's former `${name}` is gone: interpolate CEL instead, such as "
                        "`${req.url.query}`, `${req.host}` or `${req.url.path}`")
            elif name.isdigit():
                help = (f"{has}: refer to one of them, or add the group `${name}` means"
                        if pattern is not None else f"{has}: add a `from` with the group `${name}` means")
            elif name[0].isdigit():
                digits = re.match(r"[0-9]+", name)
                help = (f"{has}; Go reads the longest name after `$`, so `${name}` is the group named "
                        f"`{name}`, not `${digits.group() if digits else name}` followed by text: end the "
                        "reference with a character that is no letter, digit or `_`")
            else:
                help = f"{has}; name a group with `(?P<{name}>...)`, or write `$$` for a `$`"
            return [Diagnostic.make("AIGW404", f"`${name}` in `to` of `{action.type}` names no group "
                                    "of `from`: it is replaced by nothing", action.span_of("to"), help=help)]
    return []


def _may_continue(action: Action) -> bool:
    """``ai-gateway`` or ``forward-internal`` with ``on_error: continue``: when every attempt
    failed (the endpoint could not be reached), the rule's next actions run (ngrok's
    error-handling guide answers with `custom-response` there)."""
    return getattr(action.config, "on_error", None) == "continue" and action.type in ("ai-gateway", "forward-internal")


def _line(span: Span | None) -> int:
    return span.line if span is not None else 0


def _first(span: Span | None, note: str) -> tuple[tuple[str, Span], ...]:
    return ((note, span),) if span is not None else ()


_DENYING = ("deny", "custom-response", "model-access", "restrict-ips", "ai-gateway", "redirect", "basic-auth")


def _can_deny(action: Action) -> bool:
    """Whether ``action`` can answer the request itself (what a shadow rule tries out)."""
    config = action.config
    if config.LIMIT or action.type in _DENYING:
        return True
    if action.type == "max-tokens":
        return getattr(config, "input", None) is not None or getattr(config, "mode", None) != "clamp"
    return False
