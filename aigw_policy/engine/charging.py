"""Limits: the charges a request makes, their check, the all-or-nothing reserve, and the
settlement against the response (reconcile or release)."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from ..cel import CelError
from ..limits.algorithms import MAX_BUCKET_KEY, bounded_key
from ..limits.model import Charge, LimitSpec, Outcome, new_charge
from ..providers import Usage
from ..providers.prices import Cost
from ..providers.background import charge_id
from .compile import DEFAULT_MAX_OUTPUT_TOKENS, CompiledAction, CompiledRule, text_of
from .flow import REQ, RES, Check, Flow, LimitEntry, Need, Reconcile, Release, Reserve, Steps, Stop, StoreFailed
from .rule_error import COST_VALUE, EXPRESSION, Failure, Skip, failure, rule_error, run
from .trace import jsonable, span_dict

__all__ = ["STORE", "UNKNOWN_PRICE", "Measure", "charge_later", "charge_unrouted", "check_deferred", "limit", "measure",
           "report_once",
           "reserve", "settle", "settle_background", "settle_charges", "shard_of", "usage_entries"]

STORE = "AIGW506"
"""The limit store could not answer (the decision's ``store``; ``store_failure`` applies)."""
UNKNOWN_PRICE = "AIGW507"
"""A limit in usd and no price for the model (the limit's entry; ``on_unknown_price`` applies)."""


def _estimate_usage(flow: Flow, act: dict[str, Any], model: str | None) -> Usage:
    out = act.get("ai.max_output_tokens") or 0
    if not out:
        out = 0 if flow.ai.operation == "embeddings" else DEFAULT_MAX_OUTPUT_TOKENS
    inp = act.get("ai.input_tokens", 0)
    # n / best_of / candidateCount outputs, each up to the cap and each billed
    out *= flow.ai.choices
    memo = flow.estimate
    if (memo is not None and memo[0] == inp and memo[1] == out and memo[2] == model
            and type(memo[0]) is type(inp) and type(memo[1]) is type(out) and MEMO_ESTIMATE):
        return memo[3]  # type: ignore[no-any-return]
    usage = Usage.of(inp, out, source="estimate", model=model)
    flow.estimate = (inp, out, model, usage, None)
    return usage


def _cost_activation(flow: Flow, base: dict[str, Any], usage: Usage, usd: float | None) -> dict[str, Any]:
    act = dict(base)
    memo = flow.estimate
    if memo is not None and memo[3] is usage and memo[4] is not None and MEMO_ESTIMATE:
        act.update(memo[4])  # the usage's entries, made for this request's first limit with a cost
    else:
        extra = usage_entries(usage.to_dict())
        if memo is not None and memo[3] is usage:
            flow.estimate = (*memo[:4], extra)
        act.update(extra)
    if usd is not None:
        act["ai.cost_usd"] = usd
    return act


def usage_entries(u: dict[str, Any]) -> dict[str, Any]:
    """The activation's ``ai.usage`` and ``ai.usage.<field>`` entries of ``u``
    (:meth:`~aigw_policy.providers.Usage.to_dict`), in its order; written out (a loop joining
    the names took twice as long), tests/engine/test_charge_fast_paths.py holds it to the loop."""
    return {"ai.usage": u, "ai.usage.input_tokens": u["input_tokens"], "ai.usage.output_tokens": u["output_tokens"],
            "ai.usage.cached_input_tokens": u["cached_input_tokens"],
            "ai.usage.cache_creation_input_tokens": u["cache_creation_input_tokens"],
            "ai.usage.cache_creation_1h_input_tokens": u["cache_creation_1h_input_tokens"],
            "ai.usage.reasoning_tokens": u["reasoning_tokens"], "ai.usage.total_tokens": u["total_tokens"],
            "ai.usage.source": u["source"]}


MEMO_ESTIMATE = True
"""A request's limits share one estimated ``Usage`` and its activation entries while the
counts and the model they are made of stay the same (False: each limit makes its own)."""


def shard_of(flow: Flow) -> str | None:
    """The request's tenant for the cluster store: the document's ``shard_key`` over the
    request, evaluated once per request. None (the store's own rule) when there is none, or
    when it fails or gives no string (a note says so) or the empty string: the request is then
    placed as without a shard key."""
    got = flow.shard
    if got is None:
        expr = flow.cp.shard_key
        value = run(expr.fn, flow.act, EXPRESSION) if expr is not None else None
        if type(value) is Failure or (value is not None and not isinstance(value, str)):
            what = value.message if type(value) is Failure else f"gave {type(value).__name__}, not a string"
            flow.notes.append(f"shard_key failed ({what}): limits placed by their bucket keys")
            value = None
        got = flow.shard = (value or None,)  # "" names no tenant
    return got[0]


@dataclass(slots=True)
class Measure:
    """A limit's bucket key and estimated cost for one request (and one candidate model), or
    why there is none: ``failed`` (a CEL failure: its source, span and field) or
    ``unknown_price`` (the reason; the entry is made)."""

    key: str = ""
    cost: float = 0.0
    note: str | None = None
    failed: tuple[str, Any, Failure, str] | None = None
    unknown_price: str | None = None


def measure(flow: Flow, plan: Any, act: dict[str, Any], provider: str, model: str | None) -> Measure:
    """The bucket key and the request-time cost estimate of limit ``plan`` over ``act``,
    priced for ``provider``/``model`` (the request's, or a routing candidate's)."""
    spec = plan.spec
    parts = []
    for i, e in enumerate(plan.bucket):
        try:  # rule_error.run inline: one call less per part
            value = e.fn(act)
        except (CelError, RecursionError) as exc:
            value = failure(exc, EXPRESSION)
        if type(value) is not str:
            if type(value) is Failure:
                return Measure(failed=(e.source, e.span, value, f"bucket_key.{i}"))
            value = text_of(value)
        parts.append(value)
    key = parts[0] if len(parts) == 1 else "|".join(parts)
    if len(key) > MAX_BUCKET_KEY:  # a client's long text: held bounded (limits.algorithms)
        key = bounded_key(key)
    unit = spec.unit
    note = None
    if plan.kind == "rate-limit" or (unit == "requests" and plan.cost is None):
        return Measure(key, 1.0)
    if not flow.ai.inference and plan.cost is None:  # a GET of a stored answer, a token count...: no model runs, nothing billed
        return Measure(key, 0.0, "no inference (a read, or a call that runs no model): nothing to reserve")
    if unit == "tokens" and plan.cost is None and FAST_ESTIMATE:
        # the estimate's total, as _estimate_usage's Usage counts it, without building it
        out = act.get("ai.max_output_tokens") or 0
        if not out:
            out = 0 if flow.ai.operation == "embeddings" else DEFAULT_MAX_OUTPUT_TOKENS
        cost = float(act.get("ai.input_tokens", 0) + out * flow.ai.choices)
        return Measure(key, cost, "estimate: input + requested max output" + (
            "" if act.get("ai.max_output_tokens") else f" (none requested: {DEFAULT_MAX_OUTPUT_TOKENS:,} assumed)"
            if flow.ai.operation != "embeddings" else ""))
    usd: float | None = None
    usage = _estimate_usage(flow, act, model)
    if unit == "usd":
        price = flow.prices.cost(provider, model, usage, at=flow.time())
        usd = price.as_float()
        if usd is None:
            return Measure(key, unknown_price=(
                f"usage-cap `{spec.name}` counts usd and the price of `{model or '?'}` is unknown "
                f"({price.reason}); on_unknown_price: {plan.on_unknown_price}"))
    if plan.cost is not None:
        value = run(plan.cost.fn, _cost_activation(flow, act, usage, usd), EXPRESSION)
        if type(value) is Failure:
            return Measure(key, failed=(plan.cost.source, plan.cost.span, value, "cost"))
        if type(value) is bool or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            fail = Failure(COST_VALUE, f"cost must be a non-negative number, not {jsonable(value)!r}")
            return Measure(key, failed=(plan.cost.source, plan.cost.span, fail, "cost"))
        cost = float(value)
    elif unit == "usd":
        cost = usd or 0.0
    else:
        cost = float(usage.total_tokens)
        note = "estimate: input + requested max output" + (
            "" if act.get("ai.max_output_tokens") else f" (none requested: {DEFAULT_MAX_OUTPUT_TOKENS:,} assumed)"
            if flow.ai.operation != "embeddings" else "")
    return Measure(key, cost, note)


FAST_ESTIMATE = True
"""A token limit without a ``cost`` adds up its estimate without building the
:class:`~aigw_policy.providers.Usage` (False: through the ``Usage``; the tests compare them)."""


def limit(flow: Flow, rule: CompiledRule, action: CompiledAction) -> Generator[Need, Any, Stop | None]:
    """Run a limit action: its bucket key and cost, then (an eager limit, whose outcome a later
    rule reads) the store's check; otherwise its charge waits for the reserve. A limit that
    depends on the model under an ``ai-gateway`` action is charged per attempt instead."""
    if not action.eager:
        return charge_later(flow, rule, action)
    plan = action.limit
    assert plan is not None
    spec = plan.spec
    rec = flow.rec
    if _per_attempt(flow, rule, action):
        return None
    m = measure(flow, plan, flow.act, flow.provider, flow.model)
    if m.failed is not None or m.unknown_price is not None:
        return _unmeasured(flow, rule, plan, m)
    key, cost, note = m.key, m.cost, m.note
    charge = new_charge(spec, key, cost, shard_of(flow))
    answer = yield Check([charge])
    if isinstance(answer, StoreFailed):
        return _store_failed(flow, rule, plan, key, cost, answer)
    out: Outcome = answer[0]
    entry = _entry(rule, plan, key, cost, out)
    if note:
        entry.note = note
    flow.limit_entries[spec.name] = entry
    _publish(flow, plan, out)
    flow.charges.append((rule, action, charge))
    if out.outcome == "limited":
        reason = _limited_reason(out)
        if not spec.enforce:
            rec.outcome(f"over the limit, not enforced: {reason}")
            flow.shadow_deny(429, reason, rule)
            return None
        rec.outcome(f"limited 429: {reason}")
        return _limit_stop(out, reason)
    if rec.on:
        rec.outcome(f"{out.outcome}: {_fmt(out.used)} of {_fmt(out.limit)} {out.unit} with this request")
    return None


def charge_later(flow: Flow, rule: CompiledRule, action: CompiledAction) -> Stop | None:
    """:func:`limit` of a limit that is not eager: it asks no store (its charge waits for the
    reserve), so a phase's plain calls run it (``phases._actions``) rather than the steps."""
    if flow.cp.per_attempt and _per_attempt(flow, rule, action):  # (only a routed policy has any)
        return None
    return _charge_at_reserve(flow, rule, action)


def _per_attempt(flow: Flow, rule: CompiledRule, action: CompiledAction) -> bool:
    """Whether the limit depends on the model under an ``ai-gateway`` action: skipped here,
    it is charged with each routing attempt, or, when no route takes the request, at the end
    of the request phase (:func:`charge_unrouted`)."""
    per_attempt = flow.cp.per_attempt
    if not per_attempt or (rule.position, action.position) not in per_attempt:
        return False
    flow.rec.outcome("depends on the model: charged with each routing attempt (or, not routed, with the request)")
    flow.per_attempt.append((rule, action))
    return True


def charge_unrouted(flow: Flow) -> tuple[CompiledRule, CompiledAction, Stop] | None:
    """The per-attempt limits the request phase skipped, charged to the request when no
    route took it (a route's condition false, its plan error under ``on_error: continue``):
    they are the request's as in a policy without a route, checked with the reserve. Before,
    such a request was charged none of them. The first that stops the request, with its rule
    and action (an unknown price under ``on_unknown_price: deny``...); else None."""
    skipped, flow.per_attempt = flow.per_attempt, []
    for rule, action in skipped:
        stop = _charge_at_reserve(flow, rule, action)
        if stop is not None:
            return rule, action, stop
    return None


def _charge_at_reserve(flow: Flow, rule: CompiledRule, action: CompiledAction) -> Stop | None:
    plan = action.limit
    assert plan is not None
    spec = plan.spec
    rec = flow.rec
    m = measure(flow, plan, flow.act, flow.provider, flow.model)
    if m.failed is not None or m.unknown_price is not None:
        return _unmeasured(flow, rule, plan, m)
    key, cost, note = m.key, m.cost, m.note
    charge = new_charge(spec, key, cost, shard_of(flow))
    # no later request-phase rule reads limits[...]: the outcome comes with the reserve
    entry = _entry(rule, plan, key, cost, None)
    entry.outcome = "pending"
    if note:
        entry.note = note
    flow.limit_entries[spec.name] = entry
    flow.charges.append((rule, action, charge))
    flow.deferred = True
    if rec.on:
        rec.outcome(f"charge ~{_fmt(cost)} {spec.unit} to bucket `{key}` (checked with the reserve)")
    return None


def _unmeasured(flow: Flow, rule: CompiledRule, plan: Any, m: Measure) -> Stop | None:
    """A limit whose bucket key or cost failed (``on_error`` applies), or whose price is
    unknown (``on_unknown_price`` applies): nothing is charged."""
    rec = flow.rec
    if m.failed is not None:
        source, span, value, field = m.failed
        rec.outcome(f"error in {field.split('.')[0]}: {value.message}")
        return _failed(flow, rule, source, span, value, field)
    spec = plan.spec
    reason = m.unknown_price
    assert reason is not None
    entry = _entry(rule, plan, m.key, None, None)
    entry.note = reason
    entry.code = UNKNOWN_PRICE
    flow.limit_entries[spec.name] = entry
    if plan.on_unknown_price == "deny" and spec.enforce:
        rec.outcome("denied 403: unknown price")
        entry.outcome = "limited"
        return Stop("deny", 403, reason, "unknown-price", body=reason)
    flow.notes.append(reason)
    rec.outcome("not charged: unknown price")
    return None


def _limit_stop(out: Outcome, reason: str) -> Stop:
    return Stop("deny", 429, reason, "limit", headers=_retry_headers(out), body=reason)


def _retry_headers(out: Outcome) -> dict[str, str]:
    retry = out.retry_after if out.retry_after is not None else out.reset_after
    return retry_headers(retry or 0, never=out.cost > out.limit)


SDK_RETRY_AFTER_MAX = 120
"""The longest ``Retry-After`` the OpenAI SDK waits for before a retry (past it, it does not
retry); the Anthropic SDK waits for any, hours included."""


def retry_headers(wait: float, *, never: bool = False) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) for a wait of ``wait`` seconds, and
    ``x-should-retry: false`` (which the SDKs obey) past :data:`SDK_RETRY_AFTER_MAX`, so that
    an SDK's own retry (``max_retries``) neither sleeps that long nor comes back early to the
    same answer; ``never``: no wait helps (a request larger than the limit).

    >>> retry_headers(2.5), retry_headers(3600)
    ({'retry-after': '3'}, {'retry-after': '3600', 'x-should-retry': 'false'})
    """
    seconds = max(1, math.ceil(wait))
    if never or seconds > SDK_RETRY_AFTER_MAX:
        return {"retry-after": str(seconds), "x-should-retry": "false"}
    return {"retry-after": str(seconds)}


def _limited_reason(out: Outcome) -> str:
    reason = (f"limit {out.name}: {_fmt(out.used)} of {_fmt(out.limit)} {out.unit} used, "
              f"this request needs ~{_fmt(out.cost)}")
    if out.cost > out.limit:  # waiting never helps: say so rather than only "retry after"
        reason += ", more than the whole limit: it can never fit; make it smaller"
    return reason


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.4f}".rstrip("0").rstrip(".") if abs(x) < 1000 else f"{x:,.2f}"
    return f"{int(x):,}"


def _entry(rule: CompiledRule, plan: Any, key: str, cost: float | None, out: Outcome | None) -> LimitEntry:
    spec = plan.spec
    if out is None:
        return LimitEntry(spec.name, rule.label, plan.kind, key, spec.unit, cost, spec.capacity, spec.enforce)
    # LimitEntry(...).apply(out) in one call
    return LimitEntry(spec.name, rule.label, plan.kind, key, spec.unit, out.cost, out.limit, spec.enforce,
                      out.used, out.remaining, out.reset_after, out.outcome, out.retry_after,
                      includes_cost=out.outcome != "limited")


def _failed(flow: Flow, rule: CompiledRule, source: str, span: Any, fail: Failure, field: str) -> Stop | None:
    stop = rule_error(flow, rule, REQ, source, span, fail, field)
    if stop is None:
        raise Skip()
    return stop


def _store_error(flow: Flow, message: str) -> None:
    flow.store_error = {"code": STORE, "message": message, "mode": flow.cp.store_failure}


NO_ERROR = {"code": "", "message": ""}
"""ngrok's ``actions.ngrok.<action>.error`` of an action that ran without one (its docs
interpolate ``${actions.ngrok.restrict_ips.error.code}`` after every run); never mutated."""


def _publish(flow: Flow, plan: Any, out: Outcome) -> None:
    """``limits[name]`` and ``actions.ngrok.rate_limit`` for later rules."""
    limited = out.outcome == "limited"
    name = out.name
    key = out.key
    act = flow.act
    act["limits"][name] = {"limited": limited, "used": out.used, "limit": out.limit, "remaining": out.remaining,
                           "reset_after": out.reset_after, "outcome": out.outcome, "key": key}
    result = {"limited": limited, "bucket_key": key, "name": name, "error": NO_ERROR}
    actions = act["actions"]
    kind = plan.kind
    if kind == "rate-limit":
        group = actions.get("ngrok")
        if group is None:
            group = actions["ngrok"] = {}
        group["rate_limit"] = result
    else:
        group = actions.get("aigw")
        if group is None:
            group = actions["aigw"] = {}
        group[_ACTION_KEY.get(kind) or kind.replace("-", "_")] = result


_ACTION_KEY = {"token-limit": "token_limit", "usage-cap": "usage_cap"}
"""``actions.aigw``'s key for a limit kind (its name with ``_``), spelled once."""


