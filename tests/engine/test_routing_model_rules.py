"""A model rule before an ``ai-gateway`` action holds for every model the route sends.

The request phase decides on the model the client wrote; the route sends the catalog's model
(names are case-insensitive, ngrok's ``provider:model`` names a provider, aliases resolve) and
falls over to the client's ``models: [...]`` fallbacks. A ``deny`` whose condition reads
``ai.model`` (SPEC's own first example) or a ``model-access`` list was passed by writing the
denied model another way (``GPT-4.1``, ``openai:gpt-4.1``), or by naming it as a fallback
(``{"model": "no-such", "models": ["gpt-4.1"]}``: the unknown name is dropped, the fallback
served). Each such rule is now asked again of each candidate (``routing.candidates[].
skipped_because``); when it refuses them all, the answer is 403 ``model_not_allowed``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

import aigw_policy as ap
from aigw_policy.routing.model import AttemptOutcome, Finished, Next, Serve

POLICY = """\
on_http_request:
  - name: no-41
    expressions: ["ai.model == 'gpt-4.1'"]
    actions: [{type: deny, config: {status_code: 403, message: "gpt-4.1 is reserved"}}]
  - name: access
    actions: [{type: model-access, config: {deny: ["gpt-4.5*", "*/o3"]}}]
  - name: no-mini-answer
    expressions: ["ai.model == 'gpt-4o-mini'"]
    actions: [{type: custom-response, config: {status_code: 418, body: "no mini"}}]
  - name: shadow-nano
    mode: shadow
    expressions: ["ai.model == 'gpt-4.1-nano'"]
    actions: [{type: deny}]
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - id: openai
              api_keys: [{value: sk-one, id: k1}]
"""

BEFORE_ROUTE = {"access (request)": "access"}
OK = AttemptOutcome(status_code=200, body={"usage": {"prompt_tokens": 3, "completion_tokens": 2}})
FAIL = AttemptOutcome(status_code=500)

# (id, body, the upstream answers in order, the models tried, the final status, who refused)
ROWS = [
    ("upper-case", {"model": "GPT-4.1"}, [], [], 403, "no-41"),
    ("mixed-case", {"model": "Gpt-4.1"}, [], [], 403, "no-41"),
    ("provider-prefix", {"model": "openai:gpt-4.1"}, [], [], 403, "no-41"),
    ("prefix-upper", {"model": "OPENAI:GPT-4.1"}, [], [], 403, "no-41"),
    ("fallback-after-unknown", {"model": "no-such-model", "models": ["gpt-4.1"]}, [], [], 403, "no-41"),
    ("fallback-after-failure", {"model": "gpt-4o", "models": ["gpt-4.1"]}, [FAIL], ["gpt-4o"], 503, "no-41"),
    ("model-access-glob-case", {"model": "GPT-4.5-preview"}, [], [], 403, "access (request)"),
    ("model-access-provider-glob", {"model": "openai:O3"}, [], [], 403, "access"),
    ("model-access-fallback", {"model": "no-such-model", "models": ["o3"]}, [], [], 403, "access"),
    ("custom-response-rule", {"model": "GPT-4o-mini"}, [], [], 403, "no-mini-answer"),
    ("shadow-rule-is-no-gate", {"model": "gpt-4o", "models": ["gpt-4.1-nano"]}, [FAIL, OK],
     ["gpt-4o", "gpt-4.1-nano"], 200, None),
    ("allowed-model-served", {"model": "GPT-4o"}, [OK], ["gpt-4o"], 200, None),
    ("allowed-fallback-served", {"model": "gpt-4o", "models": ["gpt-4.1", "gpt-4.1-mini"]}, [FAIL, OK],
     ["gpt-4o", "gpt-4.1-mini"], 200, "no-41"),
]


def _request(rid: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid, "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                                   "headers": {"content-type": "application/json"},
                                   "body": {**body, "messages": [{"role": "user", "content": "hi"}]}}}


def _run(engine: Any, rid: str, body: dict[str, Any], answers: list[AttemptOutcome]) -> tuple[list[str], Any]:
    """The models attempted and the final decision of one routed request."""
    first = engine.evaluate(_request(rid, body))
    if first.verdict != "allow":
        return [], first
    step = engine.attempt(rid, None)
    tried = []
    while isinstance(step, Next):
        tried.append(step.attempt.model)
        step = engine.attempt(rid, answers.pop(0) if answers else OK)
    if isinstance(step, Serve):
        return tried, engine.complete(rid, {"status_code": 200, "headers": {}, "body": OK.body})
    assert isinstance(step, Finished)
    return tried, step.decision


@pytest.fixture(scope="module")
def engine() -> Any:
    return ap.Engine(ap.loads(POLICY, format="yaml"))


@pytest.mark.parametrize(("body", "answers", "tried", "status", "refused_by"),
                         [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_a_model_rule_holds_for_every_model_the_route_sends(engine: Any, body: dict[str, Any],
                                                            answers: list[AttemptOutcome], tried: list[str],
                                                            status: int, refused_by: str | None) -> None:
    made, decision = _run(engine, f"r-{id(body)}", body, list(answers))
    assert made == tried
    assert decision.status_code == status
    if refused_by in BEFORE_ROUTE:  # a name model-access reads as the route does: refused before it
        assert (decision.rule, decision.kind, made) == (BEFORE_ROUTE[refused_by], "model-access", [])
        return
    skipped = [c["skipped_because"] or "" for c in decision.to_dict()["routing"]["candidates"]]
    if refused_by is None:
        assert not any(s.startswith("refused by rule") for s in skipped)
    else:
        assert any(s.startswith(f"refused by rule `{refused_by}`") for s in skipped), skipped
    if status == 403:
        assert decision.kind == "route-error" and "model_not_allowed" in str(decision.response["body"])


def test_the_rule_itself_still_refuses_the_name_it_reads(engine: Any) -> None:
    _, decision = _run(engine, "r-plain", {"model": "gpt-4.1"}, [])
    assert (decision.status_code, decision.rule, decision.reason) == (403, "no-41", "gpt-4.1 is reserved")


_CASES = st.lists(st.booleans(), min_size=7, max_size=7).map(
    lambda flips: "".join(ch.upper() if up else ch for ch, up in zip("gpt-4.1", flips)))


@settings(max_examples=40, deadline=None)
@given(name=_CASES, prefix=st.sampled_from(["", "openai:", "OpenAI:"]),
       first=st.sampled_from([[], ["no-such-model"], ["gpt-4o"]]))
def test_gpt_41_is_never_attempted_however_it_is_written(engine: Any, name: str, prefix: str,
                                                          first: list[str]) -> None:
    body = {"model": first[0], "models": [prefix + name]} if first else {"model": prefix + name}
    made, decision = _run(engine, "r-prop", body, [FAIL])
    assert "gpt-4.1" not in [m.lower() for m in made]
    assert decision.status_code in (403, 503)
