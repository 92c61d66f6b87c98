"""The decision of SPEC §8: what the engine returns and ``explain`` prints.

A :class:`Decision` is built once from the evaluation's state; ``to_dict()`` is the JSON
form (the trace is present only when it was recorded).
"""

from __future__ import annotations

from typing import Any, Literal

from ..env.activation import format_now
from .flow import REQ, Flow, LimitEntry
from .rate_headers import entry_headers
from .trace import span_dict

__all__ = ["Decision", "Verdict"]

Verdict = Literal["allow", "deny"]


class Decision:
    """The outcome of evaluating one request: verdict, status, reason, the deciding rule,
    and what mattered (limits, effects, errors; the trace when asked).

    The verdict fields are set at once; each detail (limits, effects, ...) is built from
    the evaluation state on its first access, so a gateway pays only for what it reads."""

    __slots__ = (
        "_details",
        "_flow",
        "_now",
        "_policy",
        "_span",
        "_stop",
        "complete",
        "id",
        "kind",
        "phase",
        "reason",
        "rule",
        "status_code",
        "verdict",
    )

    id: str
    """The request id (the request's, the caller's ``request_id``, or a generated one)."""
    verdict: Verdict
    status_code: int
    """The status the client gets: the upstream's for a completed forwarded request."""
    reason: str
    rule: str | None
    """The deciding rule's name (or ``#N``), None when the document's default decided."""
    phase: str
    """``on_http_request`` or ``on_http_response``."""
    kind: str
    """What decided: ``deny``, ``custom-response``, ``allow``, ``limit``, ``error``,
    ``store``, ``default``, ... (``decided_by`` in the JSON form)."""
    complete: bool
    """True once the response phase ran (the request is finished)."""
    _now: str | float
    _flow: Flow | _Finished | None
    _stop: Any
    _details: dict[str, Any] | None
    _policy: Any
    _span: Any

    @property
    def at(self) -> dict[str, Any] | None:
        """The source location of the deciding rule or action."""
        return span_dict(self._span)

    @property
    def now(self) -> str:
        """The request's time, RFC 3339."""
        n = self._now
        return n if isinstance(n, str) else format_now(n)

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow"

    # the details, built on first access ----------------------------------------------------

    @property
    def ai(self) -> dict[str, Any]:
        """The classified request (``ai.*``; the prompt as ``prompt_chars``)."""
        return self._part("ai")  # type: ignore[no-any-return]

    @property
    def api(self) -> str:
        """The wire format the request speaks (``AiRequest.api``: ``openai``, ``anthropic``,
        ``gemini``, ``ollama``, ``cohere``, ``bedrock``, ``unknown``), as the engine classified
        it: what a gateway writes into the forwarded body (the ``max-tokens`` clamp,
        ``stream_options``) follows it, never the provider label (Cohere's OpenAI-compatible
        endpoint speaks ``openai``, Claude on Vertex AI ``anthropic``)."""
        return self._part("api")  # type: ignore[no-any-return]

    @property
    def usage(self) -> dict[str, Any] | None:
        """Token usage from the response (None before the response phase)."""
        return self._part("usage")  # type: ignore[no-any-return]

    @property
    def cost_usd(self) -> float | None:
        return self._part("cost_usd")  # type: ignore[no-any-return]

    @property
    def cost(self) -> dict[str, Any] | None:
        """The priced usage, itemised (None when unknown or before the response)."""
        return self._part("cost")  # type: ignore[no-any-return]

    @property
    def limits(self) -> list[dict[str, Any]]:
        """One entry per limit the request touched: name, key, unit, cost, used, limit,
        remaining, reset_after, outcome, charged, ..."""
        return self._part("limits")  # type: ignore[no-any-return]

    @property
    def effects(self) -> dict[str, Any]:
        """What the gateway applies: header changes, logs, vars, rate-limit headers, ..."""
        return self._part("effects")  # type: ignore[no-any-return]

    def effect(self, name: str) -> Any:
        """``effects.get(name)`` without building the other effects: a reader of one or two
        (a decision log reads ``model`` and ``logs`` of a completed request) spares the
        rate-limit headers, which only the request's own decision sends."""
        details = self._details
        if details is not None and "effects" in details:
            return details["effects"].get(name)
        flow: Any = self._flow
        if name == "vars":
            vars_ = flow.act.get("vars")
            if vars_:
                return dict(vars_)
        elif name == "rate_limit_headers" and flow.limit_entries:
            headers = entry_headers(flow.cp, self._pairs())
            if headers:
                return headers
        v = flow.effects.get(name)
        return dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v

    @property
    def errors(self) -> list[dict[str, Any]]:
        """CEL errors met on the way (each names its rule, source and span)."""
        return self._part("errors")  # type: ignore[no-any-return]

    @property
    def response(self) -> dict[str, Any] | None:
        """The gateway's own answer when denied: ``status_code``, ``headers``, ``body``."""
        return self._part("response")  # type: ignore[no-any-return]

    @property
    def store(self) -> dict[str, Any] | None:
        """Set when the limit store failed: its message and the fail mode applied."""
        return self._part("store")  # type: ignore[no-any-return]

    @property
    def notes(self) -> list[str]:
        return self._part("notes")  # type: ignore[no-any-return]

    @property
    def routing(self) -> dict[str, Any] | None:
        """A routed request's story (SPEC §12): ``strategies``, ``candidates`` (with
        ``skipped_because``), ``attempts`` (provider, model, key_id, status_code, error,
        latency_ms, usage) and ``served``; None when no ``ai-gateway`` action routed it."""
        return self._part("routing")  # type: ignore[no-any-return]

    @property
    def route(self) -> Any:
        """The :class:`~aigw_policy.routing.model.Plan` of a routed request, else None."""
        return self._part("route")

    @property
    def would_deny(self) -> dict[str, Any] | None:
        """What a shadow rule (``mode: shadow``) or a limit with ``enforce: false`` would have
        answered had it been enforced: ``status``, ``reason``, ``rule`` (the first such); None
        when none would have denied."""
        return self._part("would_deny")  # type: ignore[no-any-return]

    @property
    def trace(self) -> list[dict[str, Any]] | None:
        """Every rule, expression and action on the way (when tracing)."""
        return self._part("trace")  # type: ignore[no-any-return]

    @classmethod
    def from_flow(cls, flow: Flow, *, complete: bool, snapshot: bool = True) -> Decision:
        self = cls.__new__(cls)
        stop = flow.response_stop or flow.stop
        cp = flow.cp
        verdict: Verdict
        if stop is None or stop.verdict == "allow":
            verdict = "allow"
            if flow.upstream and flow.response is not None:
                status = flow.response.get("status_code") or 200
            else:
                status = 200
            if stop is not None:
                reason, rule_label, phase, kind = stop.reason, stop.rule.label if stop.rule else None, stop.phase, stop.kind
            elif cp.default == "deny":
                verdict, status = "deny", 403
                reason, rule_label, phase, kind = "no rule allowed the request (default: deny)", None, REQ, "default"
            else:
                reason, rule_label, phase, kind = "no rule denied the request (default: allow)", None, REQ, "default"
        else:
            verdict = "deny"
            status = stop.status or 403
            reason = stop.reason
            rule_label = stop.rule.label if stop.rule is not None else None
            phase = stop.phase
            kind = stop.kind
        self.id = flow.rid
        self._now = flow.act.get("time.now") or flow.now
        self.verdict = verdict
        self.status_code = status
        self.reason = reason
        self.rule = rule_label
        self.phase = phase
        self.kind = kind
        self._span = None
        self.complete = complete
        self._flow = flow
        self._stop = stop
        self._details = None
        self._policy = cp
        if stop is not None:
            rule = stop.rule
            self._span = (stop.span if stop.span is not None
                          else stop.action.span if stop.action is not None and stop.action.span is not None
                          else rule.span if rule is not None else None)
        if not complete and snapshot:
            self.detach()  # the flow goes on in complete(): take the snapshot now
        return self

    def detach(self) -> None:
        """Let go of the evaluation state: a decision kept for long holds only what it
        reports. A finished request's details stay lazy, built from what they are made of
        (:class:`_Finished`: no response body, no activation); a request whose evaluation
        goes on (routed, or kept live) has them built now."""
        flow = self._flow
        if flow is None or isinstance(flow, _Finished):
            return
        if self.complete and flow.route is None:
            self._flow = _Finished(flow)
            return
        for name in _PARTS:
            self._part(name)
        self._flow = None
        self._stop = None

    def _part(self, name: str) -> Any:
        """One detail, built from the evaluation state on first access (a gateway reading the
        effects builds neither the classified request's copy nor the usage and cost dicts)."""
        details = self._details
        if details is None:
            details = self._details = {}
        elif name in details:
            return details[name]
        value = details[name] = _PARTS[name](self, self._flow)
        return value

    def _pairs(self) -> list[tuple[LimitEntry, bool]]:
        """The limit entries, each with whether it stands charged."""
        flow: Any = self._flow
        assert flow is not None
        charged = flow.reserved and not flow.released
        run = flow.route
        if run is None:
            return [(entry, charged) for entry in flow.limit_entries.values()]
        own = _attempt_charges(run)
        return [(entry, own[entry.name] if entry.name in own else charged) for entry in flow.limit_entries.values()]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of SPEC §8."""
        out: dict[str, Any] = {
            "id": self.id,
            "now": self.now,
            "verdict": self.verdict,
            "status_code": self.status_code,
            "reason": self.reason,
            "rule": self.rule,
            "phase": self.phase,
            "decided_by": self.kind,
            "at": self.at,
            "ai": self.ai,
            "usage": self.usage,
            "cost_usd": self.cost_usd,
            "limits": self.limits,
            "effects": self.effects,
            "errors": self.errors,
            "complete": self.complete,
        }
        if self.cost is not None:
            out["cost"] = self.cost
        if self.response is not None:
            out["response"] = self.response
        if self.store is not None:
            out["store"] = self.store
        if self.notes:
            out["notes"] = self.notes
        if self.routing is not None:
            out["routing"] = self.routing
        if self.would_deny is not None:
            out["would_deny"] = self.would_deny
        if self.trace is not None:
            out["trace"] = self.trace
        return out

    def text(self, *, trace: bool = False) -> str:
        """The same story for a person: the deciding rule first, with its source line."""
        from .explain_text import decision_text

        return decision_text(self, trace=trace)

    def __repr__(self) -> str:
        return f"<Decision {self.verdict} {self.status_code} rule={self.rule!r}>"


def _attempt_charges(run: Any) -> dict[str, bool]:
    """Per-attempt limits by name: whether their entry stands charged (the attempt in flight
    or served keeps its reservation; a failed one's was settled)."""
    if run is None:
        return {}
    out: dict[str, bool] = {}
    for t in run.tries:
        for _, _, ch in t.charges:
            out.setdefault(ch.spec.name, False)
    if run.live_try is not None:
        for _, _, ch in run.live_try.charges:
            out[ch.spec.name] = True
    elif run.served is not None:
        served = next((t for t in run.tries if (t.candidate.provider, t.candidate.model, t.candidate.key_id)
                       == (run.served["provider"], run.served["model"], run.served["key_id"])), None)
        for _, _, ch in served.charges if served is not None else ():
            out[ch.spec.name] = True
    return out


class _Finished:
    """What a finished request's details are built from, under the names :class:`Flow` gives
    them; nothing changes them any more."""

    __slots__ = ("act", "api", "cost", "cp", "effects", "errors", "limit_entries", "notes", "prompt_chars",
                 "released", "reserved", "route", "store_error", "trace", "usage", "would_deny")

    def __init__(self, flow: Flow) -> None:
        act = flow.act
        ai = act.get("ai")
        if ai is None:  # the plan built no `ai` map (only routing reads it): the classification's
            ai = flow.ai.to_cel()
        prompt_chars = flow.prompt_chars
        if prompt_chars is None and ai.get("prompt"):  # a live state's: kept as its length only
            prompt_chars = len(ai["prompt"])
            ai = {**ai, "prompt": ""}
        self.act = {"ai": ai, "vars": act.get("vars")}
        self.api = flow.ai.api
        self.cost = flow.cost
        self.cp = flow.cp
        self.effects = flow.effects
        self.errors = flow.errors
        self.limit_entries = flow.limit_entries
        self.notes = flow.notes
        self.prompt_chars = prompt_chars
        self.released = flow.released
        self.reserved = flow.reserved
        self.route = None
        self.store_error = flow.store_error
        self.trace = flow.trace
        self.usage = flow.usage
        self.would_deny = flow.would_deny


def _response(d: Decision, flow: Flow) -> dict[str, Any] | None:
    if d.verdict != "deny":
        return None
    stop = d._stop
    gw = stop if stop is not None and stop.verdict == "deny" else None
    return {"status_code": d.status_code, "headers": dict(gw.headers or {}) if gw else {},
            "body": gw.body if gw else d.reason}


def _effects(d: Decision, flow: Flow) -> dict[str, Any]:
    effects = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
               for k, v in flow.effects.items()} if flow.effects else {}
    vars_ = flow.act.get("vars")
    if vars_:
        effects["vars"] = dict(vars_)
    if flow.limit_entries:
        headers = entry_headers(flow.cp, d._pairs())
        if headers:
            effects["rate_limit_headers"] = headers
    return effects