def _read_after(flow: Flow) -> bool:
    """Whether a text can still read ``limits[...]`` once the request's charges are reserved
    or settled: a response-phase text that reads ``limits`` or ``actions``, or the rest of a
    routed request phase (after an attempt fails under ``on_error: continue``). Else nothing
    reads what :func:`_publish` writes."""
    return flow.cp.limits_read_after or flow.route is not None


def _store_failed(flow: Flow, rule: CompiledRule, plan: Any, key: str, cost: float,
                  failed: StoreFailed) -> Stop | None:
    mode = flow.cp.store_failure
    _store_error(flow, failed.message)
    rec = flow.rec
    entry = _entry(rule, plan, key, cost, None)
    entry.outcome = "unavailable"
    flow.limit_entries[plan.spec.name] = entry
    if mode == "fail_open":
        rec.outcome("store unavailable: not counted (store_failure: fail_open)")
        return None
    reason = f"limit store unavailable: {failed.message} (store_failure: fail_closed)"
    rec.outcome("denied 503: store unavailable")
    return Stop("deny", 503, reason, "store", body=reason)


def check_deferred(flow: Flow) -> Steps:
    """The request was denied: nothing is charged, but an earlier limit that is over decides
    (it would have ended the request first)."""
    charges = [c for _, _, c in flow.charges]
    answer = yield Check(charges)
    if isinstance(answer, StoreFailed):
        return
    for i, out in enumerate(answer):
        entry = flow.limit_entries.get(out.name)
        if entry is not None:
            entry.apply(out)
    for i, out in enumerate(answer):
        rule, action, charge = flow.charges[i]
        if out.outcome == "limited" and charge.spec.enforce and not action.eager:
            stop = flow.stop
            if stop is not None and stop.rule is not None and stop.rule.position < rule.position:
                break
            reason = _limited_reason(out)
            flow.stop = Stop("deny", 429, reason, "limit", rule, action, REQ, headers=_retry_headers(out), body=reason)
            break


