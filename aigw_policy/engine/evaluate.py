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

import fnmatch
import ipaddress
import math
import re
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from ..cel import CelError
from ..limits.model import Charge, Outcome
from ..providers import AiRequest, PriceBook, Usage, extract_usage
from .compile import DEFAULT_MAX_OUTPUT_TOKENS, CompiledAction, CompiledPolicy, CompiledRule, Template, text_of
from .trace import expr_record, jsonable, span_dict

__all__ = [
    "Check", "Flow", "Need", "Release", "Reconcile", "Reserve", "Stop", "StoreFailed",
    "request_steps", "response_steps",
]

REQ = "on_http_request"
RES = "on_http_response"


# ---------------------------------------------------------------------------------------------
# what the core asks of a store, and what it gets back


class Need:
    __slots__ = ()


@dataclass(slots=True)
class Check(Need):
    charges: list[Charge]


@dataclass(slots=True)
class Reserve(Need):
    request_id: str
    charges: list[Charge]


@dataclass(slots=True)
class Reconcile(Need):
    request_id: str
    actual: dict[str, float]


@dataclass(slots=True)
class Release(Need):
    request_id: str


@dataclass(slots=True)
class StoreFailed:
    """Sent back instead of outcomes when the store could not answer."""

    message: str


Steps = Generator[Need, Any, None]


# ---------------------------------------------------------------------------------------------
# the state of one request


@dataclass(slots=True)
class Stop:
    """How a phase ended: who answered, with what."""

    verdict: str  # allow | deny
    status: int | None
    reason: str
    kind: str  # deny | custom-response | allow | limit | error | store | model-access | ...
    rule: CompiledRule | None = None
    action: CompiledAction | None = None
    phase: str = REQ
    headers: dict[str, str] | None = None
    body: Any = None
    span: Any = None  # where to point: the failing expression, else the action or rule


class Flow:
    """Everything one request's evaluation reads and writes. Not shared between threads."""

    __slots__ = (
        "cp", "rid", "now", "now_dt", "act", "ai", "identity", "trace", "prices",
        "limit_entries", "charges", "effects", "errors", "stop", "response_stop", "notes",
        "usage", "cost", "reserved", "released", "store_error", "response", "upstream",
        "lowered_output", "model", "provider", "deferred", "prompt_chars",
    )

    def __init__(self, cp: CompiledPolicy, rid: str, now: float, act: dict[str, Any], ai: AiRequest,
                 identity: Any, prices: PriceBook, trace: bool) -> None:
        self.cp = cp
        self.rid = rid
        self.now = now
        self.now_dt: datetime | None = None
        self.act = act
        self.ai = ai
        self.identity = identity
        self.trace: list[dict[str, Any]] | None = [] if trace else None
        self.prices = prices
        self.limit_entries: dict[str, dict[str, Any]] = {}
        self.charges: list[tuple[CompiledRule, CompiledAction, Charge]] = []
        self.effects: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.stop: Stop | None = None
        self.response_stop: Stop | None = None
        self.notes: list[str] = []
        self.usage: Usage | None = None
        self.cost: Any = None
        self.reserved = False
        self.released = False
        self.store_error: dict[str, Any] | None = None
        self.response: dict[str, Any] | None = None
        self.upstream = False
        self.lowered_output: int | None = None
        self.model = ai.model
        self.provider = ai.provider
        self.deferred = False  # charges whose outcome is not known yet (checked at the end)
        self.prompt_chars: int | None = None  # set when a parked request dropped its prompt

    def time(self) -> datetime:
        if self.now_dt is None:
            self.now_dt = datetime.fromtimestamp(self.now, tz=timezone.utc)
        return self.now_dt


class _Skip(Exception):
    """A CEL error in an action under ``on_error: skip``: the rest of the rule is skipped."""


# ---------------------------------------------------------------------------------------------
# phases


def request_steps(flow: Flow) -> Steps:
    """Run the request phase and reserve the gathered charges (all or nothing)."""
    yield from _phase(flow, REQ)
    stop = flow.stop
    if not flow.charges:
        return
    if stop is None or stop.verdict == "allow":
        yield from _reserve(flow)
    elif flow.deferred:
        yield from _check_deferred(flow)


