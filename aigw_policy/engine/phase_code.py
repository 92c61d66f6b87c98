"""A phase's rules as straight-line Python, generated once per compiled policy.

The general runner (``phases._run``) walks any phase from any point: a cursor, a loop over
the rules, a loop over each matched rule's actions, a table of handlers. For a phase without
a rule index, evaluated without a trace, :func:`phase_runner` writes the same walk out as one
function of the policy: each rule's conditions called in turn, each action's handler called
by name, a ``deny`` written out in place (its message rendered, its stop built there). It
does only what is common: conditions that are true or false, and plain actions.
Anything else is handed back to the general runner at the point reached, which then goes on
exactly as it would have from there:

* a condition that fails, or is not a bool (which error wins, a shadow rule's denial):
  the general runner takes the rule again from its conditions (they are pure);
* a limit the store must check at once (``eager``), and an ``ai-gateway`` action: it takes
  the rule at that action.

``run(flow, act)`` returns None when the phase is over (at its end, or ended by an action:
``flow.stop`` / ``flow.response_stop`` say which), else ``(rule index, action index or None,
whether the store is needed)``: where the general runner goes on (``phases._resume``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cel import CelError
from .actions import HANDLERS
from .charging import charge_later
from .compile import CompiledPolicy, CompiledRule
from .flow import REQ, RES, Flow, Stop
from .rule_error import ErrorStop, Skip
from .templates import text_of

__all__ = ["MAX_RULES", "PhaseRunner", "install", "phase_runner"]

MAX_RULES = 64
"""A phase of more rules (a policy compiled without its index) keeps the general runner: one
function of thousands of rules costs more to compile than it saves."""

PhaseRunner = Callable[[Flow, dict[str, Any]], "tuple[int, int | None, bool] | None"]


def phase_runner(rules: tuple[CompiledRule, ...], phase: str, stopped: Callable[..., bool]) -> PhaseRunner | None:
    """The function that runs ``rules`` (a phase without an index) from its first rule, or
    None when there are none, or more than :data:`MAX_RULES`. ``stopped`` is ``phases._stopped`` (what a stop does)."""
    if not rules or len(rules) > MAX_RULES:
        return None
    scope: dict[str, Any] = {"_ERRORS": (CelError, RecursionError), "_ErrorStop": ErrorStop, "_Skip": Skip,
                             "_stopped": stopped, "_charge_later": charge_later, "_P": phase, "_Stop": Stop,
                             "_text": text_of, "_FAILED": _FAILED}
    lines = ["def run(flow, act):"]
    add = lines.append
    for k, rule in enumerate(rules):
        scope[f"r{k}"] = rule
        add(f"    while True:  # rule {rule.label!r}")
        for j, expr in enumerate(rule.exprs):
            scope[f"e{k}_{j}"] = expr
            add("        try:")
            add(f"            v = e{k}_{j}.fn(act)")
            add("        except _ERRORS:")
            add(f"            return ({k}, None, False)")
            add("        if v is not True:")
            add("            if v is False:")
            add("                break")
            add(f"            return ({k}, None, False)")
        for i, action in enumerate(rule.actions):
            a = f"a{k}_{i}"
            scope[a] = action
            if action.limit is not None:
                if phase != REQ:
                    continue  # limits run in the request phase: skipped here
                if action.eager:
                    add(f"        return ({k}, {i}, True)")  # the store is asked at once
                    break
                add("        try:")
                add(f"            stop = _charge_later(flow, r{k}, {a})")
                add("        except _Skip:")
                add("            break")
            elif action.type == "deny" and DENY_INLINE:
                _deny_lines(add, scope, k, i, rule, action, _ends_phase(rule, action, phase))
            elif action.type in HANDLERS:
                scope[f"h{k}_{i}"] = HANDLERS[action.type]
                _handler_lines(add, k, i, "        ")
            else:  # ai-gateway (routing), or a type the general runner knows better
                add(f"        return ({k}, {i}, False)")
                break
            add("        if stop is not None:")
            if not _ends_phase(rule, action, phase):
                add(f"            if _stopped(flow, r{k}, {a}, _P, stop):")
                add("                return None")
                add("            break")
            else:  # phases._stopped of an enforced request-phase action: its stop ends the phase
                add(f"            stop.rule = r{k}")
                add(f"            stop.action = {a}")
                add("            stop.phase = _P")
                add("            flow.stop = stop")
                add("            return None")
        add("        break")
    add("    return None")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<phase {phase}>", "exec"), scope)  # noqa: S102 (our own text)
    run = scope["run"]
    run.source = source  # what it does, for tests and docs
    return run  # type: ignore[no-any-return]


DENY_INLINE = True
"""Write a ``deny`` out in the phase's function (its status and default reason known when the
policy is compiled: the message rendered in place, the :class:`Stop` built there); False: call
its handler, as any other action (the tests compare the two)."""

_FAILED = object()  # the deny's message failed: its handler renders it again and says why


def _handler_lines(add: Callable[[str], None], k: int, i: int, pad: str) -> None:
    """The call of action ``i`` of rule ``k``'s handler (``h{k}_{i}``), indented by ``pad``:
    ``stop`` as it returns it, a failure under ``on_error: deny`` as its stop, and under
    ``on_error: skip`` the rest of the rule skipped."""
    add(f"{pad}try:")
    add(f"{pad}    stop = h{k}_{i}(flow, r{k}, a{k}_{i}, _P)")
    add(f"{pad}except _ErrorStop as e:")
    add(f"{pad}    stop = e.stop")
    add(f"{pad}except _Skip:")
    add(f"{pad}    break")


def _ends_phase(rule: CompiledRule, action: Any, phase: str) -> bool:
    """Whether a stop of ``action`` ends the phase as it is (``phases._stopped`` of an enforced
    request-phase action); else ``_stopped`` decides (shadow, ``enforce: false``, the response)."""
    return not (rule.shadow or getattr(action.config, "enforce", None) is False or phase != REQ)


def _deny_lines(add: Callable[[str], None], scope: dict[str, Any], k: int, i: int, rule: CompiledRule,
                action: Any, ends: bool) -> None:
    """``actions._deny`` of action ``i`` of rule ``k``, written out: ``stop`` as the handler
    returns it, for the lines that follow (which set its rule, action and phase, as for any
    stop); when it ends the phase (``ends``), the stop made whole and the phase ended here. A
    message whose CEL fails calls the handler, which renders it again (the text is pure) and
    raises what the rule's ``on_error`` says."""
    a = f"a{k}_{i}"
    status = action.config.status_code or 403
    fallback = f"denied by rule `{rule.label}`"
    tpl = action.templates.get("message")
    where = f"r{k}, {a}" if ends else "None, None"
    if tpl is None:
        add(f"        stop = _Stop('deny', {status!r}, {fallback!r}, 'deny', {where}, _P, None, None)")
        return
    scope[f"h{k}_{i}"] = HANDLERS["deny"]
    scope[f"t{k}_{i}"] = tpl
    add("        try:")
    add(f"            m = t{k}_{i}.render(act)")
    add("        except _ERRORS:")
    add("            m = _FAILED")
    add("        if m is _FAILED:")
    _handler_lines(add, k, i, "            ")
    add("        else:")
    add("            if type(m) is not str:")
    add("                m = _text(m)  # (a `${...}` of another type: null reads \"null\")")
    add(f"            stop = _Stop('deny', {status!r}, m or {fallback!r}, 'deny', {where}, _P, None, m)")
    if ends:
        add("            flow.stop = stop")
        add("            return None")


def install(cp: CompiledPolicy) -> None:
    """Give ``cp`` its phases' runners (once; a phase with an index keeps the general runner)."""
    if cp.runners[0] is not None or cp.runners[1] is not None:
        return
    from .phases import _stopped  # (phases runs what this module writes: it does not import it)

    cp.runners[:] = [phase_runner(cp.request_rules, REQ, _stopped) if cp.request_index is None else None,
                     phase_runner(cp.response_rules, RES, _stopped) if cp.response_index is None else None]