def reserve(flow: Flow) -> Steps:
    """Reserve the gathered charges, all or nothing (:func:`take_reserve` reads the answer)."""
    answer = yield Reserve(flow.rid, [c for _, _, c in flow.charges])
    take_reserve(flow, answer)


def take_reserve(flow: Flow, answer: list[Outcome] | StoreFailed) -> None:
    """The reserve's answer: the limit entries updated (and published where a later text reads
    them), the request admitted (``flow.reserved``) or stopped by the first enforced limit
    that is over, or the store's failure under the document's ``store_failure``."""
    if isinstance(answer, StoreFailed):
        mode = flow.cp.store_failure
        _store_error(flow, answer.message)
        for _, action, _c in flow.charges:
            flow.limit_entries[action.limit.spec.name].outcome = "unavailable"  # type: ignore[union-attr]
        if mode == "fail_closed":
            rule, action, _c = flow.charges[0]
            flow.stop = Stop("deny", 503, f"limit store unavailable: {answer.message} (store_failure: fail_closed)",
                             "store", rule, action, REQ)
        return
    publish = flow.cp.limits_read_after or flow.route is not None  # _read_after(flow), inline
    for o in answer:
        if o.outcome == "limited":
            break
    else:  # the usual case, every charge fits: only the entries to update (and publish)
        if flow.no_response:
            publish = False  # admitted, and no response phase follows: nothing reads them
        entries = flow.limit_entries
        for (_rule, action, _charge), out in zip(flow.charges, answer):
            entry = entries.get(out.name)
            if entry is not None:
                entry.apply(out)
            if publish:
                _publish(flow, action.limit, out)
        flow.reserved = True
        return
    first: tuple[Outcome, int] | None = None
    charges = flow.charges
    admitted = True
    for (_rule, _action, charge), out in zip(charges, answer):
        if out.outcome == "limited" and charge.spec.enforce:
            admitted = False
            break
    for i, out in enumerate(answer):
        entry = flow.limit_entries.get(out.name)
        if entry is not None:
            entry.apply(out)
            if not admitted:
                entry.includes_cost = False
        if publish:
            _publish(flow, flow.charges[i][1].limit, out)
        if out.outcome == "limited" and flow.charges[i][2].spec.enforce:
            if first is None:
                first = (out, i)
        elif out.outcome == "limited" and admitted and not flow.charges[i][1].eager:
            # admitted: the unenforced charge was recorded; tell the use before it, as enforced would
            before = replace(out, used=max(0.0, out.used - out.cost))
            flow.shadow_deny(429, _limited_reason(before), flow.charges[i][0])
    if first is not None:
        out, i = first
        rule, action, _c = flow.charges[i]
        reason = _limited_reason(out)
        flow.stop = Stop("deny", 429, reason, "limit", rule, action, REQ, headers=_retry_headers(out), body=reason)
        return
    flow.reserved = True


