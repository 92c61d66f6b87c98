"""The ``ai-gateway`` action in the request phase (SPEC §12): the plan, and for each
candidate what trying it will charge and send.

When the action runs, the compiled route (the planner's, :mod:`aigw_policy.routing.compile`)
builds the :class:`~aigw_policy.routing.model.Plan` over the request's activation (its
strategies see ``identity``, ``limits``, ``vars``...). A plan error (413 input too large, 403
provider or model not allowed, 422 empty selection) ends the phase with that status and
ngrok's code, in the client's provider error shape; ``on_error: continue`` goes on to the next
action instead, with ``actions.ngrok.ai_gateway`` set. Otherwise the phase stops with verdict
allow, ``decided_by: route``, and the request carries a :class:`RouteRun`, which
:mod:`.attempts` drives.

Budget-correct failover: the limits of :attr:`CompiledPolicy.per_attempt` (those whose rule
condition, bucket key or cost reads ``ai.model`` / ``ai.provider``, and caps counted in usd)
were skipped by the phase; here each is measured again for each candidate, over the
activation with the candidate's model and provider. Each attempt reserves its own under
``rid#n``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from ..cel import CelError
from ..limits.model import Charge
from ..routing.compile import REFUSED_BY
from ..routing.model import Candidate, Plan
from .action_helpers import BAD_HEADER_CHAR
from .actions import model_access_refusal
from .charging import measure, settle_charges, shard_of
from .compile import CAPPED_OPERATIONS, CompiledAction, CompiledRule, Template
from .flow import Flow, Steps, Stop
from .route_errors import error_body, publish_trace
from .rule_error import CONDITION, failure, run

__all__ = ["REFUSED", "RouteRun", "Try", "candidate_activation", "route_action", "served_attempt", "settle_served"]

Charges = list[tuple[CompiledRule, CompiledAction, Charge]]


@dataclass(slots=True)
class Try:
    """One candidate, ready to try: what it charges per attempt and the rendered extras it
    sends; ``skip`` says why it will not be tried (set by the plan, or later: over a limit)."""

    candidate: Candidate
    charges: Charges = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None


@dataclass(slots=True)
class RouteRun:
    """A routed request's failover state, from the plan to the served attempt (or the end)."""

    rule: CompiledRule
    action: CompiledAction
    plan: Plan
    tries: list[Try]
    next: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    """One record per attempt made: provider, model, key_id, status_code, error, latency_ms, usage."""
    waits: list[float | None] = field(default_factory=list)
    """Per failed attempt, the seconds its answer asked to wait before a retry (``Retry-After``)."""
    said: list[str] = field(default_factory=list)
    """Per failed attempt, what it ended with (:func:`~.route_errors.attempt_said`)."""
    answers: list[dict[str, Any]] = field(default_factory=list)
    """Per attempt answered, for the debugging trace: ``ttfb_ms``, its ``headers`` (without
    those naming the key's account) and, when it failed, what it ``said``."""
    live: Any = None  # the Attempt in flight (its charges reserved under rid#n)
    live_try: Try | None = None
    elapsed_s: float = 0.0
    served: dict[str, Any] | None = None
    error: tuple[int, str, str] | None = None  # (status, ngrok code, message) when it ended failing
    started_at: float | None = None  # monotonic clock of the first attempt
    planner: Any = None
    """The route that made ``plan`` when it is not the action's: the action's without the
    settings that refused (not enforced); its providers, models and keys are the candidates'."""
    held: str | None = None
    """The id of the response the served attempt's provider keeps (a background one it queued,
    or any stored one): its reads and the turns that continue it go there."""
    cooling: list[dict[str, Any]] = field(default_factory=list)
    """The candidates put last because their key was cooling down after a 429 (:mod:`.cooldown`)."""

    @property
    def route(self) -> Any:
        return self.planner if self.planner is not None else self.action.templates["route"]

    def store_id(self, rid: str, number: int) -> str:
        """The limit store id of attempt ``number``'s own reservation."""
        return f"{rid}#{number}"

    def to_dict(self) -> dict[str, Any]:
        """The decision's ``routing`` (SPEC §12)."""
        out = {
            "strategies": [s.to_dict() for s in self.plan.strategies],
            "candidates": [replace(t.candidate, skipped_because=t.skip).to_dict() for t in self.tries],
            "attempts": [dict(a) for a in self.attempts],
            "served": dict(self.served) if self.served is not None else None,
        }
        if self.cooling:  # only when some key was cooling: the common decision keeps its four keys
            out["cooling"] = [dict(c) for c in self.cooling]
        return out


