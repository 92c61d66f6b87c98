"""Structural checks that need no CEL types: names, reachability, phases; and the
``ai-gateway`` config's own (:mod:`.ai_gateway`). Its strategies are CEL over the selection
environment: the strategies stage checks them, not this one nor the generic CEL pass."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..ir import Action, Policy
from ..ir.ai_gateway import AiGateway
from . import ai_gateway
from ..source import Source, Span

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