def settle(flow: Flow, resp: dict[str, Any], usage: Usage, cost: Any) -> Steps:
    """Settle the request's reservation against the response (release on an upstream error
    under ``upstream_error: release``, else reconcile)."""
    released = yield from settle_charges(flow, flow.rid, flow.charges, resp, usage, cost)
    if released:
        flow.released = True


def settle_charges(flow: Flow, rid: str, charges: list[tuple[CompiledRule, CompiledAction, Charge]],
                   resp: dict[str, Any], usage: Usage, cost: Any) -> Generator[Need, Any, bool]:
    """Settle what ``rid`` reserved for ``charges`` (the request's, or one routing attempt's
    under ``rid#n``); True when it was released."""
    status = resp.get("status_code") or 200
    failed = status >= 400 or usage.upstream_failed  # a 2xx whose body is an error object too
    if failed and flow.cp.upstream_error == "release":
        answer = yield Release(rid)
        if isinstance(answer, StoreFailed):
            _store_error(flow, answer.message)
            return False
        names = None if rid == flow.rid else {c.spec.name for _, _, c in charges}
        for entry in flow.limit_entries.values():
            if names is None or entry.name in names:
                entry.settled = "released (upstream error)"
        return True
    actual = _actual(flow, charges, failed, usage, cost)
    answer = yield Reconcile(rid, actual)
    if isinstance(answer, StoreFailed):
        _store_error(flow, answer.message)
        return False
    cp = flow.cp
    publish = _read_after(flow)
    for out in answer:
        settled = flow.limit_entries.get(out.name)
        if settled is not None:
            reserved = settled.cost
            settled.reserved = reserved
            settled.apply(out)
            settled.settled = "reconciled"
            settled.note = f"reserved ~{_fmt(reserved)} at request time, reconciled to {_fmt(out.cost)}"
        hit = cp.limits.get(out.name)
        if hit is not None:
            if publish:
                _publish(flow, hit[1].limit, out)
            if out.outcome == "limited":
                _over_at_settle(flow, hit[0], hit[1], out)
    return False


