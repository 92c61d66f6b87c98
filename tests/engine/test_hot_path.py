"""The per-request fast paths of issue #15 decide exactly as the plain paths do:

- a decision's details built one by one on first access (in any order, a finished request's
  from what :meth:`Decision.detach` keeps) equal those built all at once from the live state;
- a request parked as marshal'd values completes as one parked with pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine import decision as decision_mod
from aigw_policy.engine import pending
from aigw_policy.engine.decision import Decision

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PARTS = tuple(decision_mod._PARTS)

POLICY = """
policy "hot" {
  on request {
    rule "v" { set-vars { vars: [{ "who": "${identity.team}" }] } }
    rule "rpm" { rate-limit { name: "rpm", capacity: 3, rate: 60s, bucket_key: [identity.team] } }
    rule "tpm" { token-limit { name: "tpm", capacity: 2000, rate: 60s, bucket_key: [identity.team] } }
    rule "usd" { usage-cap { name: "usd", limit: 0.5, unit: "usd", period: "month", bucket_key: [identity.team],
                             enforce: false } }
    rule "h" { add-headers { headers: { "x-team": "${identity.team}" } } }
  }
  on response {
    rule "slow" { when res.status_code >= 500 log { metadata: { "e": "${res.status_code}", "w": "${vars.who}" } } }
    rule "tag" { when ai.usage.total_tokens > 10 add-headers { headers: { "x-used": "${string(ai.usage.total_tokens)}" } } }
  }
}
"""


def _request(i: int, team: str, model: str, max_tokens: int) -> dict[str, Any]:
    return {"id": f"r{i}", "now": "2026-11-26T12:00:00Z", "identity": {"key": f"k{i}", "team": team},
            "conn": {"client_ip": "203.0.113.7"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": model, "max_tokens": max_tokens,
                                 "messages": [{"role": "user", "content": "summarise the notes " * (i % 4 + 1)}]}}}


def _response(status: int, tokens: int) -> dict[str, Any]:
    return {"status_code": status, "headers": {"content-type": "application/json", "x-up": "1"},
            "body": {"model": "gpt-4o", "usage": {"prompt_tokens": tokens, "completion_tokens": 7,
                                                   "total_tokens": tokens + 7}}}


def _eager_detach(self: Decision) -> None:
    """The plain path: every detail built at once from the live state, then the state dropped."""
    if self._flow is None:
        return
    for name in PARTS:
        self._part(name)
    self._flow = None
    self._stop = None


def _run(policy: Any, steps: list[tuple[dict[str, Any], dict[str, Any]]], order: list[str] | None,
         monkeypatch: pytest.MonkeyPatch, eager: bool) -> list[Any]:
    out: list[Any] = []
    with monkeypatch.context() as m:
        if eager:
            m.setattr(Decision, "detach", _eager_detach)
        engine = ap.Engine(policy)
        for req, resp in steps:
            first = engine.evaluate(req, request_id=req.get("id"))
            if eager:
                out.append(first.to_dict())
            else:
                for name in order or ():
                    getattr(first, name)
            if not first.complete:
                final = engine.complete(first.id, resp)
                for name in order or () if not eager else ():
                    getattr(final, name)
                out.append(final.to_dict())
                out.append(final.text(trace=True))
            if not eager:
                out.insert(len(out) - (0 if first.complete else 2), first.to_dict())
    return out


orders = st.lists(st.sampled_from(PARTS), max_size=5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["research", "ops"]), st.sampled_from(["gpt-4o", "nope-9"]),
                          st.integers(1, 900), st.sampled_from([200, 200, 429, 503]), st.integers(0, 900)),
                min_size=1, max_size=6), orders)
def test_lazy_details_equal_the_eager_ones(draws: list[tuple[Any, ...]], order: list[str]) -> None:
    policy = ap.loads(POLICY)
    steps = [(_request(i, team, model, mt), _response(status, tokens))
             for i, (team, model, mt, status, tokens) in enumerate(draws)]
    with pytest.MonkeyPatch.context() as mp:
        assert _run(policy, steps, order, mp, False) == _run(policy, steps, None, mp, True)


@pytest.mark.parametrize("path", sorted((EXAMPLES / "requests").glob("*.json")), ids=lambda p: p.stem)
def test_lazy_details_equal_the_eager_ones_for_the_examples(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = next(p.stem for p in EXAMPLES.glob("*.aigw") if p.stem.split("-")[0] == path.stem.split("-")[0])
    policy = ap.load(EXAMPLES / f"{name}.aigw")
    req = json.loads(path.read_text())
    req.pop("state", None)
    steps = [(req, _response(200, 40))]
    assert _run(policy, steps, ["effects", "route"], monkeypatch, False) == _run(policy, steps, None, monkeypatch, True)


def test_a_finished_decision_keeps_no_response_body_nor_activation() -> None:
    engine = ap.Engine(ap.loads(POLICY))
    first = engine.evaluate(_request(1, "research", "gpt-4o", 50))
    final = engine.complete(first.id, _response(200, 30))
    kept = final._flow
    assert type(kept).__name__ == "_Finished" and set(kept.act) == {"ai", "vars"}
    assert not any(isinstance(getattr(kept, s), dict) and "body" in getattr(kept, s) for s in kept.__slots__)
