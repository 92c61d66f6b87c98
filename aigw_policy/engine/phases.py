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

from dataclasses import replace
from typing import Any

from ..cel import CelError
from ..providers import extract_usage
from ..providers.background import background_of, stored_completion, stored_response
from ..providers.gemini_caches import made_cache
from ..providers.prices import Cost
from .actions import run_action
from .charging import (charge_later, charge_unrouted, check_deferred, limit, report_once, reserve, settle, settle_background,
                       usage_entries)
from .compile import CompiledRule
from .route import route_action, served_attempt, settle_served
from .flow import REQ, RES, Flow, Steps, Stop
from .rule_error import CONDITION, CONDITION_TYPE, Failure, Skip, failure, rule_error
from .trace import Recorder
from ..env.header_parts import content_entries, header_parts

__all__ = ["Cursor", "answered_plain", "continue_phase", "gateway_answer", "request_plain", "request_steps", "response_plain",
           "response_steps"]


def request_steps(flow: Flow, cur: Cursor | None = None) -> Steps:
    """Run the request phase and reserve the gathered charges (all or nothing). ``cur``: the
    phase as :func:`request_plain` left it (at a limit action), to go on from."""
    if cur is None:
        cur = _open(flow, REQ)
    if not cur.over:  # else request_plain ran it to its end: only the reserve is left
        yield from _drive(flow, cur)
    stop = flow.stop
    if flow.per_attempt and flow.route is None and (stop is None or stop.verdict == "allow"):
        ended = charge_unrouted(flow)
        if ended is not None and _stopped(flow, *ended, REQ):
            stop = flow.stop
    if not flow.charges:
        return
    if stop is None or stop.verdict == "allow":
        yield from reserve(flow)
    elif flow.deferred:
        yield from check_deferred(flow)


def request_plain(flow: Flow) -> Cursor | None:
    """The request phase with plain calls (no generator), as far as it goes without the store:
    None when it ended with nothing to reserve (no limit ran), else where it stopped (at an
    eager limit action, or at its end with charges waiting for the reserve) for
    :func:`request_steps` to go on from."""
    run = flow.cp.runners[0]
    if run is None or flow.rec.on or not STRAIGHT or not INLINE_LIMITS:
        cur = _open(flow, REQ)
    else:  # the phase as one function of the policy, as far as it goes (engine/phase_code.py)
        at = run(flow, flow.act)
        if at is None:
            return OVER if flow.charges else None  # over, with charges to reserve
        cur = _resume(flow, REQ, at)
        if cur.need:
            return cur
    return None if _run(flow, cur) and not flow.charges else cur


def response_steps(flow: Flow, response: dict[str, Any] | None) -> Steps:
    """Settle the limits against the response, then run the response phase.

    ``response`` is the upstream's ``{status_code, headers, body | sse}``; ``None`` when the
    gateway answered itself (the request was denied): the response phase then sees the
    gateway's own answer (:func:`gateway_answer`, all there is to do without response rules).
    """
    read = _response_start(flow, response)
    if flow.upstream:
        background = _background(flow)
        if background is not None:  # the request's and the serving attempt's held under one id
            yield from settle_background(flow, *background, served_attempt(flow))
        elif flow.reserved:
            yield from settle(flow, flow.response, flow.usage, flow.cost)  # type: ignore[arg-type]
        if background is not None and background[0] != "pending":  # finished, or cut (its estimate)
            yield from report_once(flow, background[1])
        if flow.route is not None and flow.route.served is not None:  # its reads go to the attempt that served it
            flow.route.held = background[1] if background is not None and background[0] == "pending" else \
                _stored(flow)
        if flow.route is not None:
            yield from settle_served(flow, flow.response, flow.usage, flow.cost,  # type: ignore[arg-type]
                                     settled=background is not None)
    _response_end(flow, read)


def _stored(flow: Flow) -> str | None:
    """The id of the response a served ``POST /v1/responses`` made that its provider keeps
    (:func:`~aigw_policy.providers.background.stored_response`), of the chat completion a
    ``POST /v1/chat/completions`` asked kept (``store: true``), or of the Gemini context cache
    a ``POST .../cachedContents`` made (:mod:`~aigw_policy.providers.gemini_caches`), else None."""
    ai = flow.ai
    if ai.api == "gemini" and flow.response is not None and flow.act.get("req.method") == "POST":
        path = flow.act.get("req.url.path")  # a context cache made: its uses and reads go where it is
        return made_cache(flow.response) if isinstance(path, str) and path.rstrip("/").endswith("/cachedContents") \
            else None
    if ai.api != "openai" or not ai.inference or flow.response is None:
        return None
    if ai.operation == "responses":
        return stored_response(flow.response)
    return stored_completion(flow.response) if ai.stored and ai.operation == "chat" else None