def settle_background(flow: Flow, state: str, response_id: str,
                      attempt: tuple[str, list[tuple[CompiledRule, CompiledAction, Charge]]] | None = None) -> Steps:
    """Settle an OpenAI background response's token and usd limits under
    :func:`~aigw_policy.providers.background.charge_id` (the same id whichever request meets
    it), the request's own reservation keeping only its rate limits: the ``POST`` that queued
    it moves its reservation there (``pending``: the model has not run); the first answer that
    carries it finished with its usage (a read, a resumed stream, a cancel, the ``POST``'s own
    stream) replaces that by the usage, or charges it when nothing was held; a later one
    charges nothing (the store is idempotent by request id). ``attempt``: the serving routing
    attempt's store id (``rid#n``) and charges, moved there with the request's (their buckets
    are the served model's), so a read's usage is charged to them. ``cut`` (a Gemini
    interaction's stream cut before its end): its estimate is charged there as a finished
    one's usage is, so that a later read charges nothing. A store failure settles as
    :func:`settle` does."""
    own = [(r, a, c) for r, a, c in flow.charges if a.limit.kind != "rate-limit"] if flow.reserved else []  # type: ignore[union-attr]
    served = [(r, a, c) for r, a, c in attempt[1] if a.limit.kind != "rate-limit"] if attempt else []  # type: ignore[union-attr]
    kept = own + served
    if not kept:
        yield from _settle_plainly(flow, attempt)
        return
    bid = charge_id(response_id)
    actual = _actual(flow, kept, False, flow.usage, flow.cost) if state != "pending" else {}  # type: ignore[arg-type]
    held = [replace(c, cost=actual.get(c.spec.name, c.cost), spec=replace(c.spec, enforce=False)) for _, _, c in kept]
    answer = yield Reserve(bid, held)  # a repeated id (the POST's hold, an earlier read) charges nothing
    if not isinstance(answer, StoreFailed) and actual:
        answer = yield Reconcile(bid, actual)
    if isinstance(answer, StoreFailed):
        yield from _settle_plainly(flow, attempt)
        return
    held_by = ([(flow.rid, own)] if flow.reserved else []) + ([(attempt[0], served)] if attempt else [])
    for rid, charges in held_by:  # each reservation settled, its rate limits kept as they were
        answer = yield Reconcile(rid, {c.spec.name: 0.0 for _, _, c in charges})
        if isinstance(answer, StoreFailed):
            _store_error(flow, answer.message)
            return
    for _, _, c in kept:
        entry = flow.limit_entries.get(c.spec.name)
        if entry is not None:
            entry.reserved, entry.settled = entry.cost, "background"
            entry.note = (f"background response `{response_id}`: " + (
                f"~{_fmt(c.cost)} held under `{bid}` until its usage is read" if state == "pending" else
                f"its usage, {_fmt(actual.get(c.spec.name, 0.0))}, charged once under `{bid}`" + (
                    " (its stream cut: the estimate; a later read charges nothing)" if state == "cut" else "")))


