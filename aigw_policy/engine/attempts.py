"""Failover, sans-IO: from one attempt's outcome to the next step (SPEC §12).

:func:`step` takes the outcome of the attempt in flight (None for the first call) and gives
:class:`~aigw_policy.routing.model.Next` (forward this attempt), :class:`Serve` (its answer is
the client's) or an :class:`End` (the gateway answers: :func:`finish` then builds the final
decision). It yields the store :class:`Need` s it has (per-attempt reserves and releases) as
the rest of the core does.

Rules: candidates in the plan's order (for each model its keys: next key, then next model);
a (provider, model, key) is never tried twice; each attempt's timeout is the per-request one
cut to what remains of the total (none left: 504); ngrok's triggers (connection errors,
timeouts, 4xx, 5xx; an answer that came ``malformed``, as ngrok's "provider errors") narrowed by
``failover_on``; an outcome with ``started`` (a byte reached
the client) is served whatever it is; so is the attempt in flight when the client closes the
request (``error: client_closed``: the caller then completes it with its status, 499). A failed
attempt's own reservation (``rid#n``) is released, or charged the input the upstream reported
under ``upstream_error: charge_input``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from ..limits.model import Outcome
from ..providers import Usage, extract_usage
from ..routing.model import Attempt, AttemptOutcome, Next, Serve
from ..routing.ngrok_messages import timed_out
from ..routing.paths import surface_of
from ..routing.rewrite import CREDENTIAL_HEADERS, account_answer_field
from .charging import _entry, retry_headers, settle, settle_charges
from .decision import Decision
from .flow import REQ, Flow, Need, Reserve, Steps, Stop, StoreFailed
from .phases import continue_phase, response_steps
from .route import REFUSED, RouteRun, candidate_activation
from .route_errors import (ALL_FAILED, CONNECT, MALFORMED, NO_API_KEY, NO_API_KEY_MESSAGE, NO_KEY, TIMEOUT,
                           UPSTREAM_MALFORMED, all_failed, attempt_said, error_body, publish_trace, upstream_wait)

__all__ = ["End", "finish", "step"]


@dataclass(frozen=True, slots=True)
class End:
    """The route is over without an answer to serve: the gateway answers ``status``."""

    status: int
    code: str
    message: str
    kind: str = "route-error"
    headers: dict[str, str] | None = None
    told: str | None = None
    """The client's message when it says more than ``message`` (the reason the decision, the
    ledger and the logs keep): what each failed attempt's answer said."""


def _failed(outcome: AttemptOutcome) -> bool:
    return outcome.error is not None or (outcome.status_code or 0) >= 400


def _fails_over(triggers: Any, outcome: AttemptOutcome) -> bool:
    """ngrok's triggers (any connection error, timeout, 4xx or 5xx), or those of ``failover_on``."""
    if not triggers:
        return _failed(outcome)
    if outcome.error == MALFORMED:  # an answer no client can read: a trigger as `malformed`, or as the 502 it is
        return MALFORMED in triggers or 502 in triggers or "5xx" in triggers
    if outcome.error is not None:
        return outcome.error in triggers
    status = outcome.status_code or 0
    return status in triggers or f"{status // 100}xx" in triggers


