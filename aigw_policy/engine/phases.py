"""The evaluation core: sans-IO, one request at a time (SPEC §4 and §6).

Evaluation is a generator. It never calls a store: when it needs limit outcomes it yields a
:class:`Need` (``Check``, ``Reserve``, ``Reconcile``, ``Release``) and receives the store's
answer (a list of :class:`~aigw_policy.limits.Outcome`, or :class:`StoreFailed`). The sync
and async engines, ``explain``, ``replay`` and the property tests all drive this one core.

Order of events for one request:

1. request phase: rules top to bottom; a rule matches when all its expressions are true;
   its actions run in order; a terminating action (or an enforced limit that is over, or a
   CEL error under ``on_error: deny``) ends the phase;
2. unless the request was denied, the charges gathered by limit actions are reserved in one
   all-or-nothing call (a request denied by any rule consumes nothing);
3. the response (the upstream's, or the gateway's own answer when the request was denied):
   usage and cost are computed, reservations reconciled (or released on an upstream error),
   then the response-phase rules run.
"""


from __future__ import annotations

from typing import Any

from ..cel import CelError
from ..providers import extract_usage
from .actions import run_action
from .charging import check_deferred, limit, reserve, settle
from .compile import CompiledRule
from .route import route_action, settle_served
from .flow import REQ, RES, Flow, Steps, Stop
from .rule_error import CONDITION, CONDITION_TYPE, Failure, Skip, failure, rule_error
from .trace import Recorder

__all__ = ["continue_phase", "gateway_answer", "request_steps", "response_steps"]


def request_steps(flow: Flow) -> Steps:
    """Run the request phase and reserve the gathered charges (all or nothing)."""
    yield from _phase(flow, REQ)
    stop = flow.stop
    if not flow.charges:
        return
    if stop is None or stop.verdict == "allow":
        yield from reserve(flow)
    elif flow.deferred:
        yield from check_deferred(flow)


def response_steps(flow: Flow, response: dict[str, Any] | None) -> Steps:
    """Settle the limits against the response, then run the response phase.

    ``response`` is the upstream's ``{status_code, headers, body | sse}``; ``None`` when the
    gateway answered itself (the request was denied): the response phase then sees the
    gateway's own answer (:func:`gateway_answer`, all there is to do without response rules).
    """
    act = flow.act
    stop = flow.stop
    cp = flow.cp
    reads = cp.response_reads
    read = bool(reads.names or reads.functions)  # some response-phase text reads the activation
    if stop is not None and stop.verdict == "deny":
        gateway_answer(flow, stop)
    else:
        flow.upstream = True
        resp = response or {"status_code": 200, "headers": {}, "body": None}
        flow.response = resp
        ai = flow.ai
        if flow.model != ai.model and flow.model is not None:
            from dataclasses import replace

            ai = replace(ai, model=flow.model)
        usage = extract_usage(ai, resp)
        flow.usage = usage
        cost = flow.prices.cost(flow.provider, usage.model or flow.model, usage, at=flow.time())
        flow.cost = cost
        if read:
            udict = usage.to_dict()
            act["ai.usage"] = udict
            for k, v in udict.items():
                act["ai.usage." + k] = v
            if cost.usd is not None:
                act["ai.cost_usd"] = float(cost.usd)
        if cost.usd is None and cost.reason:
            flow.notes.append(f"cost unknown: {cost.reason}")
        if flow.reserved:
            yield from settle(flow, resp, usage, cost)
        if flow.route is not None:
            yield from settle_served(flow, resp, usage, cost)
    if read:  # else no response-phase text reads the response's variables: none are set
        _response_entries(flow.response, act)
    if cp.response_rules:
        yield from _phase(flow, RES)


def gateway_answer(flow: Flow, stop: Stop) -> None:
    """The response of a request the gateway answered itself (``stop`` denied it). All the
    response phase of a policy without response rules: nothing reads the entries."""
    status = stop.status or 403
    headers = dict(stop.headers) if stop.headers else {}
    flow.response = {"status_code": status, "headers": headers, "body": stop.body}


def _response_entries(resp: dict[str, Any], act: dict[str, Any]) -> None:
    """The ``res.*`` entries of the activation."""
    act["res.status_code"] = resp.get("status_code", 200)
    given = resp.get("headers")
    lowered = _lower_headers(given) if given else {}
    act["res.headers"] = lowered
    ctype = lowered.get("content-type")
    if ctype:
        act["res.content_type"] = ctype[0].split(";", 1)[0].strip()
        act["res.content_type.raw"] = ctype[0]