def _settle_plainly(flow: Flow, attempt: tuple[str, list[tuple[CompiledRule, CompiledAction, Charge]]] | None) -> Steps:
    """The request's reservation (when it holds one) and the serving attempt's settled as any
    answer's are."""
    if flow.reserved:
        yield from settle(flow, flow.response, flow.usage, flow.cost)  # type: ignore[arg-type]
    if attempt is not None:
        yield from settle_charges(flow, attempt[0], attempt[1], flow.response, flow.usage, flow.cost)  # type: ignore[arg-type]


REPORTED = LimitSpec("aigw:background-usage-reported", "requests", "sliding_window", 1, 86_400)
"""A claim per background response (its bucket: :func:`charge_id`): the first answer that
carries its usage takes it and reports that usage (decision, ledger, metrics); a later one
within a day finds it taken."""


def report_once(flow: Flow, response_id: str) -> Steps:
    """The usage of a finished background response is reported once: by the first answer that
    carries it, whichever request and process meet it (the store takes one claim of capacity
    1 under a request id of this request's own, all or nothing, and keeps it a day). A later
    answer reports no tokens and no cost, with a note: its limits charged nothing either
    (:func:`settle_background`). A store that fails leaves the usage reported (a record twice
    rather than none)."""
    rid = f"{charge_id(response_id)}|{flow.rid}"
    answer = yield Reserve(rid, [new_charge(REPORTED, charge_id(response_id), 1.0, shard_of(flow))])
    if isinstance(answer, StoreFailed):
        flow.notes.append(f"background response `{response_id}`: could not tell whether an earlier answer "
                          f"reported its usage ({answer.message}): reported here")
        return
    if answer[0].outcome != "limited":
        yield Reconcile(rid, {})  # kept: settled at the claim
        return
    flow.usage = Usage.of(0, 0, source="none", notes=(
        f"background response `{response_id}`: its usage was reported with the first answer that carried it",))
    flow.cost = Cost.not_billed()


