"""The plain actions (every action but the limits): each a handler ``(flow, rule, action,
phase) -> Stop | None`` that reports what it did to ``flow.rec``."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from ..cel import CelError
from ..cel.runtime.network import unmapped
from ..providers.classify import COMPLETION_TOKENS, AiRequest
from .action_helpers import BAD_HEADER_CHAR, _header_value, _publish, _render, inferred_content_type
from .charging import NO_ERROR
from .compile import CAPPED_OPERATIONS, CompiledAction, CompiledRule, network_range
from .flow import REQ, Flow, Stop
from .http_actions import HTTP_HANDLERS
from .model_names import MAX_NAME, allow_matcher, canonical, deny_matcher, fold
from .rule_error import BAD_VALUE, ErrorStop, Failure, Skip, action_error
from .templates import Template, text_of
from .trace import jsonable

__all__ = ["HANDLERS", "run_action"]


# ---------------------------------------------------------------------------------------------
# plain actions


def _deny(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop:
    cfg = action.config
    status = cfg.status_code or 403
    tpl = action.templates.get("message")
    message = None
    if tpl is not None:
        message = _render(flow, rule, action, phase, tpl, "message")
        if type(message) is not str:  # (a `${...}` of another type: null reads "null")
            message = text_of(message)
    reason = message or f"denied by rule `{rule.label}`"
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome(f"denied {status}")
    return Stop("deny", status, reason, "deny", body=message)


def _custom_response(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop:
    cfg = action.config
    status = cfg.status_code or 200
    tpl = action.templates.get("body")
    body = text_of(_render(flow, rule, action, phase, tpl, "body")) if tpl is not None else ""
    headers = {k: _header_value(flow, rule, action, phase, t, f"headers.{k}")
               for k, t in action.templates.get("headers", {}).items()}
    if not any(k.lower() == "content-type" for k in headers):  # ngrok infers it from the body
        headers["content-type"] = inferred_content_type(body)
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome(f"responded {status}")
    return Stop("deny", status, f"answered by the gateway with {status} (rule `{rule.label}`)",
                "custom-response", headers=headers, body=body)


def _allow(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop:
    flow.rec.outcome("allowed")
    return Stop("allow", None, f"allowed by rule `{rule.label}`", "allow")


def _headers_target(flow: Flow, phase: str) -> dict[str, Any]:
    name = "request_headers" if phase == REQ else "response_headers"
    target = flow.effects.get(name)
    if target is None:
        target = flow.effects[name] = {"add": {}, "remove": []}
    return target


def _add_headers(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    target = _headers_target(flow, phase)
    add = target["add"]
    act = flow.act
    for low, tpl, field in action.templates["items"]:
        try:
            value = tpl.render(act)
        except (CelError, RecursionError):
            value = _render(flow, rule, action, phase, tpl, field)  # raises the rule's error
        if type(value) is not str:
            value = text_of(value)
        value = value.strip(" \t")
        add[low] = value if BAD_HEADER_CHAR.search(value) is None else _header_value(flow, rule, action, phase, tpl,
                                                                                      field)
    if flow.cp.reads_actions:
        _publish(flow, "add_headers", {"headers_added": {low: add[low] for low, _t, _f in action.templates["items"]}})
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome("added " + ", ".join(action.templates["headers"]))


def _remove_headers(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    target = _headers_target(flow, phase)
    remove, add = target["remove"], target["add"]
    present = _header_names(flow, phase) if flow.cp.reads_actions else ()
    removed = []  # ngrok's `headers_removed`: those there were to remove, lower-cased
    for low in action.templates["lowered"]:
        if low in present or low in add:
            removed.append(low)
        if low not in remove:
            remove.append(low)
        if add:
            add.pop(low, None)
    if flow.cp.reads_actions:
        _publish(flow, "remove_headers", {"headers_removed": removed})
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome("removed " + ", ".join(action.config.headers))


def _header_names(flow: Flow, phase: str) -> Any:
    """The lower-cased names of the request's (or response's) headers, as it came."""
    if phase == REQ:
        return flow.act.get("req.headers") or {}
    have = flow.act.get("res.headers")
    if have is None:  # not built: nothing reads `res.*` but the status
        given = (flow.response or {}).get("headers") or {}
        have = {str(k).lower() for k in given}
    return have


def _set_vars(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    act = flow.act
    vars_ = act["vars"]
    for k, v, field in action.templates["items"]:
        if type(v) is Template:
            try:
                vars_[k] = v.render(act)
            except (CelError, RecursionError):
                vars_[k] = _render(flow, rule, action, phase, v, field)  # raises the rule's error
        else:
            vars_[k] = _render_value(flow, rule, action, phase, v, field)
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome("set " + ", ".join(action.templates["vars"]))


def _render_value(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, v: Any, field: str) -> Any:
    if isinstance(v, Template):
        return _render(flow, rule, action, phase, v, field)
    if isinstance(v, list):
        return [_render_value(flow, rule, action, phase, x, field) for x in v]
    if isinstance(v, dict):
        return {k: _render_value(flow, rule, action, phase, x, field) for k, x in v.items()}
    return v


def _log(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    metadata = {k: jsonable(_render_value(flow, rule, action, phase, t, f"metadata.{k}"))
                for k, t in action.templates.get("metadata", {}).items()}
    flow.effects.setdefault("logs", []).append({"phase": phase, "rule": rule.label, "metadata": metadata})
    if flow.cp.reads_actions:
        _publish(flow, "log", {"metadata": metadata})
    flow.rec.outcome("logged")


def _set_model(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> None:
    if phase != REQ:
        flow.rec.outcome("skipped: set-model runs in the request phase")
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
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome(f"model {before} -> {model}")


def _model_access(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    if phase != REQ:
        return None
    cfg = action.config
    reason = model_access_refusal(cfg, flow.provider, flow.model or "", rule.label)
    if reason is None:
        if flow.rec.on:  # the text is built only for the record
            flow.rec.outcome(f"model {flow.provider}/{flow.model or ''} allowed")
        return None
    status = cfg.status_code or 403
    if flow.rec.on:  # the text is built only for the record
        flow.rec.outcome(f"denied {status}: {reason}")
    return Stop("deny", status, reason, "model-access", body=reason)


def model_access_refusal(cfg: Any, provider: str | None, model: str, label: str) -> str | None:
    """Why a ``model-access`` config refuses ``provider``'s ``model`` (None: it does not);
    also asked of each routing candidate (:mod:`.route`). Names are compared in their
    canonical form, a deny also after a provider prefix and before a version suffix
    (:mod:`.model_names`)."""
    if cfg.deny and len(model) > MAX_NAME:  # not matched: see MAX_NAME
        return (f"a model name of {len(model):,} characters is longer than any model's ({MAX_NAME} at most): "
                f"refused by the deny list of rule `{label}`")
    name = canonical(model)
    full = f"{fold(str(provider))}/{name}"
    if cfg.deny and deny_matcher(tuple(cfg.deny))(full):
        denied_by = next(p for p in cfg.deny if deny_matcher((p,))(full))
        return f"model `{provider}/{model}` is denied by `{denied_by}` (rule `{label}`)"
    if cfg.allow is not None and not (cfg.allow and ((match := allow_matcher(tuple(cfg.allow)))(full) or match(name))):
        return f"model `{provider}/{model}` is not among the models rule `{label}` allows"
    return None


def _max_tokens(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    if phase != REQ:
        return None
    cfg = action.config
    act = flow.act
    mode = cfg.mode or "reject"
    inp = act.get("ai.input_tokens", 0)
    if cfg.input is not None and inp > cfg.input:
        reason = f"the request has ~{inp:,} input tokens, more than the {cfg.input:,} rule `{rule.label}` allows"
        flow.rec.outcome(f"rejected 413: {reason}")
        return Stop("deny", 413, reason, "max-tokens", body=reason)
    if cfg.output is not None:
        out = act.get("ai.max_output_tokens") or 0
        if mode == "clamp":  # (an operation with no output cap has none to lower: nothing would be written)
            if (out == 0 or out > cfg.output) and flow.ai.operation in CAPPED_OPERATIONS:
                flow.effects["max_output_tokens"] = {"from": out or None, "to": cfg.output, "rule": rule.label}
                act["ai.max_output_tokens"] = cfg.output
                flow.lowered_output = cfg.output
                if flow.rec.on:  # the text is built only for the record
                    flow.rec.outcome(f"clamped max output {out or 'unset'} -> {cfg.output}")
                return None
        elif out > cfg.output:
            reason = f"the request asks for {out:,} output tokens, more than the {cfg.output:,} rule `{rule.label}` allows"
            flow.rec.outcome(f"rejected 413: {reason}")
            return Stop("deny", 413, reason, "max-tokens", body=reason)
        elif not out and (flow.ai.operation in CAPPED_OPERATIONS or flow.ai.uncapped):  # up to the model's maximum
            n, field = flow.ai.uncapped, _cap_field(flow.ai)
            reason = (f"{f'{n:,} of the batch requests set' if n else 'the request sets'} no maximum output tokens, and "
                      f"rule `{rule.label}` allows at most {cfg.output:,}: set {field} "
                      f"{f'in each, {cfg.output:,} in all' if n else f'to {cfg.output:,}'} or less")
            flow.rec.outcome(f"rejected 413: {reason}")
            return Stop("deny", 413, reason, "max-tokens", body=reason)
    flow.rec.outcome("within bounds")
    return None


_CAP_FIELDS = {"anthropic": "`max_tokens`", "cohere": "`max_tokens`", "gemini": "`generationConfig.maxOutputTokens`",
               "ollama": "`options.num_predict`",
               "bedrock": "`inferenceConfig.maxTokens` (Converse; InvokeModel: the model family's own field)"}


def _cap_field(ai: AiRequest) -> str:
    """The field a request's wire format caps its output with, for a refusal's text (the field a
    clamp would write: ``gateway.effects.set_max_tokens``)."""
    if ai.api == "openai" and ai.operation in ("responses", "chat"):
        return "`max_output_tokens`" if ai.operation == "responses" else (
            "`max_completion_tokens`" if ai.provider in COMPLETION_TOKENS else "`max_tokens`")
    return _CAP_FIELDS.get(ai.api, "`max_tokens`")


def _restrict_ips(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    cfg = action.config
    enforce = cfg.enforce if cfg.enforce is not None else True
    raw = flow.act.get("conn.client_ip")
    reason = hit = None
    ip = _parse_ip(raw) if isinstance(raw, str) else None
    if ip is None:
        if cfg.allow is not None:
            reason = f"client IP `{raw}` is not a valid address (rule `{rule.label}`)"
    else:
        nets = action.templates["networks"]  # parsed once, at compile time
        if action.templates["rendered"]:
            nets = {key: None if items is None else _rendered(flow, rule, action, phase, key, items)
                    for key, items in nets.items()}
        hit = _matching(nets["deny"], ip)
        if hit is not None:
            reason = f"client IP `{raw}` is denied by `{hit}` (rule `{rule.label}`)"
        elif nets["allow"] is not None:
            hit = _matching(nets["allow"], ip)
            if hit is None:
                reason = f"client IP `{raw}` is not in the allowed ranges of rule `{rule.label}`"
    if flow.cp.reads_actions:
        actions = flow.act["actions"]
        actions.setdefault("ngrok", {})["restrict_ips"] = {
            "action": "allow" if reason is None else "deny", "matched_cidr": hit or "", "error": NO_ERROR}
    if reason is None or not enforce:
        if flow.rec.on:  # the text is built only for the record
            flow.rec.outcome("allowed" if reason is None else f"would deny (enforce: false): {reason}")
        if reason is not None:
            flow.shadow_deny(403, reason, rule)
        return None
    flow.rec.outcome(f"denied 403: {reason}")
    return Stop("deny", 403, reason, "restrict-ips", body=reason)


def _rendered(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str, key: str,
              items: list[Any]) -> list[tuple[int, int, int, str]]:
    """``allow``/``deny`` ranges with their ``${...}`` items rendered (ngrok's ranges support
    CEL interpolation); one that renders to no address or CIDR block fails the rule."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Template):
            text = text_of(_render(flow, rule, action, phase, item, f"{key}.{i}"))
            try:
                item = network_range(ipaddress.ip_network(text, strict=False))
            except ValueError:
                span = action.ir.span_of(f"{key}.{i}") if action.ir is not None else action.span
                raise action_error(flow, rule, phase, item.text, span, Failure(
                    BAD_VALUE, f"`{text}` is not an IP address or CIDR block"), key) from None
        out.append(item)
    return out


