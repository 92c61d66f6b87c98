"""Failover through the real gateway under random upstream answers (hypothesis): the ledger,
the limit store and the stub providers agree — the first answering candidate serves, every
candidate before it was tried once in plan order, usage is charged once to the served model,
and a route where all fail answers 503 having charged nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .providers_stub import OPENAI_USAGE, Reply
from .routing_env import SECRETS, ENV_SECRETS, model_used, oai, record, routed, stubs  # noqa: F401

MSG = [{"role": "user", "content": "hi"}]
# the plan for model gpt-4o with fallback gpt-4o-mini, configured providers only, in order
PLAN = [("alpha", "gpt-4o", "a1", SECRETS["alpha"]["one"]), ("alpha", "gpt-4o", "a2", SECRETS["alpha"]["two"]),
        ("beta", "gpt-4o", "b1", ENV_SECRETS["AIGW_SECRET_BETA_ONLY"]),
        ("alpha", "gpt-4o-mini", "a1", SECRETS["alpha"]["one"]), ("alpha", "gpt-4o-mini", "a2", SECRETS["alpha"]["two"])]
STATUS = st.sampled_from([200, 200, 400, 401, 429, 500, 502, 503])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(STATUS, min_size=len(PLAN), max_size=len(PLAN)))
def test_random_answers(routed: Any, stubs: Any, statuses: list[int]) -> None:
    import openai

    for app, _ in stubs.values():
        app.reset()
    for (provider, model, _, key), status in zip(PLAN, statuses):
        if status != 200:
            stubs[provider][0].push(Reply(status, model=model, key=key))
    before = {m: model_used(routed, m) for m in ("gpt-4o", "gpt-4o-mini")}
    client = oai(routed)
    serving = next((i for i, s in enumerate(statuses) if s == 200), None)
    try:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG,
                                                               extra_body={"models": ["gpt-4o-mini"]})
        status, rid = raw.status_code, raw.headers["x-aigw-decision-id"]
    except openai.APIStatusError as error:
        status, rid = error.status_code, error.response.headers["x-aigw-decision-id"]
    tried = sorted((s["seq"], name, s["model"], s["key"]) for name in ("alpha", "beta") for s in stubs[name][0].seen)
    want = PLAN[: len(PLAN) if serving is None else serving + 1]
    assert [t[1:] for t in tried] == [(p, m, k) for p, m, _, k in want]  # in plan order, each once, none after
    rec = record(routed, rid)
    assert rec["aigw.attempts"] == len(want)
    after = {m: model_used(routed, m) for m in ("gpt-4o", "gpt-4o-mini")}
    if serving is None:
        assert status == 503 and after == before
        return
    provider, model, key_id, _ = PLAN[serving]
    assert status == 200
    assert (rec["gen_ai.provider.name"], rec["gen_ai.request.model"], rec["aigw.route.key_id"]) == (
        provider, model, key_id)
    assert after[model] == before[model] + OPENAI_USAGE["total_tokens"]  # charged once, to the server
    other = "gpt-4o-mini" if model == "gpt-4o" else "gpt-4o"
    assert after[other] == before[other]