def response_steps(flow: Flow, response: dict[str, Any] | None) -> Steps:
    """Settle the limits against the response, then run the response phase.

    ``response`` is the upstream's ``{status_code, headers, body | sse}``; ``None`` when the
    gateway answered itself (the request was denied): the response phase then sees the
    gateway's own answer.
    """
    act = flow.act
    stop = flow.stop
    if stop is not None and stop.verdict == "deny":
        status = stop.status or 403
        headers = dict(stop.headers or {})
        flow.response = {"status_code": status, "headers": headers, "body": stop.body}
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
        udict = usage.to_dict()
        act["ai.usage"] = udict
        for k, v in udict.items():
            act["ai.usage." + k] = v
        if cost.usd is not None:
            act["ai.cost_usd"] = float(cost.usd)
        elif cost.reason:
            flow.notes.append(f"cost unknown: {cost.reason}")
        if flow.reserved:
            yield from _settle(flow, resp, usage, cost)
    resp = flow.response
    act["res.status_code"] = resp.get("status_code", 200)
    headers = _lower_headers(resp.get("headers") or {})
    act["res.headers"] = headers
    ctype = headers.get("content-type")
    if ctype:
        act["res.content_type"] = ctype[0].split(";", 1)[0].strip()
        act["res.content_type.raw"] = ctype[0]
    if flow.cp.response_rules:
        yield from _phase(flow, RES)