def _lower_headers(headers: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in headers.items():
        out.setdefault(str(k).lower(), []).extend(v if isinstance(v, list) else [str(v)])
    return out


def continue_phase(flow: Flow, rule: CompiledRule, action: int) -> Steps:
    """The request phase after action ``action`` of ``rule``: the rest of its actions, then
    the later rules (a route that failed under ``on_error: continue``)."""
    stopped, _ = yield from _actions(flow, rule, rule.actions[action + 1:], REQ)
    if not stopped:
        yield from _phase(flow, REQ, rule.position + 1)


def _phase(flow: Flow, phase: str, start: int = 0) -> Steps:
    cp = flow.cp
    if phase == REQ:
        rules, index = cp.request_rules, cp.request_index
    else:
        rules, index = cp.response_rules, cp.response_index
    act = flow.act
    rec = flow.rec
    on = rec.on  # production records nothing: it skips the calls
    order = index.candidates(act, start) if index is not None else None
    seq: Any = order if order is not None else rules[start:] if start else rules
    k = 0
    n = len(seq)
    due = start  # the next rule in document order: those before a candidate were skipped by the index
    while k < n:
        rule = seq[k]
        k += 1
        if order is not None:
            rule = rules[rule]
            if on and rule.position > due:
                _skipped(rules[due:rule.position], phase, act, rec)
            due = rule.position + 1
        if on:
            rec.rule(phase, rule)
        matched = _conditions(rule, act, rec if on else None)
        if matched is False:
            continue
        if matched is not True:
            expr, fail = matched
            if on:
                rec.matched("error")
            stop = rule_error(flow, rule, phase, expr.source, expr.span, fail, None)
            if stop is not None and rule.shadow and stop.verdict == "deny":
                flow.shadow_deny(stop.status or 500, stop.reason, rule)
                continue
            if stop is not None and (phase == REQ or flow.upstream):
                _finish(flow, phase, stop)
                return
            continue
        if on:
            rec.matched(True)
        # --- actions, in order
        stopped, reindex = yield from _actions(flow, rule, rule.actions, phase)
        if stopped:
            return
        if reindex and order is not None:
            seq = index.candidates(act, rule.position + 1)  # type: ignore[union-attr]
            k = 0
            n = len(seq)
    if on and order is not None and due < len(rules):
        _skipped(rules[due:], phase, act, rec)


def _actions(flow: Flow, rule: CompiledRule, actions: Any, phase: str) -> Any:
    """Run a matched rule's ``actions`` in order: (whether one ended the phase, whether the
    model changed, so the rule index must look again)."""
    rec = flow.rec
    on = rec.on
    reindex = False
    for action in actions:
        if on:
            rec.action(action)
        try:
            if action.limit is not None:
                if phase != REQ:
                    rec.outcome("skipped: limits run in the request phase")
                    continue
                stop = yield from limit(flow, rule, action)
            elif action.type == "ai-gateway":
                stop = route_action(flow, rule, action, phase)
            else:
                stop = run_action(flow, rule, action, phase)
                if action.type == "set-model":
                    reindex = True
        except Skip:
            break
        if stop is not None:
            if stop.kind == "error" and phase == RES and not flow.upstream:
                break  # the gateway's own answer stands; the error is recorded
            if stop.verdict == "deny" and (rule.shadow or getattr(action.config, "enforce", None) is False):
                # shadow (`mode: shadow`, `enforce: false`): decided as if enforced; the rule ends here
                flow.shadow_deny(stop.status or 403, stop.reason, rule)
                break
            stop.rule = rule
            stop.action = action
            stop.phase = phase
            _finish(flow, phase, stop)
            return True, reindex
    return False, reindex


def _conditions(rule: CompiledRule, act: dict[str, Any], rec: Recorder | None) -> bool | tuple[Any, Failure]:
    """True when the rule matches, False when not, else its first failing condition and the
    failure: all conditions must be true; a false one wins over a failure (CEL's ``&&``).
    Each value goes to ``rec`` when recording."""
    error: tuple[Any, Failure] | None = None
    for e in rule.exprs:
        try:
            value = e.fn(act)
        except (CelError, RecursionError) as exc:
            value = failure(exc, CONDITION)
        if value is True:
            if rec is not None:
                rec.expr(e, True)
            continue
        if value is False:
            if rec is not None:
                rec.expr(e, False)
            return False
        if type(value) is not Failure:
            value = Failure(CONDITION_TYPE, f"condition is {_cel_type(value)}, not bool")
        if rec is not None:
            rec.expr(e, None, value.message)
        if error is None:
            error = (e, value)
    return True if error is None else error


def _skipped(rules: Any, phase: str, act: dict[str, Any], rec: Recorder) -> None:
    """Rules the index skipped (a condition of each is false): recorded with their conditions,
    evaluated for the record only, as an evaluation without the index shows them."""
    for rule in rules:
        rec.rule(phase, rule)
        _conditions(rule, act, rec)


def _finish(flow: Flow, phase: str, stop: Stop) -> None:
    if phase == REQ:
        flow.stop = stop
    else:
        flow.response_stop = stop


def _cel_type(value: Any) -> str:
    t = type(value)
    return {int: "int", float: "double", str: "string", list: "list", dict: "map", bytes: "bytes",
            type(None): "null"}.get(t, t.__name__.lower())