def _actual(flow: Flow, charges: list[tuple[CompiledRule, CompiledAction, Charge]], failed: bool, usage: Usage,
            cost: Any) -> dict[str, float]:
    """What each limit of ``charges`` is settled to for ``usage`` (by limit name; a limit
    left out keeps its reservation)."""
    actual: dict[str, float] = {}
    for rule, action, charge in charges:
        plan = action.limit
        spec = plan.spec  # type: ignore[union-attr]
        if plan.kind == "rate-limit":  # type: ignore[union-attr]
            continue
        value: float | None = None
        if failed:  # charge_input: the input only
            if spec.unit == "tokens":
                value = float(usage.input_tokens)
            elif spec.unit == "usd":
                value = float(cost.input_usd) if cost.input_usd is not None else None
            else:
                continue
        elif plan.cost is not None:  # type: ignore[union-attr]
            v = run(plan.cost.fn, flow.act, EXPRESSION)  # type: ignore[union-attr]
            if type(v) is Failure:
                flow.errors.append({"code": v.code, "phase": RES, "rule": rule.label,
                                    "source": plan.cost.source, "span": span_dict(plan.cost.span),  # type: ignore[union-attr]
                                    "message": v.message, "field": "cost", "on_error": "keep the reservation"})
                value = None
            else:
                value = float(v) if type(v) is not bool and isinstance(v, (int, float)) and v >= 0 else None
        elif spec.unit == "tokens":
            value = float(usage.total_tokens)
        elif spec.unit == "usd":
            value = cost.as_float()
            if value is None:
                flow.limit_entries[spec.name].settled_note = "actual price unknown: the reservation stands"
        else:
            continue
        if value is not None:
            actual[spec.name] = value
    return actual


def _over_at_settle(flow: Flow, rule: CompiledRule, action: CompiledAction, out: Outcome) -> None:
    """An unenforced limit found over only when its reservation is settled (the answer used
    more than the estimate): recorded as ``would_deny``, after whatever the request phase
    recorded (it met that first)."""
    if out.outcome != "limited" or action.limit.spec.enforce or flow.would_deny is not None:  # type: ignore[union-attr]
        return
    flow.shadow_deny(429, f"limit {out.name}: {_fmt(out.used)} of {_fmt(out.limit)} {out.unit} used once this "
                     f"request's answer was counted ({_fmt(out.cost)}): over, not enforced", rule)
