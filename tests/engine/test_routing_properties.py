"""Budget-correct failover under random failure sequences (hypothesis): usage is charged
exactly once, to the model and key that served; never more attempts than candidates; the
counters, the ledger and what the upstreams served agree; a released attempt leaves the
counters as they were."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

import aigw_policy as ap
from aigw_policy.routing.model import AttemptOutcome, Finished, Next, Serve

from .test_routing_engine import policy, request, used


MODELS = ("gpt-4o", "gpt-4o-mini")
FAILURES = [AttemptOutcome(status_code=s) for s in (400, 401, 429, 500, 503)] + [
    AttemptOutcome(error="timeout"), AttemptOutcome(error="connect")]


class ListLedger:
    """A ledger that keeps records in a list."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, rec: Any) -> None:
        self.records.append(rec)

    async def arecord(self, rec: Any) -> None:
        self.records.append(rec)


outcomes = st.one_of(st.sampled_from(FAILURES),
                     st.tuples(st.integers(1, 500), st.integers(0, 500)).map(lambda t: AttemptOutcome(
                         status_code=200, body={"usage": {"prompt_tokens": t[0], "completion_tokens": t[1]}})))


@settings(max_examples=60)
@given(st.lists(st.lists(outcomes, min_size=0, max_size=6), min_size=1, max_size=4))
def test_usage_is_charged_once_to_the_serving_model_and_key(requests: list[list[AttemptOutcome]]) -> None:
    ledger = ListLedger()
    e = ap.Engine(policy(), ledger=ledger)
    served_tokens = dict.fromkeys(MODELS, 0)
    before = dict.fromkeys(MODELS, 0.0)
    for n, answers in enumerate(requests):
        rid = f"r{n}"
        e.evaluate(request(id=rid))
        step = e.attempt(rid, None)
        made = 0
        while isinstance(step, Next):
            made += 1
            # only the attempt in flight holds a reservation (105 tokens: 5 in + 100 max out)
            live = step.attempt.model
            assert {m: used(e, "model-tpm", m) for m in MODELS} == {
                m: before[m] + (105 if m == live else 0) for m in MODELS}
            outcome = answers.pop(0) if answers else AttemptOutcome(status_code=200, body={})
            step = e.attempt(rid, outcome)
        if isinstance(step, Serve):
            final = e.complete(rid, {"status_code": 200, "body": step_body(outcome)})
            served = final.routing["served"]
            assert (served["model"], served["key_id"]) == (step.attempt.model, step.attempt.key.id)
            served_tokens[served["model"]] += final.usage["total_tokens"]
        else:
            assert isinstance(step, Finished) and step.decision.status_code == 503
            final = step.decision
        assert len(final.routing["attempts"]) == made <= len(final.routing["candidates"])
        before = {m: float(served_tokens[m]) for m in MODELS}
        assert {m: used(e, "model-tpm", m) for m in MODELS} == before  # counters = what was served
    by_model = dict.fromkeys(MODELS, 0)
    for rec in ledger.records:
        if rec.status_code == 200:
            by_model[rec.request_model] += rec.total_tokens
            assert rec.route_key_id in ("ka", "kb") and rec.attempts >= 1
    assert by_model == served_tokens  # ledger = counters = upstreams
    assert len(ledger.records) == len(requests)
    assert used(e, "team-rpm", "") == sum(1 for r in ledger.records if r.status_code == 200)


def step_body(outcome: AttemptOutcome) -> Any:
    return outcome.body if outcome.status_code == 200 else {}


@settings(max_examples=40)
@given(st.lists(st.sampled_from(FAILURES), min_size=0, max_size=6))
def test_evaluate_over_simulated_attempts_never_tries_more_than_the_candidates(fails: list[AttemptOutcome]) -> None:
    e = ap.Engine(policy())
    attempts = [{"status_code": f.status_code} if f.status_code else {"error": f.error} for f in fails]
    d = e.evaluate(request(attempts=attempts))
    r = d.routing
    assert len(r["attempts"]) <= len(r["candidates"])
    pairs = [(a["model"], a["key_id"]) for a in r["attempts"]]
    assert len(pairs) == len(set(pairs))
    if r["served"] is None:
        assert d.status_code == 503 and all(used(e, "model-tpm", m) == 0 for m in MODELS)
    else:
        assert r["served"]["attempt"] == len(r["attempts"])
        assert used(e, "model-tpm", r["served"]["model"]) == d.usage["total_tokens"]


def test_under_charge_input_a_failed_attempt_is_charged_what_its_upstream_reported() -> None:
    e = ap.Engine(ap.loads("upstream_error: charge_input\n" + POLICY_TEXT, format="yaml"))
    d = e.evaluate(request(attempts=[
        {"status_code": 500, "body": {"error": {"message": "x"}, "usage": {"prompt_tokens": 40, "completion_tokens": 0}}},
        {"status_code": 200, "body": {"usage": {"prompt_tokens": 5, "completion_tokens": 7}}}]))
    assert d.routing["attempts"][0]["usage"]["input_tokens"] == 40
    assert used(e, "model-tpm", "gpt-4o") == 40 + 12  # the failed attempt's input, then the served usage


POLICY_TEXT = """\
on_http_request:
  - name: budgets
    actions:
      - type: token-limit
        config: {name: model-tpm, capacity: 100000, rate: 1m, bucket_key: ["ai.model"]}
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - id: openai
              api_keys: [{value: "${secrets.get('v','a')}", id: ka}, {value: "${secrets.get('v','b')}", id: kb}]
              models: [{id: gpt-4o}, {id: gpt-4o-mini}]
"""