def route_action(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    """Run an ``ai-gateway`` action (request phase only: the IR refuses it elsewhere)."""
    route = action.templates["route"]
    ai = flow.ai
    if flow.model != ai.model or flow.provider != ai.provider:
        ai = replace(ai, model=flow.model, provider=flow.provider)
    # seeded by the request id: explain, test and replay of one request draw the same
    # `random()` choices; production ids differ, so requests are spread
    # a read of OpenAI's Responses API whatever its path said, or of a Gemini context cache
    fmt = "gemini" if flow.ai.api == "gemini" and "/cachedContents/" in str(flow.act.get("req.url.path")) else "openai"
    pinned = _pinned(route, flow.pinned, fmt) if flow.pinned is not None else None
    if pinned is not None and flow.ai.api != fmt:
        flow.ai = replace(flow.ai, api=fmt)
    plan: Plan = pinned or route.plan(ai, flow.act, flow.metrics, random.Random(flow.rid))
    if flow.continued is not None and pinned is None and plan.error is None:
        plan = _continued(plan, *flow.continued)
    rec = flow.rec
    shadow, planner = "", None
    if plan.error is not None and route.on_error == "halt" and (rule.shadow or action.config.enforce is False):
        plan, planner, shadow = _without_refusal(flow, rule, route, ai, plan)
    tries = [Try(c, skip=c.skipped_because) for c in plan.candidates]
    run_ = RouteRun(rule, action, plan, tries, planner=planner)
    if plan.error is not None:
        status, code, message = plan.error
        run_.error = plan.error
        publish_trace(flow, run_)
        if route.on_error == "continue":
            rec.outcome(f"error {status} {code}: {message} (on_error: continue)")
            return None
        rec.outcome(f"denied {status} {code}: {message}")
        return Stop("deny", status, message, "route-error", headers={"content-type": "application/json"},
                    body=error_body(plan.format, status, code, message, flow.rid, rule.label))
    cap = route.config.max_output_tokens
    if cap is not None and flow.ai.operation in CAPPED_OPERATIONS:
        _cap_output(flow, rule, cap)
    for t in tries:
        if t.skip is None:
            _prepare(flow, action, t)
    flow.route = run_
    ready = sum(1 for t in tries if t.skip is None)
    rec.outcome(f"{shadow}routed: {ready} of {len(tries)} candidates to try")
    return Stop("allow", None, f"routed by rule `{rule.label}` ({ready} candidates)", "route")


def _cap_output(flow: Flow, rule: CompiledRule, cap: int) -> None:
    """ngrok's ``max_output_tokens``, "maximum number of tokens allowed in the completion
    response": a request asking for more, or setting no cap (it would be answered up to the
    model's own maximum), is sent with the cap written in, as a ``max-tokens`` clamp writes it
    (the effect ``max_output_tokens``; the limits of the attempts reserve the cap)."""
    out = flow.act.get("ai.max_output_tokens") or 0
    if out and out <= cap:
        return
    before = flow.effects.get("max_output_tokens")  # a max-tokens clamp before the route: what the client asked
    flow.effects["max_output_tokens"] = {"from": before["from"] if before else out or None, "to": cap,
                                         "rule": rule.label}
    flow.act["ai.max_output_tokens"] = cap
    flow.lowered_output = cap
    if flow.rec.on:
        flow.rec.outcome(f"clamped max output {out or 'unset'} -> {cap} (max_output_tokens)")


def _pinned(route: Any, owner: dict[str, Any], fmt: Any = "openai") -> Plan | None:
    """The plan of a read of a stored response (or a Gemini context cache: ``fmt`` gemini) this
    route served: its owner's provider, model and key, while the route still has them (None:
    planned as any request, which refuses a read as no inference API)."""
    pid, model, key_id = owner.get("provider"), owner.get("model"), owner.get("key_id")
    if not isinstance(pid, str) or not isinstance(model, str) or pid not in route.providers:
        return None
    if key_id is not None and all(k.id != key_id for k in route.provider(pid).keys):
        return None
    return Plan(fmt, (model,), (), (Candidate(pid, model, key_id),), pinned=True)


def _continued(plan: Plan, previous: str, owner: dict[str, Any]) -> Plan:
    """The plan of a turn that continues stored response ``previous`` (``previous_response_id``):
    only the candidates of the provider and key that hold it are tried, in the plan's order
    (any other answers OpenAI's 400 ``previous_response_not_found``); the others are skipped
    with the reason. When the plan has none of them (the route no longer offers that provider
    or key, or its strategies left them out), it is tried as planned. A Gemini context cache
    (``cachedContent``) is of one model too: only that model's candidates of that key."""
    cache = previous.startswith("cachedContents/")
    held = (owner.get("provider"), owner.get("key_id"), owner.get("model") if cache else None)

    def holds(c: Candidate) -> bool:
        return (c.provider, c.key_id, c.model if cache else None) == held

    if not any(c.skipped_because is None and holds(c) for c in plan.candidates):
        return plan
    key = f" key `{held[1]}`" if held[1] is not None else ""
    why = (f"context cache `{previous}` is held by provider `{held[0]}`{key} for model `{held[2]}`" if cache
           else f"previous response `{previous}` is held by provider `{held[0]}`{key}")
    return replace(plan, candidates=tuple(
        c if c.skipped_because is not None or holds(c) else replace(c, skipped_because=why)
        for c in plan.candidates))


def _without_refusal(flow: Flow, rule: CompiledRule, route: Any, ai: Any,
                     refused: Plan) -> tuple[Plan, Any, str]:
    """A route not enforced (``mode: shadow``, ``enforce: false``) that refuses: the refusal is
    recorded as ``would_deny`` and the request is planned again without the setting that
    refused (``max_input_tokens``, ``only_allow_configured_*``, a selection), then without the
    next one that refuses, if any; every other setting stays (the providers and keys it allows).
    When a refusal is no setting's (a model nobody serves), the refusal stands, and, not
    enforced, ends the rule: the request goes on as without it. Returns the plan to try, the
    route that made it (None: the action's) and what the trace says of it."""
    plan, unset, planner = refused, frozenset[str](), None
    while plan.error is not None:
        setting = REFUSED_BY.get(plan.error[1])
        if setting is None or setting in unset or not getattr(route.config, setting):
            return refused, None, ""
        unset |= {setting}
        planner = route.without(unset)
        plan = planner.plan(ai, flow.act, flow.metrics, random.Random(flow.rid))
    status, code, message = refused.error  # type: ignore[misc]
    flow.shadow_deny(status, message, rule)
    return plan, planner, f"shadow: would deny {status} {code}: {message}; without {', '.join(sorted(unset))}, "


def candidate_activation(act: dict[str, Any], provider: str, model: str) -> dict[str, Any]:
    """The activation as a candidate sees it: ``ai.model`` and ``ai.provider`` are its own."""
    out = dict(act)
    out["ai"] = {**act["ai"], "model": model, "provider": provider}
    out["ai.model"] = model
    out["ai.provider"] = provider
    return out


def _prepare(flow: Flow, action: CompiledAction, t: Try) -> None:
    """Measure the per-attempt limits and render the extras for candidate ``t``."""
    c = t.candidate
    act = candidate_activation(flow.act, c.provider, c.model)
    if flow.cp.model_gates:
        t.skip = _refused(flow, act, c)
        if t.skip is not None:
            return
    for rule in flow.cp.request_rules:
        limits = [a for a in rule.actions if (rule.position, a.position) in flow.cp.per_attempt]
        if not limits or not _matches(rule, act):
            continue
        for a in limits:
            plan = a.limit
            assert plan is not None
            m = measure(flow, plan, act, c.provider, c.model)
            if m.failed is not None:
                t.skip = f"limit `{plan.spec.name}` failed: {m.failed[2].message}"
                return
            if m.unknown_price is not None:
                if plan.on_unknown_price == "deny" and plan.spec.enforce:
                    t.skip = f"price unknown for limit `{plan.spec.name}`"
                    return
                continue
            t.charges.append((rule, a, Charge(plan.spec, m.key, m.cost, shard_of(flow))))
    templates = action.templates
    try:
        t.headers = {k: _text(v, act).strip(" \t") for k, v in templates.get("headers", {}).items()}
        t.query = {k: _text(v, act) for k, v in templates.get("query_params", {}).items()}
        t.body = {k: _value(v, act) for k, v in templates.get("body", {}).items()}
    except (CelError, RecursionError) as error:  # a failing template skips the candidate
        t.skip = f"a header, query or body template failed: {failure(error, CONDITION).message}"
        return
    bad = next((k for k, v in t.headers.items() if BAD_HEADER_CHAR.search(v)), None)
    if bad is not None:
        t.skip = f"the value of header `{bad}` has a character a header cannot carry (CR, LF, NUL...)"


REFUSED = "refused by rule"
"""How a candidate's ``skip`` begins when a model rule before the route refuses its model."""


def _refused(flow: Flow, act: dict[str, Any], c: Candidate) -> str | None:
    """Why a model rule before the route (:attr:`CompiledPolicy.model_gates`) refuses candidate
    ``c`` (None: none does). The rules decided on the model the client wrote; the route sends
    the catalog's (``GPT-4.1`` and ``openai:gpt-4.1`` are ``gpt-4.1``) and the client's
    ``models`` fallbacks: each is asked of the model that would go upstream."""
    gates = flow.cp.model_gates
    rules = flow.cp.request_rules
    for position in sorted({r for r, _ in gates}):  # only the gates' rules (a position is an index)
        rule = rules[position]
        if not _matches(rule, act):
            continue
        for a in (a for a in rule.actions if (position, a.position) in gates):
            if a.type != "model-access":
                return f"{REFUSED} `{rule.label}` (its condition holds for model `{c.provider}:{c.model}`)"
            why = model_access_refusal(a.config, c.provider, c.model, rule.label)
            if why is not None:
                return f"{REFUSED} `{rule.label}`: {why}"
    return None


def _matches(rule: CompiledRule, act: dict[str, Any]) -> bool:
    """The rule's conditions over a candidate's activation (a failing one: no match)."""
    return all(run(e.fn, act, CONDITION) is True for e in rule.exprs)


def _text(tpl: Template, act: dict[str, Any]) -> str:
    from .compile import text_of

    return text_of(tpl.render(act))


def _value(v: Any, act: dict[str, Any]) -> Any:
    if isinstance(v, Template):
        return v.render(act)
    if isinstance(v, list):
        return [_value(x, act) for x in v]
    if isinstance(v, dict):
        return {k: _value(x, act) for k, x in v.items()}
    return v


def served_attempt(flow: Flow) -> tuple[str, Charges] | None:
    """The serving attempt's store id (``rid#n``) and its charges, while they are reserved
    (None: the request was not routed, or nothing is in flight)."""
    run: RouteRun | None = flow.route
    if run is None or run.live is None or run.live_try is None or not run.live_try.charges:
        return None
    return run.store_id(flow.rid, run.live.number), run.live_try.charges


def settle_served(flow: Flow, resp: dict[str, Any], usage: Any, cost: Any, *, settled: bool = False) -> Steps:
    """The serving attempt's own reservation (``rid#n``) settled against its answer, as the
    request's is; its usage is the attempt's. ``settled``: its charges were settled with the
    request's (a background response: ``charging.settle_background``), only the record is left."""
    run: RouteRun = flow.route
    live, t = run.live, run.live_try
    if live is None or t is None:
        return
    record = run.attempts[-1]
    record["status_code"] = resp.get("status_code") or 200
    record["usage"] = usage.to_dict()
    run.live = run.live_try = None
    if t.charges and not settled:
        yield from settle_charges(flow, run.store_id(flow.rid, live.number), t.charges, resp, usage, cost)