def step(flow: Flow, outcome: AttemptOutcome | None, elapsed_s: float) -> Generator[Need, Any, Next | Serve | End]:
    """The next step of ``flow``'s route; ``elapsed_s``: time since the first attempt."""
    run: RouteRun = flow.route
    route = run.route
    if outcome is not None:
        live = run.live
        if live is None:
            raise ValueError("attempt() got an outcome but no attempt is in flight (pass None first)")
        spent = outcome.latency_ms / 1000 if outcome.latency_ms is not None else (
            live.timeout_s if outcome.error == "timeout" else 0.0)
        run.elapsed_s = max(run.elapsed_s + spent, elapsed_s)
        record = run.attempts[-1]
        record.update(status_code=outcome.status_code, error=outcome.error, latency_ms=outcome.latency_ms)
        ttfb = outcome.time_to_first_byte_ms
        run.answers.append({"ttfb_ms": ttfb if ttfb is not None else outcome.time_to_first_token_ms, "said": None,
                            "status": outcome.status_code if outcome.status_code is not None else outcome.answered,
                            "headers": {k.lower(): [v] for k, v in outcome.headers.items()
                                        if not account_answer_field(k.lower())}})
        if outcome.error == "client_closed":  # nobody to answer, so nothing to fail over for
            _serve(flow, run)
            if flow.stop is not None:
                flow.stop.reason = f"the client closed the request during attempt {live.number}"
            return Serve(live)  # complete() it with the client's status (499): the attempt settles as served
        pinned = run.plan.pinned  # a background response's read: its one holder's answer is the answer
        if outcome.started or not _failed(outcome) or (
                (pinned or not _fails_over(route.failover_on, outcome)) and outcome.status_code is not None):
            _serve(flow, run)
            return Serve(live)
        yield from _settle_failed(flow, run, outcome)
        run.said.append(said := attempt_said(outcome, live.provider.base_url))
        run.answers[-1]["said"] = said
        run.waits.append(upstream_wait(outcome.headers, flow.time(), outcome.body))
        if outcome.error == "timeout" and live.timeout_s < route.per_request_timeout_s:
            # its time was cut to what the total left: the total ran out, whatever the clocks
            # measured (a busy machine's timer may fire a hair early)
            run.elapsed_s = max(run.elapsed_s, route.total_timeout_s)
            return End(504, TIMEOUT, timed_out(route.total_timeout_s))
        if pinned or not _fails_over(route.failover_on, outcome):
            if outcome.error == "timeout":
                return End(504, TIMEOUT, timed_out(live.timeout_s))
            if outcome.error == MALFORMED:
                return End(502, UPSTREAM_MALFORMED, f"The AI provider's answer could not be read: {said}")
            return End(502, CONNECT, "Could not reach the AI provider. The upstream request failed.")
    tried = {(a["provider"], a["model"], a["key_id"]) for a in run.attempts}
    retry: float | None = None  # the soonest a skipped candidate's limit frees up
    while run.next < len(run.tries):
        remaining = route.total_timeout_s - run.elapsed_s
        if remaining <= 0:
            return End(504, TIMEOUT, timed_out(route.total_timeout_s))
        t = run.tries[run.next]
        run.next += 1
        c = t.candidate
        if t.skip is not None:
            continue
        if (c.provider, c.model, c.key_id) in tried:
            t.skip = "the same provider, model and key was tried already"
            continue
        if c.key_id is None and (owner := _passthrough_owner(run, route)) not in (None, c.provider) \
                and c.provider not in route.configured_providers:
            t.skip = (f"no key configured for provider `{c.provider}`: the client's own credential is for "
                      f"`{owner}` and goes to no other provider")
            continue
        if c.key_id is None and route.provider(c.provider).builtin and not _client_credential(flow.act):
            t.skip = (f"{NO_KEY} for provider `{c.provider}`: none is configured, and the request carries no "
                      "credential of the client's own to pass on")
            continue
        number = len(run.attempts) + 1
        if t.charges:
            answer = yield Reserve(run.store_id(flow.rid, number), [ch for _, _, ch in t.charges])
            if isinstance(answer, StoreFailed):
                flow.store_error = {"code": "AIGW506", "message": answer.message, "mode": flow.cp.store_failure}
                if flow.cp.store_failure == "fail_closed":
                    t.skip = "limit store unavailable (store_failure: fail_closed)"
                    continue
                t.charges = []  # fail_open: tried without its own reservation
            else:
                over = _over(t, answer)
                for (rule, action, ch), out in zip(t.charges, answer):
                    flow.limit_entries[ch.spec.name] = _entry(rule, action.limit, ch.key, ch.cost, out)
                if over is not None:
                    t.skip = f"over limit `{over.name}`"
                    waits = [w for w in (over.retry_after, over.reset_after) if w is not None]
                    run_wait = min(waits) if waits else 1.0
                    retry = min(retry, run_wait) if retry is not None else run_wait
                    continue
        provider = route.provider(c.provider)
        key = next((k for k in provider.keys if k.id == c.key_id), None)
        info = route.model(c.provider, c.model)
        attempt = Attempt(number, provider, c.model, key, run.plan.format,
                          drop_params=info.unsupported_params if info is not None else frozenset(),
                          keep_params=provider.supported_params.get((run.plan.format, surface_of(flow.act.get(
                              "req.url.path")))) if provider.supported_params else None,
                          headers=dict(t.headers), query=dict(t.query), body=dict(t.body),
                          timeout_s=min(route.per_request_timeout_s, remaining),
                          idle_s=route.per_request_timeout_s)
        run.live, run.live_try = attempt, t
        run.attempts.append({"provider": c.provider, "model": c.model, "key_id": c.key_id, "status_code": None,
                             "error": None, "latency_ms": None, "usage": None})
        return Next(attempt)
    if not run.attempts and any(t.skip and t.skip.startswith("over limit") for t in run.tries):
        names = sorted({t.skip for t in run.tries if t.skip and t.skip.startswith("over limit")})
        return End(429, "rate_limit_exceeded", "every candidate is " + ", ".join(names), "limit",
                   retry_headers(retry or 0))
    n = len(run.attempts)
    refused = sorted({t.skip for t in run.tries if t.skip and t.skip.startswith(REFUSED)})
    if n == 0 and refused:  # the policy's model rules refuse every model the route could send
        return End(403, "model_not_allowed", "every model this request could be routed to is " + "; ".join(refused))
    if n == 0 and any(t.skip and t.skip.startswith(NO_KEY) for t in run.tries):
        return End(400, NO_API_KEY, NO_API_KEY_MESSAGE)
    if n == 0:
        return End(503, ALL_FAILED, "All providers failed: no candidate could be tried (routing.candidates says why)")
    # every attempt said when to come back (each a 429 or 503 with Retry-After): the soonest
    # is the client's, so that its SDK waits that long instead of retrying at once
    waits = [w for w in run.waits if w is not None]
    wait = retry_headers(min(waits)) if waits and len(waits) == n else None
    told = [(a["headers"].get("x-should-retry") or [None])[0] for a in run.answers]
    reason, message, retry = all_failed(run.attempts, run.said, told)
    if not retry:  # every provider refused the request itself, or said no retry helps: the SDKs' would end the same
        wait = {**(wait or {}), "x-should-retry": "false"}
    return End(503, ALL_FAILED, reason, headers=wait, told=message)


