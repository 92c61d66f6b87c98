"""A routed background ``POST`` settles both its reservations, the request's (``rid``) and the
serving attempt's (``rid#n``): their token limits move to ``bg:{id}`` and their rate limits
stay charged. A reservation left unsettled is released when it expires (``reservation_ttl``):
a rate limit of the one whose token limits had all moved (or that had none) was given back
two hours later, as if the request had never been made.

Each row: which limit depends on the model (charged per attempt) and which is the request's;
the rate limit's count two hours after the ``POST`` is 1 either way."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy.limits.model import Charge
from aigw_policy.routing.model import AttemptOutcome

QUEUED = {"id": "resp_1", "object": "response", "status": "queued", "background": True, "model": "gpt-4o",
          "output": [], "usage": None}
T0 = 1_794_963_600.0  # 2026-11-18 01:00 UTC (with the wall clock, the test failed in the last 2 hours of a UTC day)
RATE = "{name: rpd, capacity: 100, rate: 1d, bucket_key: [KEY]}"
TOKENS = "{name: tokens, capacity: 1000000, rate: 1d, bucket_key: [KEY]}"
ROWS = [  # (id, the rate limit's bucket, the token limit's bucket): ai.model makes it per attempt
    ("rate limit per attempt, tokens the request's", "ai.model", "identity.team"),
    ("rate limit the request's, tokens per attempt", "identity.team", "ai.model"),
    ("both per attempt", "ai.model", "ai.model"),
    ("both the request's", "identity.team", "identity.team"),
]


@pytest.mark.parametrize(("rate", "tokens"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_routed_background_posts_rate_limits_stay_charged(rate: str, tokens: str) -> None:
    policy = f"""\
on_http_request:
  - name: budgets
    actions:
      - {{type: rate-limit, config: {RATE.replace("KEY", rate)}}}
      - {{type: token-limit, config: {TOKENS.replace("KEY", tokens)}}}
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers: [{{id: openai, api_keys: [{{value: k, id: ka}}], models: [{{id: gpt-4o}}]}}]
"""
    e = ap.Engine(ap.loads(policy, format="yaml"))
    t0 = T0  # a fixed time early in a day: at t0 + 2 h the day's sliding window is still the same one
    body = {"model": "gpt-4o", "input": "hi", "max_output_tokens": 100, "background": True}
    e.evaluate({"id": "r1", "identity": {"team": "t"},
                "request": {"method": "POST", "url": "https://api.openai.com/v1/responses", "body": body}}, now=t0)
    e.attempt("r1", None)
    e.attempt("r1", AttemptOutcome(status_code=200, body=QUEUED))
    e.complete("r1", {"status_code": 200, "body": QUEUED}, now=t0 + 1)
    spec = e.compiled.limits["tokens"][1].limit.spec  # type: ignore[union-attr]
    held = e.store.check([Charge(spec, "gpt-4o" if tokens == "ai.model" else "t", 0.0)], t0 + 2)[0].used
    assert held == 105  # the input estimate (5) + max_output_tokens, held under bg:resp_1 (until read)
    spec = e.compiled.limits["rpd"][1].limit.spec  # type: ignore[union-attr]
    key = "gpt-4o" if rate == "ai.model" else "t"
    assert e.store.check([Charge(spec, key, 0.0)], t0 + 7200)[0].used == 1  # past the reservation's time