def _background(flow: Flow) -> tuple[str, str] | None:
    """:func:`~aigw_policy.providers.background.background_of` the answer to an OpenAI
    Responses call or read, a Gemini interaction's, a read of an Anthropic batch's results
    (None for any other request, and for a read that finds the response still running:
    nothing to charge yet)."""
    ai = flow.ai
    if ai.api not in ("openai", "gemini", "anthropic") or flow.response is None:
        return None
    state = background_of(ai.api, ai.operation, flow.response, ai.provider, ai.notes)
    return None if state is None or state[0] != "finished" and not ai.inference else state


def response_plain(flow: Flow, response: dict[str, Any] | None) -> None:
    """:func:`response_steps` for a request with nothing to settle (nothing reserved, not
    routed): the response phase never asks the store (limits run in the request phase)."""
    assert not flow.reserved and flow.route is None
    _response_end(flow, _response_start(flow, response))


def _response_start(flow: Flow, response: dict[str, Any] | None) -> bool:
    """The response the phase sees (the gateway's answer, or the upstream's with its usage
    and cost); whether some response-phase text reads the activation."""
    act = flow.act
    stop = flow.stop
    reads = flow.cp.response_reads
    read = bool(reads.names or reads.functions)  # some response-phase text reads the activation
    if stop is not None and stop.verdict == "deny":
        gateway_answer(flow, stop)
        return read
    flow.upstream = True
    resp = response or {"status_code": 200, "headers": {}, "body": None}
    flow.response = resp
    ai = flow.ai
    if flow.model != ai.model and flow.model is not None:
        ai = replace(ai, model=flow.model)
    usage = extract_usage(ai, resp)
    flow.usage = usage
    # a request that ran no model (a GET of a stored response): nothing billed, whatever its answer holds,
    # but the usage of a background response it finds finished (charged once: settle_background)
    cost = (flow.prices.cost(flow.provider, usage.model or flow.model, usage, at=flow.time())
            if ai.inference or _background(flow) is not None else Cost.not_billed())
    flow.cost = cost
    if read:
        act.update(usage_entries(usage.to_dict()))
        if cost.usd is not None:
            act["ai.cost_usd"] = float(cost.usd)
    if cost.usd is None and cost.reason:
        flow.notes.append(f"cost unknown: {cost.reason}")
    return read


def answered_plain(flow: Flow, stop: Stop) -> None:
    """:func:`response_plain` of a request the gateway answered itself (``stop`` denied it)."""
    gateway_answer(flow, stop)
    cp = flow.cp
    quiet = cp.quiet_answers
    if quiet is not None and QUIET_ANSWERS and not flow.rec.on and quiet(flow.response["status_code"]):  # type: ignore[index]
        return  # no response rule runs for this status (engine/quiet_answer.py)
    reads = cp.response_reads
    _response_end(flow, bool(reads.names or reads.functions))


def _response_end(flow: Flow, read: bool) -> None:
    """The ``res.*`` entries, then the response-phase rules (plain calls: a limit action
    there is skipped, so nothing in it asks the store)."""
    cp = flow.cp
    if not read:  # no response-phase text reads the response's variables: none are set
        pass
    elif cp.response_headers:
        _response_entries(flow.response, flow.act)  # type: ignore[arg-type]
    else:  # only the status: the rest are read from the headers
        flow.act["res.status_code"] = flow.response.get("status_code", 200)  # type: ignore[union-attr]
    if not cp.response_rules:
        return
    run = cp.runners[1]
    if run is None or flow.rec.on or not STRAIGHT:
        _run(flow, _open(flow, RES))
    else:
        at = run(flow, flow.act)
        if at is not None:
            _run(flow, _resume(flow, RES, at))


def gateway_answer(flow: Flow, stop: Stop) -> None:
    """The response of a request the gateway answered itself (``stop`` denied it). All the
    response phase of a policy without response rules: nothing reads the entries."""
    status = stop.status or 403
    headers = dict(stop.headers) if stop.headers else {}
    flow.response = {"status_code": status, "headers": headers, "body": stop.body}