def _passthrough_owner(run: RouteRun, route: Any) -> str | None:
    """The provider a client's own credential is for: the plan's first candidate's (the
    model's home; a credential is one vendor's). A keyless attempt carries the client's
    credential (passthrough), so a keyless candidate of another provider the action does not
    list is never tried: a failover took a client's OpenAI key on to OpenRouter, its Anthropic
    key to Google."""
    return run.tries[0].candidate.provider if run.tries else None


def _client_credential(act: Any) -> bool:
    """Whether the request carries a credential of the client's own that a keyless attempt
    passes on (passthrough): a credential header or Gemini's ``?key=``. The policy never sees
    the gateway's own key (the middleware authenticates with it and hides it), so with a keys
    file there is none."""
    headers = act.get("req.headers") or {}
    query = act.get("req.url.query_params") or {}
    return any(headers.get(name) for name in CREDENTIAL_HEADERS) or bool(query.get("key"))


def _over(t: Any, answer: list[Outcome]) -> Outcome | None:
    return next((out for (_, _, ch), out in zip(t.charges, answer)
                 if out.outcome == "limited" and ch.spec.enforce), None)


def _serve(flow: Flow, run: RouteRun) -> None:
    """The attempt in flight is the answer: the request is now the served model's."""
    live = run.live
    c = run.live_try.candidate  # type: ignore[union-attr]
    run.served = {"provider": c.provider, "model": c.model, "key_id": c.key_id, "attempt": live.number}
    if flow.stop is not None:
        key = f" (key {c.key_id})" if c.key_id else ""
        flow.stop.reason = (f"served by {c.provider}:{c.model}{key} on attempt {live.number}, "
                            f"routed by rule `{run.rule.label}`")
    flow.model, flow.provider = c.model, c.provider
    flow.act.update(candidate_activation(flow.act, c.provider, c.model))
    publish_trace(flow, run)


def _settle_failed(flow: Flow, run: RouteRun, outcome: AttemptOutcome) -> Steps:
    """A failed attempt: what it reported, and its own reservation released (or charged)."""
    live, t = run.live, run.live_try
    run.live = run.live_try = None
    c = t.candidate  # type: ignore[union-attr]
    resp = {"status_code": outcome.status_code or 502, "headers": dict(outcome.headers), "body": outcome.body}
    ai = replace(flow.ai, model=c.model, provider=c.provider)
    usage = extract_usage(ai, resp)
    if usage.source != "estimate":
        run.attempts[-1]["usage"] = usage.to_dict()
    if t.charges:  # type: ignore[union-attr]
        cost = flow.prices.cost(c.provider, c.model, usage, at=flow.time())
        yield from settle_charges(flow, run.store_id(flow.rid, live.number), t.charges, resp, usage, cost)  # type: ignore[union-attr]


def finish(flow: Flow, end: End) -> Generator[Need, Any, Decision]:
    """The gateway answers: the error (or what the rules after ``on_error: continue``
    decided), the request's own reservation settled as an upstream error, the response phase
    over the gateway's answer; the final decision."""
    run: RouteRun = flow.route
    run.error = (end.status, end.code, end.message)
    stop = Stop("deny", end.status, end.message, end.kind, run.rule, run.action, REQ,
                headers={"content-type": "application/json", **(end.headers or {})},
                body=error_body(run.plan.format, end.status, end.code, end.told or end.message, flow.rid,
                                run.rule.label))
    if end.headers and "retry-after" in end.headers:
        stop.body["aigw"]["retry_after"] = int(end.headers["retry-after"])  # type: ignore[index]
    if end.headers and end.headers.get("x-should-retry") == "false" and end.code == ALL_FAILED:
        stop.body["aigw"]["hint"] = ("every provider refused the request itself or said a retry cannot help (the "  # type: ignore[index]
                                     "message lists what each said): sent again unchanged it fails the same way")
    publish_trace(flow, run)
    if run.route.on_error == "continue":
        flow.rec.outcome(f"route failed {end.status} {end.code} (on_error: continue): the rules after it run")
        kept, flow.stop = flow.charges, None
        yield from continue_phase(flow, run.rule, run.action.position)
        flow.charges = kept  # the gateway answers: what later rules would charge is not charged
        if flow.stop is not None and flow.stop.verdict == "deny":
            stop = flow.stop
    flow.stop = stop
    if flow.reserved:
        usage = Usage.of(flow.ai.input_tokens, 0, source="estimate", model=flow.model)
        yield from settle(flow, {"status_code": end.status}, usage,
                          flow.prices.cost(flow.provider, flow.model, usage, at=flow.time()))
    yield from response_steps(flow, None)
    return Decision.from_flow(flow, complete=True)