def _matching(ranges: list[tuple[int, int, int, str]], ip: tuple[int, int]) -> str | None:
    """The first of ``ranges`` (version, first, last, text) that holds address ``ip``
    ((version, integer))."""
    version, n = ip
    for v, first, last, text in ranges:
        if v == version and first <= n <= last:
            return text
    return None


@lru_cache(maxsize=8192)
def _parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address; None if it is not one. An IPv4-mapped IPv6 address
    (``::ffff:1.2.3.4``, how a dual-stack socket shows an IPv4 client) is its IPv4 address, as
    ``inCidrRange`` reads it: ``deny: [1.2.3.4/32]`` denies it, ``::/0`` does not hold it.
    Pure, so caching is safe."""
    try:
        ip = unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None
    return ip.version, int(ip)


HANDLERS = {
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
    **HTTP_HANDLERS,
}


def run_action(flow: Flow, rule: CompiledRule, action: CompiledAction, phase: str) -> Stop | None:
    """Run a plain action; a CEL failure in it ends the phase (``on_error: deny``, the
    returned stop) or skips the rest of the rule (``on_error: skip``, :class:`Skip` raised)."""
    try:
        return HANDLERS[action.type](flow, rule, action, phase)
    except ErrorStop as e:
        flow.rec.outcome("error")
        return e.stop
    except Skip:
        flow.rec.outcome("error: rule skipped (on_error: skip)")
        raise