def _ai(d: Decision, flow: Flow) -> dict[str, Any]:
    ai = flow.act.get("ai")
    ai = dict(ai) if ai is not None else flow.ai.to_cel()
    prompt = ai.pop("prompt", "")
    ai["prompt_chars"] = len(prompt) if flow.prompt_chars is None else flow.prompt_chars
    return ai


_PARTS: dict[str, Any] = {
    "ai": _ai,
    "api": lambda d, flow: flow.api if isinstance(flow, _Finished) else flow.ai.api,
    "usage": lambda d, flow: flow.usage.to_dict() if flow.usage is not None else None,
    "cost_usd": lambda d, flow: flow.cost.as_float() if flow.cost is not None else None,
    "cost": lambda d, flow: flow.cost.to_dict() if flow.cost is not None else None,
    "limits": lambda d, flow: [entry.to_dict(charged) for entry, charged in d._pairs()],
    "effects": _effects,
    "errors": lambda d, flow: list(flow.errors),
    "response": _response,
    "store": lambda d, flow: flow.store_error,
    "notes": lambda d, flow: list(flow.notes),
    "trace": lambda d, flow: list(flow.trace) if flow.trace is not None else None,
    "routing": lambda d, flow: flow.route.to_dict() if flow.route is not None else None,
    "route": lambda d, flow: flow.route.plan if flow.route is not None else None,
    "would_deny": lambda d, flow: ({k: v for k, v in flow.would_deny.items() if k != "_at"}
                                   if flow.would_deny is not None else None),
}
"""How each detail is built from the evaluation state, by name."""