def _response_entries(resp: dict[str, Any], act: dict[str, Any]) -> None:
    """The ``res.*`` entries of the activation: the status, and those read from the
    response's headers (:func:`_response_end` sets the status alone when no text reads
    these: ``CompiledPolicy.response_headers``)."""
    act["res.status_code"] = resp.get("status_code", 200)
    given = resp.get("headers")
    lowered = _lower_headers(given) if given else {}
    act["res.headers"] = lowered
    content_entries("res", lowered, act)
    header_parts("res", lowered, act)
    act["res.trailers"] = {}  # ngrok's map for an answer without trailers (a response here has none)


def _lower_headers(headers: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in headers.items():
        out.setdefault(str(k).lower(), []).extend(v if isinstance(v, list) else [str(v)])
    return out


def continue_phase(flow: Flow, rule: CompiledRule, action: int) -> Steps:
    """The request phase after action ``action`` of ``rule``: the rest of its actions, then
    the later rules (a route that failed under ``on_error: continue``)."""
    cur = _open(flow, REQ, rule.position + 1, later=True)
    cur.rule = rule
    cur.at = action + 1
    yield from _drive(flow, cur)


# ---------------------------------------------------------------------------------------------
# a phase: plain calls (_run) until a limit action needs the store, which _drive asks for

_DONE, _ENDED, _NEED = 0, 1, 2  # a rule's actions ran out | one ended the phase | a limit needs the store

STRAIGHT = True
"""Run a phase without an index, untraced, by its runner (engine/phase_code.py); False: by
the general runner (the tests compare the two)."""

QUIET_ANSWERS = True
"""Skip the response phase of the gateway's own answer when no response rule can run for its
status (engine/quiet_answer.py); False: run it (the tests compare the two)."""

INLINE_LIMITS = True
"""Run a limit that is not eager (its charge waits for the reserve: no store is asked) with
the phase's plain calls; False: through the generator steps as an eager one (the tests
compare the two, with ``runner.PLAIN``)."""


class Cursor:
    """Where a phase is: the rules to go (``seq[k:]``, rule positions when the index chose
    them), the next rule in document order (``due``), and the matched rule whose actions are
    under way (``rule``, from action ``at``; ``reindex`` when one of them changed the model;
    ``need`` when action ``at`` is a limit, recorded and waiting for the store)."""

    __slots__ = ("at", "due", "index", "k", "n", "need", "order", "over", "phase", "reindex", "rule", "rules", "seq")

    phase: str
    rules: tuple[CompiledRule, ...]
    index: Any  # index.RuleIndex | None
    order: list[int] | None  # the index's candidates (None without an index)
    seq: Any  # rule positions (with the index) or rules
    k: int
    n: int
    due: int
    rule: CompiledRule | None
    at: int
    reindex: bool
    need: bool
    over: bool


def _over() -> Cursor:
    cur = Cursor()
    cur.over, cur.need, cur.rule = True, False, None
    return cur


OVER = _over()
"""The cursor of a request phase that ran to its end with charges to reserve: nothing of it
is read but ``over`` and ``need`` (:func:`request_steps` reserves; nothing is left to drive)."""


def _open(flow: Flow, phase: str, start: int = 0, later: bool = False) -> Cursor:
    """A phase from rule ``start``; ``later``: the candidates are chosen when the rule under
    way (set by the caller) has run its actions."""
    cp = flow.cp
    if phase == REQ:
        rules, index = cp.request_rules, cp.request_index
    else:
        rules, index = cp.response_rules, cp.response_index
    cur = Cursor()
    cur.phase = phase
    cur.rules = rules
    cur.index = index
    cur.rule = None
    cur.at = 0
    cur.over = False
    cur.need = False
    cur.due = start  # the next rule in document order: those before a candidate were skipped by the index
    cur.k = 0
    if index is not None:
        order = [] if later else index.candidates(flow.act, start)
        cur.order = cur.seq = order
        cur.reindex = later
    else:
        cur.order = None
        cur.seq = rules[start:] if start else rules
        cur.reindex = False
    cur.n = len(cur.seq)
    return cur


def _resume(flow: Flow, phase: str, at: tuple[int, int | None, bool]) -> Cursor:
    """The cursor where a phase runner (engine/phase_code.py) handed the phase back: at rule
    ``k``'s conditions, or at its action ``i`` (``need``: a limit the store must check)."""
    k, i, need = at
    if i is None:
        return _open(flow, phase, k)
    cur = _open(flow, phase, k + 1)
    cur.rule = cur.rules[k]
    cur.at = i
    cur.need = need
    return cur


def _drive(flow: Flow, cur: Cursor) -> Steps:
    """Run a phase to its end, asking the store for the limit actions that need it."""
    while cur.need or not (cur.over or _run(flow, cur)):
        cur.need = False
        rule = cur.rule
        assert rule is not None
        action = rule.actions[cur.at]
        try:
            stop = yield from limit(flow, rule, action)
        except Skip:
            cur.at = len(rule.actions)  # the rest of the rule is skipped
            continue
        if stop is not None:
            if _stopped(flow, rule, action, cur.phase, stop):
                cur.over = True
                return
            cur.at = len(rule.actions)
        else:
            cur.at += 1


def _run(flow: Flow, cur: Cursor) -> bool:
    """Run the phase from ``cur`` with plain calls: True when it is over, False when the
    action ``cur.at`` of ``cur.rule`` is a limit, which needs the store (:func:`_drive`)."""
    act = flow.act
    rec = flow.rec
    on = rec.on  # production records nothing: it skips the calls
    phase = cur.phase
    rules = cur.rules
    order = cur.order
    rule = cur.rule
    if rule is not None:  # a matched rule's actions are under way
        got = _actions(flow, rule, cur)
        if got == _NEED:
            return False
        cur.rule = None
        if got == _ENDED:
            cur.over = True
            return True
        if cur.reindex and order is not None:
            cur.seq = cur.index.candidates(act, rule.position + 1)
            cur.k = 0
            cur.n = len(cur.seq)
    seq = cur.seq
    k = cur.k
    n = cur.n
    due = cur.due
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
            matched = _conditions(rule, act, rec)
        else:  # the usual case inline: every condition true, or a false one (no failure before it)
            matched = True
            for e in rule.exprs:
                try:
                    value = e.fn(act)
                except (CelError, RecursionError):
                    value = None
                if value is True:
                    continue
                # false, or a failure: _conditions tells which wins (the texts are pure)
                matched = False if value is False else _conditions(rule, act, None)
                break
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
                cur.over = True
                return True
            continue
        if on:
            rec.matched(True)
        # --- actions, in order
        cur.at = 0
        cur.reindex = False
        got = _actions(flow, rule, cur)
        if got == _NEED:
            cur.rule = rule
            cur.seq = seq
            cur.k = k
            cur.n = n
            cur.due = due
            return False
        if got == _ENDED:
            cur.over = True
            return True
        if cur.reindex and order is not None:
            seq = cur.index.candidates(act, rule.position + 1)
            k = 0
            n = len(seq)
    if on and order is not None and due < len(rules):
        _skipped(rules[due:], phase, act, rec)
    cur.over = True
    return True


def _actions(flow: Flow, rule: CompiledRule, cur: Cursor) -> int:
    """Run a matched rule's actions in order from ``cur.at``: ``_ENDED`` when one ended the
    phase, ``_NEED`` at a request-phase limit (``cur.at`` is its index), else ``_DONE``. A
    model change sets ``cur.reindex`` (the rule index must look again)."""
    rec = flow.rec
    on = rec.on
    phase = cur.phase
    actions = rule.actions
    i = cur.at
    n = len(actions)
    while i < n:
        action = actions[i]
        i += 1
        if on:
            rec.action(action)
        try:
            if action.limit is not None:
                if phase != REQ:
                    rec.outcome("skipped: limits run in the request phase")
                    continue
                if action.eager or not INLINE_LIMITS:
                    cur.at = i - 1
                    cur.need = True
                    return _NEED
                stop = charge_later(flow, rule, action)  # its charge waits for the reserve
            elif action.type == "ai-gateway":
                stop = route_action(flow, rule, action, phase)
            else:
                stop = run_action(flow, rule, action, phase)
                if action.type in ("set-model", "url-rewrite"):  # what the index read may change
                    cur.reindex = True
        except Skip:
            break
        if stop is not None:
            return _ENDED if _stopped(flow, rule, action, phase, stop) else _DONE
    return _DONE


def _stopped(flow: Flow, rule: CompiledRule, action: Any, phase: str, stop: Stop) -> bool:
    """An action returned ``stop``: whether it ended the phase (else the rule ends here)."""
    if stop.kind == "error" and phase == RES and not flow.upstream:
        return False  # the gateway's own answer stands; the error is recorded
    if stop.verdict == "deny" and (rule.shadow or getattr(action.config, "enforce", None) is False):
        # shadow (`mode: shadow`, `enforce: false`): decided as if enforced; the rule ends here
        flow.shadow_deny(stop.status or 403, stop.reason, rule)
        return False
    stop.rule = rule
    stop.action = action
    stop.phase = phase
    _finish(flow, phase, stop)
    return True


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
