"""The ai-gateway action in the engine (SPEC §12): the plan, failover over attempt(), the
budget-correct per-attempt limits, timeouts, failover_on, on_error: continue, eviction."""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits.model import Charge
from aigw_policy.routing.model import AttemptOutcome, Finished, Next, Serve



NOW = "2026-11-26T12:00:00Z"
T = 1795694400.0  # NOW


BASE = """\
on_http_request:
  - name: budgets
    actions:
      - type: token-limit
        config: {name: model-tpm, capacity: 100000, rate: 1m, bucket_key: ["ai.model"]}
      - type: rate-limit
        config: {name: team-rpm, capacity: 100, rate: 1m}
RULES
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - id: openai
              api_keys: [{value: "${secrets.get('v','a')}", id: ka}, {value: "${secrets.get('v','b')}", id: kb}]
              models: [{id: gpt-4o}, {id: gpt-4o-mini}]
ROUTE
AFTER
"""


def _block(text: str, pad: int) -> str:
    return textwrap.indent(textwrap.dedent(text), " " * pad).rstrip()


def policy(route: str = "", rules: str = "", after: str = "") -> ap.Policy:
    text = BASE.replace("RULES", _block(rules, 2)).replace("ROUTE", _block(route, 10)).replace("AFTER", _block(after, 2))
    return ap.loads(text, format="yaml")