def _lower_headers(headers: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in headers.items():
        out.setdefault(str(k).lower(), []).extend(v if isinstance(v, list) else [str(v)])
    return out


def _phase(flow: Flow, phase: str) -> Steps:
    cp = flow.cp
    rules = cp.rules(phase)
    index = cp.request_index if phase == REQ else cp.response_index
    act = flow.act
    trace = flow.trace
    order = index.candidates(act, 0) if index is not None and trace is None else None
    seq: Any = order if order is not None else rules
    k = 0
    n = len(seq)
    while k < n:
        rule = seq[k]
        k += 1
        if order is not None:
            rule = rules[rule]
        rec: dict[str, Any] | None = None
        if trace is not None:
            rec = {"phase": phase, "rule": rule.label, "line": rule.span.line if rule.span else None,
                   "matched": False, "expressions": [], "actions": []}
            trace.append(rec)
        # --- conditions: all must be true; a false one wins over an error (CEL's && rule)
        error: tuple[Any, str] | None = None
        matched = True
        for e in rule.exprs:
            try:
                value = e.fn(act)
            except CelError as exc:
                msg = exc.message
                value = _ERR
            except RecursionError:
                msg = "expression too deep to evaluate"
                value = _ERR
            if value is True:
                if rec is not None:
                    rec["expressions"].append(expr_record(e.source, e.span, True))
                continue
            if value is False:
                if rec is not None:
                    rec["expressions"].append(expr_record(e.source, e.span, False))
                matched = False
                break
            if value is not _ERR:
                msg = f"condition is {_cel_type(value)}, not bool"
            if rec is not None:
                rec["expressions"].append(expr_record(e.source, e.span, error=msg))
            if error is None:
                error = (e, msg)
        if not matched:
            continue
        if error is not None:
            expr, msg = error
            if rec is not None:
                rec["matched"] = "error"
            stop = _rule_error(flow, rule, phase, expr.source, expr.span, msg, None)
            if stop is not None and (phase == REQ or flow.upstream):
                _finish(flow, phase, stop)
                return
            continue
        if rec is not None:
            rec["matched"] = True
        # --- actions, in order
        reindex = False
        for action in rule.actions:
            arec: dict[str, Any] | None = None
            if rec is not None:
                arec = {"type": action.type, "outcome": "ran"}
                rec["actions"].append(arec)
            try:
                if action.limit is not None:
                    if phase != REQ:
                        if arec is not None:
                            arec["outcome"] = "skipped: limits run in the request phase"
                        continue
                    stop = yield from _limit(flow, rule, action, arec)
                else:
                    stop = _HANDLERS[action.type](flow, rule, action, phase, arec)
                    if action.type == "set-model":
                        reindex = True
            except _Skip:
                break
            if stop is not None:
                if stop.kind == "error" and phase == RES and not flow.upstream:
                    break  # the gateway's own answer stands; the error is recorded
                stop.rule = rule
                stop.action = action
                stop.phase = phase
                _finish(flow, phase, stop)
                return
        if reindex and order is not None:
            seq = index.candidates(act, rule.position + 1)
            k = 0
            n = len(seq)


_ERR = object()


def _finish(flow: Flow, phase: str, stop: Stop) -> None:
    if phase == REQ:
        flow.stop = stop
    else:
        flow.response_stop = stop


def _cel_type(value: Any) -> str:
    t = type(value)
    return {int: "int", float: "double", str: "string", list: "list", dict: "map", bytes: "bytes",
            type(None): "null"}.get(t, t.__name__.lower())


def _rule_error(flow: Flow, rule: CompiledRule, phase: str, source: str, span: Any, message: str,
                field: str | None) -> Stop | None:
    """Record a CEL error; ``on_error: deny`` ends the request with 500, ``skip`` goes on."""
    entry = {"phase": phase, "rule": rule.label, "source": source, "span": span_dict(span),
             "message": message, "on_error": rule.on_error}
    if field is not None:
        entry["field"] = field
    flow.errors.append(entry)
    if rule.on_error == "skip":
        return None
    where = f" at line {span.line}" if span is not None else ""
    reason = f"rule `{rule.label}` failed: {message} in `{source}`{where} (on_error: deny)"
    return Stop("deny", 500, reason, "error", rule, None, phase, body=reason, span=span)


def _render(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, tpl: Template, field: str) -> Any:
    try:
        return tpl.render(flow.act)
    except (CelError, RecursionError) as exc:
        msg = exc.message if isinstance(exc, CelError) else "expression too deep to evaluate"
        source = tpl.text
        span = action.ir.span_of(field) if action.ir is not None else action.span
        stop = _rule_error(flow, rule, phase, source, span, msg, field)
        if stop is None:
            raise _Skip() from None
        raise _ErrorStop(stop) from None


class _ErrorStop(Exception):
    def __init__(self, stop: Stop) -> None:
        self.stop = stop


# RFC 9110 §5.5: a field value is visible characters, spaces and tabs (and obs-text, bytes
# 0x80-0xFF: Latin-1 here); CR, LF or NUL in one would split or end the header block
_BAD_HEADER_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


def _header_value(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, tpl: Template,
                  field: str) -> str:
    """A rendered header value, surrounding whitespace trimmed; one that no header can carry
    is an error of the rule (``on_error``), never sent."""
    value = text_of(_render(flow, rule, action, phase, tpl, field)).strip(" \t")
    bad = _BAD_HEADER_CHAR.search(value)
    if bad is None:
        return value
    name = field.split(".", 1)[1] if "." in field else field
    message = (f"the value of header `{name}` has the character U+{ord(bad.group()):04X}, "
               "which a header cannot carry (CR, LF, NUL and other controls are refused)")
    span = action.ir.span_of(field) if action.ir is not None else action.span
    stop = _rule_error(flow, rule, phase, tpl.text, span, message, field)
    if stop is None:
        raise _Skip()
    raise _ErrorStop(stop)


# ---------------------------------------------------------------------------------------------
# plain actions


def _deny(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop:
    cfg = action.config
    status = cfg.status_code or 403
    tpl = action.templates.get("message")
    message = text_of(_render(flow, rule, action, phase, tpl, "message")) if tpl is not None else None
    reason = message or f"denied by rule `{rule.label}`"
    if arec is not None:
        arec["outcome"] = f"denied {status}"
    return Stop("deny", status, reason, "deny", body=message)


def _custom_response(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop:
    cfg = action.config
    status = cfg.status_code or 200
    tpl = action.templates.get("body")
    body = text_of(_render(flow, rule, action, phase, tpl, "body")) if tpl is not None else ""
    headers = {k: _header_value(flow, rule, action, phase, t, f"headers.{k}")
               for k, t in action.templates.get("headers", {}).items()}
    if arec is not None:
        arec["outcome"] = f"responded {status}"
    return Stop("deny", status, f"answered by the gateway with {status} (rule `{rule.label}`)",
                "custom-response", headers=headers, body=body)


def _allow(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop:
    if arec is not None:
        arec["outcome"] = "allowed"
    return Stop("allow", None, f"allowed by rule `{rule.label}`", "allow")


def _headers_target(flow: Flow, phase: str) -> dict[str, Any]:
    name = "request_headers" if phase == REQ else "response_headers"
    target = flow.effects.get(name)
    if target is None:
        target = flow.effects[name] = {"add": {}, "remove": []}
    return target


def _add_headers(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> None:
    target = _headers_target(flow, phase)
    for k, t in action.templates["headers"].items():
        target["add"][k.lower()] = _header_value(flow, rule, action, phase, t, f"headers.{k}")
    if arec is not None:
        arec["outcome"] = "added " + ", ".join(action.templates["headers"])


def _remove_headers(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> None:
    target = _headers_target(flow, phase)
    for name in action.config.headers:
        low = name.lower()
        if low not in target["remove"]:
            target["remove"].append(low)
        target["add"].pop(low, None)
    if arec is not None:
        arec["outcome"] = "removed " + ", ".join(action.config.headers)


def _set_vars(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> None:
    vars_ = flow.act["vars"]
    for k, v in action.templates["vars"].items():
        vars_[k] = _render_value(flow, rule, action, phase, v, f"vars.{k}")
    if arec is not None:
        arec["outcome"] = "set " + ", ".join(action.templates["vars"])


def _render_value(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, v: Any, field: str) -> Any:
    if isinstance(v, Template):
        return _render(flow, rule, action, phase, v, field)
    if isinstance(v, list):
        return [_render_value(flow, rule, action, phase, x, field) for x in v]
    if isinstance(v, dict):
        return {k: _render_value(flow, rule, action, phase, x, field) for k, x in v.items()}
    return v


def _log(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> None:
    metadata = {k: jsonable(_render_value(flow, rule, action, phase, t, f"metadata.{k}"))
                for k, t in action.templates.get("metadata", {}).items()}
    flow.effects.setdefault("logs", []).append({"phase": phase, "rule": rule.label, "metadata": metadata})
    if arec is not None:
        arec["outcome"] = "logged"


def _set_model(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> None:
    if phase != REQ:
        if arec is not None:
            arec["outcome"] = "skipped: set-model runs in the request phase"
        return
    model = text_of(_render(flow, rule, action, phase, action.templates["model"], "model"))
    act = flow.act
    before = flow.model
    flow.model = model
    act["ai.model"] = model
    change: dict[str, Any] = {"from": before, "to": model, "rule": rule.label}
    provider = action.config.provider
    if provider:
        change["provider"] = {"from": flow.provider, "to": provider}
        flow.provider = provider
        act["ai.provider"] = provider
    flow.effects["model"] = change
    if arec is not None:
        arec["outcome"] = f"model {before} -> {model}"


def _model_access(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop | None:
    if phase != REQ:
        return None
    cfg = action.config
    model = flow.model or ""
    full = f"{flow.provider}/{model}"
    denied_by = next((p for p in cfg.deny or () if fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(model, p)), None)
    reason = None
    if denied_by is not None:
        reason = f"model `{full}` is denied by `{denied_by}` (rule `{rule.label}`)"
    elif cfg.allow is not None and not any(
        fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(model, p) for p in cfg.allow
    ):
        reason = f"model `{full}` is not among the models rule `{rule.label}` allows"
    if reason is None:
        if arec is not None:
            arec["outcome"] = f"model {full} allowed"
        return None
    status = cfg.status_code or 403
    if arec is not None:
        arec["outcome"] = f"denied {status}: {reason}"
    return Stop("deny", status, reason, "model-access", body=reason)


def _max_tokens(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop | None:
    if phase != REQ:
        return None
    cfg = action.config
    act = flow.act
    mode = cfg.mode or "reject"
    inp = act.get("ai.input_tokens", 0)
    if cfg.input is not None and inp > cfg.input:
        reason = f"the request has ~{inp:,} input tokens, more than the {cfg.input:,} rule `{rule.label}` allows"
        if arec is not None:
            arec["outcome"] = f"rejected 413: {reason}"
        return Stop("deny", 413, reason, "max-tokens", body=reason)
    if cfg.output is not None:
        out = act.get("ai.max_output_tokens") or 0
        if mode == "clamp":
            if out == 0 or out > cfg.output:
                flow.effects["max_output_tokens"] = {"from": out or None, "to": cfg.output, "rule": rule.label}
                act["ai.max_output_tokens"] = cfg.output
                flow.lowered_output = cfg.output
                if arec is not None:
                    arec["outcome"] = f"clamped max output {out or 'unset'} -> {cfg.output}"
                return None
        elif out > cfg.output:
            reason = f"the request asks for {out:,} output tokens, more than the {cfg.output:,} rule `{rule.label}` allows"
            if arec is not None:
                arec["outcome"] = f"rejected 413: {reason}"
            return Stop("deny", 413, reason, "max-tokens", body=reason)
    if arec is not None:
        arec["outcome"] = "within bounds"
    return None


def _restrict_ips(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop | None:
    cfg = action.config
    enforce = cfg.enforce if cfg.enforce is not None else True
    raw = flow.act.get("conn.client_ip")
    result: dict[str, Any] = {"action": "allow", "matched_cidr": ""}
    reason = None
    ip = _parse_ip(raw) if isinstance(raw, str) else None
    if ip is None:
        if cfg.allow is not None:
            reason = f"client IP `{raw}` is not a valid address (rule `{rule.label}`)"
    else:
        version, n = ip
        nets = _networks(action)
        hit = next((r[3] for r in nets["deny"] if r[0] == version and r[1] <= n <= r[2]), None)
        if hit is not None:
            result["matched_cidr"] = hit
            reason = f"client IP `{raw}` is denied by `{hit}` (rule `{rule.label}`)"
        elif nets["allow"] is not None:
            hit = next((r[3] for r in nets["allow"] if r[0] == version and r[1] <= n <= r[2]), None)
            if hit is None:
                reason = f"client IP `{raw}` is not in the allowed ranges of rule `{rule.label}`"
            else:
                result["matched_cidr"] = hit
    if reason is not None:
        result["action"] = "deny"
    flow.act["actions"].setdefault("ngrok", {})["restrict_ips"] = result
    if reason is None or not enforce:
        if arec is not None:
            arec["outcome"] = "allowed" if reason is None else f"would deny (enforce: false): {reason}"
        return None
    if arec is not None:
        arec["outcome"] = f"denied 403: {reason}"
    return Stop("deny", 403, reason, "restrict-ips", body=reason)


@lru_cache(maxsize=8192)
def _parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address; None if it is not one. Pure, so caching is safe."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return ip.version, int(ip)


def _networks(action: CompiledAction) -> dict[str, Any]:
    return action.templates["networks"]  # parsed once, at compile time


_HANDLERS = {
    "deny": _deny,
    "custom-response": _custom_response,
    "allow": _allow,
    "add-headers": _add_headers,
    "remove-headers": _remove_headers,
    "set-vars": _set_vars,
    "log": _log,
    "set-model": _set_model,
    "model-access": _model_access,
    "max-tokens": _max_tokens,
    "restrict-ips": _restrict_ips,
}


def _wrap(handler: Any) -> Any:
    def run(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, arec: Any) -> Stop | None:
        try:
            return handler(flow, rule, action, phase, arec)
        except _ErrorStop as e:
            if arec is not None:
                arec["outcome"] = "error"
            return e.stop
        except _Skip:
            if arec is not None:
                arec["outcome"] = "error: rule skipped (on_error: skip)"
            raise

    return run


_HANDLERS = {k: _wrap(v) for k, v in _HANDLERS.items()}


# ---------------------------------------------------------------------------------------------
# limits


def _estimate_usage(flow: Flow) -> Usage:
    act = flow.act
    out = act.get("ai.max_output_tokens") or 0
    if not out:
        out = 0 if flow.ai.operation == "embeddings" else DEFAULT_MAX_OUTPUT_TOKENS
    # n / best_of / candidateCount outputs, each up to the cap and each billed
    return Usage.of(act.get("ai.input_tokens", 0), out * flow.ai.choices, source="estimate", model=flow.model)


def _cost_activation(flow: Flow, usage: Usage, usd: float | None) -> dict[str, Any]:
    act = dict(flow.act)
    u = usage.to_dict()
    act["ai.usage"] = u
    for k, v in u.items():
        act["ai.usage." + k] = v
    if usd is not None:
        act["ai.cost_usd"] = usd
    return act


def _limit(flow: Flow, rule: CompiledRule, action: CompiledAction, arec: Any) -> Generator[Need, Any, Stop | None]:
    plan = action.limit
    assert plan is not None
    spec = plan.spec
    act = flow.act
    # bucket key
    parts = []
    for i, e in enumerate(plan.bucket):
        try:
            parts.append(text_of(e.fn(act)))
        except (CelError, RecursionError) as exc:
            msg = exc.message if isinstance(exc, CelError) else "expression too deep"
            if arec is not None:
                arec["outcome"] = f"error in bucket_key: {msg}"
            stop = _rule_error(flow, rule, REQ, e.source, e.span, msg, f"bucket_key.{i}")
            if stop is None:
                raise _Skip() from None
            return stop
    key = "|".join(parts)
    # cost (the estimate, at request time)
    unit = spec.unit
    note = None
    usd: float | None = None
    if plan.kind == "rate-limit" or (unit == "requests" and plan.cost is None):
        cost: float = 1.0
    else:
        usage = _estimate_usage(flow)
        if unit == "usd":
            price = flow.prices.cost(flow.provider, flow.model, usage, at=flow.time())
            usd = price.as_float()
            if usd is None:
                reason = (f"usage-cap `{spec.name}` counts usd and the price of `{flow.model or '?'}` is unknown "
                          f"({price.reason}); on_unknown_price: {plan.on_unknown_price}")
                entry = _entry(rule, plan, key, None, None)
                entry["note"] = reason
                flow.limit_entries[spec.name] = entry
                if plan.on_unknown_price == "deny" and spec.enforce:
                    if arec is not None:
                        arec["outcome"] = "denied 403: unknown price"
                    entry["outcome"] = "limited"
                    return Stop("deny", 403, reason, "unknown-price", body=reason)
                flow.notes.append(reason)
                if arec is not None:
                    arec["outcome"] = "not charged: unknown price"
                return None
        if plan.cost is not None:
            try:
                value = plan.cost.fn(_cost_activation(flow, usage, usd))
            except (CelError, RecursionError) as exc:
                msg = exc.message if isinstance(exc, CelError) else "expression too deep"
                if arec is not None:
                    arec["outcome"] = f"error in cost: {msg}"
                stop = _rule_error(flow, rule, REQ, plan.cost.source, plan.cost.span, msg, "cost")
                if stop is None:
                    raise _Skip() from None
                return stop
            if type(value) is bool or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                msg = f"cost must be a non-negative number, not {jsonable(value)!r}"
                stop = _rule_error(flow, rule, REQ, plan.cost.source, plan.cost.span, msg, "cost")
                if stop is None:
                    raise _Skip() from None
                return stop
            cost = float(value)
        elif unit == "usd":
            cost = usd or 0.0
        else:
            cost = float(usage.total_tokens)
            note = "estimate: input + requested max output" + (
                "" if act.get("ai.max_output_tokens") else f" (none requested: {DEFAULT_MAX_OUTPUT_TOKENS:,} assumed)"
                if flow.ai.operation != "embeddings" else "")
    charge = Charge(spec, key, cost)
    if not action.eager:
        # no later request-phase rule reads limits[...]: the outcome comes with the reserve
        entry = _entry(rule, plan, key, cost, None)
        entry["outcome"] = "pending"
        if note:
            entry["note"] = note
        flow.limit_entries[spec.name] = entry
        flow.charges.append((rule, action, charge))
        flow.deferred = True
        if arec is not None:
            arec["outcome"] = f"charge ~{_fmt(cost)} {unit} to bucket `{key}` (checked with the reserve)"
        return None
    answer = yield Check([charge])
    if isinstance(answer, StoreFailed):
        return _store_failed(flow, rule, plan, key, cost, answer, arec)
    out: Outcome = answer[0]
    entry = _entry(rule, plan, key, cost, out)
    if note:
        entry["note"] = note
    flow.limit_entries[spec.name] = entry
    _publish(flow, plan, out)
    flow.charges.append((rule, action, charge))
    if out.outcome == "limited":
        reason = _limited_reason(out)
        if not spec.enforce:
            if arec is not None:
                arec["outcome"] = f"over the limit, not enforced: {reason}"
            return None
        if arec is not None:
            arec["outcome"] = f"limited 429: {reason}"
        return _limit_stop(out, reason)
    if arec is not None:
        arec["outcome"] = f"{out.outcome}: {_fmt(out.used)} of {_fmt(out.limit)} {out.unit} with this request"
    return None


def _limit_stop(out: Outcome, reason: str) -> Stop:
    retry = out.retry_after if out.retry_after is not None else out.reset_after
    seconds = max(1, math.ceil(retry or 0))
    return Stop("deny", 429, reason, "limit", headers={"retry-after": str(seconds)}, body=reason)


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


def _entry(rule: CompiledRule, plan: Any, key: str, cost: float | None, out: Outcome | None) -> dict[str, Any]:
    spec = plan.spec
    e: dict[str, Any] = {"name": spec.name, "rule": rule.label, "type": plan.kind, "key": key, "unit": spec.unit,
                         "cost": cost, "used": None, "limit": spec.capacity, "remaining": None,
                         "reset_after": None, "outcome": "ok", "enforce": spec.enforce}
    if out is not None:
        _apply(e, out)
    return e


def _apply(e: dict[str, Any], out: Outcome) -> None:
    e["cost"] = out.cost
    # a store's `used` includes this request's cost when it was (or would be) admitted
    e["_incl"] = out.outcome != "limited"
    e["used"] = out.used
    e["limit"] = out.limit
    e["remaining"] = out.remaining
    e["reset_after"] = out.reset_after
    e["outcome"] = out.outcome
    if out.retry_after is not None:
        e["retry_after"] = out.retry_after


def _publish(flow: Flow, plan: Any, out: Outcome) -> None:
    """``limits[name]`` and ``actions.ngrok.rate_limit`` for later rules."""
    limited = out.outcome == "limited"
    view = {"limited": limited, "used": out.used, "limit": out.limit, "remaining": out.remaining,
            "reset_after": out.reset_after, "outcome": out.outcome, "key": out.key}
    flow.act["limits"][out.name] = view
    result = {"limited": limited, "bucket_key": out.key, "name": out.name}
    actions = flow.act["actions"]
    if plan.kind == "rate-limit":
        actions.setdefault("ngrok", {})["rate_limit"] = result
    else:
        actions.setdefault("aigw", {})[plan.kind.replace("-", "_")] = result


def _store_failed(flow: Flow, rule: CompiledRule, plan: Any, key: str, cost: float, failed: StoreFailed,
                  arec: Any) -> Stop | None:
    mode = flow.cp.store_failure
    flow.store_error = {"message": failed.message, "mode": mode}
    entry = _entry(rule, plan, key, cost, None)
    entry["outcome"] = "unavailable"
    flow.limit_entries[plan.spec.name] = entry
    if mode == "fail_open":
        if arec is not None:
            arec["outcome"] = "store unavailable: not counted (store_failure: fail_open)"
        return None
    reason = f"limit store unavailable: {failed.message} (store_failure: fail_closed)"
    if arec is not None:
        arec["outcome"] = "denied 503: store unavailable"
    return Stop("deny", 503, reason, "store", body=reason)


def _check_deferred(flow: Flow) -> Steps:
    """The request was denied: nothing is charged, but an earlier limit that is over decides
    (it would have ended the request first)."""
    charges = [c for _, _, c in flow.charges]
    answer = yield Check(charges)
    if isinstance(answer, StoreFailed):
        return
    for i, out in enumerate(answer):
        entry = flow.limit_entries.get(out.name)
        if entry is not None:
            _apply(entry, out)
    for i, out in enumerate(answer):
        rule, action, charge = flow.charges[i]
        if out.outcome == "limited" and charge.spec.enforce and not action.eager:
            stop = flow.stop
            if stop is not None and stop.rule is not None and stop.rule.position < rule.position:
                break
            reason = _limited_reason(out)
            flow.stop = Stop("deny", 429, reason, "limit", rule, action, REQ,
                             headers=_limit_stop(out, "").headers, body=reason)
            break


def _reserve(flow: Flow) -> Steps:
    charges = [c for _, _, c in flow.charges]
    answer = yield Reserve(flow.rid, charges)
    if isinstance(answer, StoreFailed):
        mode = flow.cp.store_failure
        flow.store_error = {"message": answer.message, "mode": mode}
        for _, action, _c in flow.charges:
            flow.limit_entries[action.limit.spec.name]["outcome"] = "unavailable"  # type: ignore[union-attr]
        if mode == "fail_closed":
            rule, action, _c = flow.charges[0]
            flow.stop = Stop("deny", 503, f"limit store unavailable: {answer.message} (store_failure: fail_closed)",
                             "store", rule, action, REQ)
        return
    first: tuple[Outcome, int] | None = None
    admitted = not any(o.outcome == "limited" and flow.charges[i][2].spec.enforce for i, o in enumerate(answer))
    for i, out in enumerate(answer):
        entry = flow.limit_entries.get(out.name)
        if entry is not None:
            _apply(entry, out)
            if not admitted:
                entry["_incl"] = False
        plan = flow.charges[i][1].limit
        _publish(flow, plan, out)
        if out.outcome == "limited" and flow.charges[i][2].spec.enforce:
            if first is None:
                first = (out, i)
    if first is not None:
        out, i = first
        rule, action, _c = flow.charges[i]
        flow.stop = Stop("deny", 429, _limited_reason(out), "limit", rule, action, REQ,
                         headers=_limit_stop(out, "").headers, body=_limited_reason(out))
        return
    flow.reserved = True


def _settle(flow: Flow, resp: dict[str, Any], usage: Usage, cost: Any) -> Steps:
    status = resp.get("status_code") or 200
    failed = status >= 400
    if failed and flow.cp.upstream_error == "release":
        answer = yield Release(flow.rid)
        if isinstance(answer, StoreFailed):
            flow.store_error = {"message": answer.message, "mode": flow.cp.store_failure}
            return
        flow.released = True
        for entry in flow.limit_entries.values():
            entry["settled"] = "released (upstream error)"
        return
    actual: dict[str, float] = {}
    for rule, action, charge in flow.charges:
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
            try:
                v = plan.cost.fn(flow.act)  # type: ignore[union-attr]
                value = float(v) if type(v) is not bool and isinstance(v, (int, float)) and v >= 0 else None
            except (CelError, RecursionError) as exc:
                msg = exc.message if isinstance(exc, CelError) else "expression too deep"
                flow.errors.append({"phase": RES, "rule": rule.label, "source": plan.cost.source,  # type: ignore[union-attr]
                                    "span": span_dict(plan.cost.span), "message": msg, "field": "cost",  # type: ignore[union-attr]
                                    "on_error": "keep the reservation"})
                value = None
        elif spec.unit == "tokens":
            value = float(usage.total_tokens)
        elif spec.unit == "usd":
            value = cost.as_float()
            if value is None:
                flow.limit_entries[spec.name]["settled_note"] = "actual price unknown: the reservation stands"
        else:
            continue
        if value is not None:
            actual[spec.name] = value
    answer = yield Reconcile(flow.rid, actual)
    if isinstance(answer, StoreFailed):
        flow.store_error = {"message": answer.message, "mode": flow.cp.store_failure}
        return
    for out in answer:
        entry = flow.limit_entries.get(out.name)
        if entry is not None:
            reserved = entry["cost"]
            entry["reserved"] = reserved
            _apply(entry, out)
            entry["settled"] = "reconciled"
            entry["note"] = f"reserved ~{_fmt(reserved)} at request time, reconciled to {_fmt(out.cost)}"
        plan = flow.cp.limits.get(out.name)
        if plan is not None:
            _publish(flow, plan[1].limit, out)