def request(**extra: Any) -> dict[str, Any]:
    return {"id": "r1", "now": NOW, "request": {"url": "https://api.openai.com/v1/chat/completions", "body": {
        "model": "gpt-4o", "models": ["gpt-4o", "gpt-4o-mini"], "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}}, **extra}


def ok(model: str, tokens: tuple[int, int] = (5, 7)) -> dict[str, Any]:
    return {"status_code": 200, "body": {"model": model, "choices": [],
                                         "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}}}


def used(engine: ap.Engine, name: str, key: str) -> float:
    spec = engine.compiled.limits[name][1].limit.spec  # type: ignore[union-attr]
    return engine.store.check([Charge(spec, key, 0.0)], T)[0].used


def test_failover_next_key_then_next_model_and_usage_charged_to_the_server() -> None:
    e = ap.Engine(policy())
    d = e.evaluate(request(attempts=[{"status_code": 429}, {"error": "timeout"}, ok("gpt-4o-mini")]))
    r = d.routing
    assert [(a["model"], a["key_id"], a["status_code"], a["error"]) for a in r["attempts"]] == [
        ("gpt-4o", "ka", 429, None), ("gpt-4o", "kb", None, "timeout"), ("gpt-4o-mini", "ka", 200, None)]
    assert r["served"] == {"provider": "openai", "model": "gpt-4o-mini", "key_id": "ka", "attempt": 3}
    assert (d.verdict, d.status_code, d.complete) == ("allow", 200, True)
    assert used(e, "model-tpm", "gpt-4o") == 0  # the failed attempts gave their reservations back
    assert used(e, "model-tpm", "gpt-4o-mini") == 12  # charged once, to the model that served
    assert used(e, "team-rpm", "") == 1
    assert {x["name"]: x["key"] for x in d.limits}["model-tpm"] == "gpt-4o-mini"


def test_a_candidate_over_its_model_limit_is_skipped_and_the_decision_says_so() -> None:
    e = ap.Engine(policy())
    d = e.evaluate(request(attempts=[ok("gpt-4o-mini")],
                           state={"limits": {"model-tpm": {"gpt-4o": {"used": 99990}}}}), apply_state=True)
    skipped = [(c["model"], c["skipped_because"]) for c in d.routing["candidates"]]
    assert skipped[:2] == [("gpt-4o", "over limit `model-tpm`"), ("gpt-4o", "over limit `model-tpm`")]
    assert d.routing["served"]["model"] == "gpt-4o-mini" and len(d.routing["attempts"]) == 1
    assert used(e, "model-tpm", "gpt-4o") == 99990


def test_every_candidate_over_its_limit_is_a_429_with_nothing_charged() -> None:
    e = ap.Engine(policy())
    state = {"limits": {"model-tpm": {"gpt-4o": {"used": 99990}, "gpt-4o-mini": {"used": 99990}}}}
    d = e.evaluate(request(state=state, attempts=[]), apply_state=True)
    assert (d.verdict, d.status_code, d.kind) == ("deny", 429, "limit")
    assert d.routing["attempts"] == [] and used(e, "team-rpm", "") == 0
    assert d.response["headers"]["retry-after"] == "60"  # the minute window frees up then
    entry = {x["name"]: x for x in d.limits}["model-tpm"]
    assert (entry["outcome"], entry["charged"]) == ("limited", False)


def test_all_failed_is_503_in_the_clients_shape_with_ngroks_code_and_releases_everything() -> None:
    e = ap.Engine(policy())
    d = e.evaluate(request(attempts=[{"status_code": 500}] * 4))
    assert (d.verdict, d.status_code) == ("deny", 503)
    assert d.response["body"]["error"]["code"] == "ERR_NGROK_3807"
    assert len(d.routing["attempts"]) == 4 and d.routing["served"] is None
    assert used(e, "team-rpm", "") == 0 and used(e, "model-tpm", "gpt-4o") == 0


def test_total_timeout_is_504_and_each_attempt_gets_what_remains() -> None:
    e = ap.Engine(policy(route="total_timeout: 50s\nper_request_timeout: 30s"))
    d = e.evaluate(request(id="t"), expect_response=True)
    first = e.attempt("t", None)
    assert isinstance(first, Next) and first.attempt.timeout_s == 30
    second = e.attempt("t", AttemptOutcome(error="timeout"))
    assert isinstance(second, Next) and second.attempt.timeout_s == 20
    end = e.attempt("t", AttemptOutcome(error="timeout", latency_ms=20_000))
    assert isinstance(end, Finished) and end.decision.status_code == 504
    assert end.decision.response["body"]["error"]["code"] == "ERR_NGROK_3810"
    assert d.complete is False


def test_an_attempt_cut_by_the_total_that_times_out_ends_in_504_even_when_its_timer_fired_early() -> None:
    """The second attempt got only what the total left (20 s); it timed out a hair before the
    clocks add up to the total (19.99 s measured): the total ran out all the same, so 504 and no
    third attempt (it was 503 "all failed" after a third attempt of 10 ms, on a busy machine)."""
    e = ap.Engine(policy(route="total_timeout: 50s\nper_request_timeout: 30s"))
    e.evaluate(request(id="t"), expect_response=True)
    e.attempt("t", None)
    second = e.attempt("t", AttemptOutcome(error="timeout", latency_ms=30_000))
    assert isinstance(second, Next) and second.attempt.timeout_s == 20
    end = e.attempt("t", AttemptOutcome(error="timeout", latency_ms=19_990))
    assert isinstance(end, Finished) and end.decision.status_code == 504
    assert end.decision.response["body"]["error"]["code"] == "ERR_NGROK_3810"
    assert len(end.decision.routing["attempts"]) == 2


def test_failover_on_narrows_the_triggers() -> None:
    e = ap.Engine(policy(route="failover_on: [429, timeout]"))
    d = e.evaluate(request(attempts=[{"status_code": 429}, {"status_code": 500, "body": {"error": "x"}}]))
    assert [a["status_code"] for a in d.routing["attempts"]] == [429, 500]
    assert (d.verdict, d.status_code) == ("allow", 500)  # the 500 is the client's answer
    assert d.routing["served"]["attempt"] == 2


def test_an_outcome_that_started_is_never_failed_over() -> None:
    e = ap.Engine(policy())
    e.evaluate(request(id="s"))
    e.attempt("s", None)
    step = e.attempt("s", AttemptOutcome(status_code=500, started=True))
    assert isinstance(step, Serve) and step.attempt.number == 1


def test_a_model_and_key_pair_is_never_tried_twice() -> None:
    e = ap.Engine(policy())
    e.evaluate(request(id="p"))
    run = e._pending["p"].flow.route
    run.tries.append(run.tries[0].__class__(run.tries[0].candidate))
    seen = []
    step = e.attempt("p", None)
    while isinstance(step, Next):
        seen.append((step.attempt.model, step.attempt.key.id))
        step = e.attempt("p", AttemptOutcome(status_code=503))
    assert len(seen) == len(set(seen)) == 4
    assert run.tries[-1].skip == "the same provider, model and key was tried already"


def test_on_error_continue_lets_later_rules_answer_with_ngroks_trace() -> None:
    after = """\
        - name: fallback
          actions:
            - type: custom-response
              config: {status_code: 503, body: "${actions.ngrok.ai_gateway.error.code} after ${size(actions.ngrok.ai_gateway.models_tried)}"}
        """
    e = ap.Engine(policy(route="on_error: continue", after=after))
    d = e.evaluate(request(attempts=[{"error": "connect"}] * 4))
    assert (d.verdict, d.status_code, d.kind, d.rule) == ("deny", 503, "custom-response", "fallback")
    assert d.response["body"] == "ERR_NGROK_3807 after 2"


def test_a_plan_error_is_a_deny_with_its_status_and_code() -> None:
    e = ap.Engine(policy(route="max_input_tokens: 1"))
    d = e.evaluate(request(attempts=[]))
    assert (d.verdict, d.status_code, d.kind) == ("deny", 413, "route-error")
    assert d.response["body"]["error"]["code"] == "ERR_NGROK_3811"


def test_headers_query_and_body_templates_render_per_attempt() -> None:
    e = ap.Engine(policy(route='headers: {x-model: "${ai.model}"}\nquery_params: {k: "${ai.provider}"}\n'
                               'body: {user: "m-${ai.model}"}'))
    e.evaluate(request(id="h"))
    a = e.attempt("h", None).attempt  # type: ignore[union-attr]
    assert (a.headers, a.query, a.body) == ({"x-model": "gpt-4o"}, {"k": "openai"}, {"user": "m-gpt-4o"})
    assert a.key is not None and a.key.id == "ka"


def test_eviction_releases_the_attempt_in_flight() -> None:
    e = ap.Engine(policy(), max_pending=1)
    e.evaluate(request(id="a"))
    e.attempt("a", None)
    assert used(e, "model-tpm", "gpt-4o") == 105 and used(e, "team-rpm", "") == 1
    e.evaluate(request(id="b"))  # evicts a: its own and its attempt's reservations go back
    assert used(e, "model-tpm", "gpt-4o") == 0 and used(e, "team-rpm", "") == 1


def test_outcomes_are_recorded_in_route_metrics() -> None:
    e = ap.Engine(policy())
    e.evaluate(request(attempts=[{"status_code": 429, "latency_ms": 10}, ok("gpt-4o")]))
    snap = e.route_metrics.snapshot(T)
    assert snap["keys"][("openai", "ka")]["error_rate"]["rate_limit"] == 1
    assert snap["models"][("openai", "gpt-4o")]["request_count"] == 2


def test_async_attempts_give_the_same_decision() -> None:
    req = request(attempts=[{"status_code": 429}, ok("gpt-4o")])
    sync = ap.Engine(policy()).evaluate(req).to_dict()
    asyn = asyncio.run(ap.Engine(policy()).aevaluate(req)).to_dict()
    for d in (sync, asyn):
        for x in d["limits"]:
            x.pop("reset_after")
    assert sync == asyn


def test_attempt_on_an_unrouted_or_unknown_request() -> None:
    e = ap.Engine(policy())
    with pytest.raises(LookupError):
        e.attempt("nope", None)


def test_misspelled_attempt_keys_fail_loudly() -> None:
    with pytest.raises(ap.RequestError, match="did you mean `attempts.0.status_code`"):
        ap.Engine(policy()).evaluate(request(attempts=[{"status_cod": 500}]))
    with pytest.raises(ap.RequestError, match="no answer"):
        ap.Engine(policy()).evaluate(request(attempts=[{"error": "timeout", "status_code": 500}]))


def test_a_header_template_that_renders_a_line_break_skips_the_candidate() -> None:
    e = ap.Engine(policy(route='headers: {x-user: "${identity.user}"}'))
    d = e.evaluate(request(identity={"user": "eve\r\nx-injected: 1"}, attempts=[]))
    assert {c["skipped_because"] for c in d.routing["candidates"]} == {
        "the value of header `x-user` has a character a header cannot carry (CR, LF, NUL...)"}
    assert (d.status_code, d.routing["attempts"]) == (503, [])


def test_the_reason_of_a_served_request_names_who_served() -> None:
    d = ap.Engine(policy()).evaluate(request(attempts=[{"status_code": 500}, ok("gpt-4o")]))
    assert d.reason == "served by openai:gpt-4o (key kb) on attempt 2, routed by rule `route`"


def test_a_strategy_steers_by_a_limit_checked_before_it() -> None:
    """A strategy reading `limits[...]` sees the state of the limits before the action (they
    are checked when they run): near its budget the team is moved to the cheaper model."""
    route = """\
        model_selection:
          strategy:
            - "limits['team-rpm'].remaining > 50.0 ? ai.models.only(['gpt-4o']) : ai.models.only(['gpt-4o-mini'])"
    """
    compiled = ap.Engine(policy(route)).compiled
    assert any(a.eager for r in compiled.request_rules for a in r.actions if a.limit is not None)
    for seeded, model in ((0, "gpt-4o"), (60, "gpt-4o-mini")):
        e = ap.Engine(compiled)
        d = e.evaluate(request(state={"limits": {"team-rpm": {"": {"used": seeded}}}},
                               attempts=[ok(model)]), apply_state=True)
        assert d.routing["served"]["model"] == model, d.routing


def test_pure_strategies_need_no_limit_checked_before_the_reserve() -> None:
    """Strategies reading only the collections cannot see `limits`: the limits before the
    action are checked with the reserve, not in a round trip of their own."""
    route = """\
        model_selection:
          strategy: ["ai.models.onlyProviders(['openai'])"]
    """
    compiled = ap.Engine(policy(route)).compiled
    assert not any(a.eager for r in compiled.request_rules for a in r.actions)


def test_a_client_that_closes_the_request_ends_the_route_and_blames_no_provider() -> None:
    """``error: client_closed``: no more attempts; the attempt in flight is served and completed
    as the client left it (499): its reservations go back, the provider's metrics see nothing."""
    e = ap.Engine(policy())
    e.evaluate(request(id="c"), expect_response=True)
    first = e.attempt("c", None)
    assert isinstance(first, Next)
    step = e.attempt("c", AttemptOutcome(error="timeout"))
    assert isinstance(step, Next) and step.attempt.number == 2
    served = e.attempt("c", AttemptOutcome(error="client_closed", latency_ms=5.0))
    assert isinstance(served, Serve) and served.attempt.number == 2
    final = e.complete("c", {"status_code": 499, "headers": {}, "body": None})
    assert final.status_code == 499 and "closed" in final.reason
    assert [(a["key_id"], a["error"]) for a in final.routing["attempts"]] == [("ka", "timeout"), ("kb", "client_closed")]
    assert used(e, "model-tpm", "gpt-4o") == 0  # released, as any upstream error under upstream_error: release
    recorded = e.route_metrics.snapshot(T)
    assert ("openai", "kb") not in recorded["keys"] and ("openai", "ka") in recorded["keys"]
