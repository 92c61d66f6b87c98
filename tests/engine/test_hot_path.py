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
    rule "usd" { when ai.model == 'gpt-4o' usage-cap { name: "usd", limit: 0.5, unit: "usd", period: "month", bucket_key: [identity.team],
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


def _response(status: int, tokens: int, model: str = "gpt-4o") -> dict[str, Any]:
    return {"status_code": status, "headers": {"content-type": "application/json", "x-up": "1"},
            "body": {"model": model, "usage": {"prompt_tokens": tokens, "completion_tokens": 7,
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
    steps = [(_request(i, team, model, mt), _response(status, tokens, model))
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


READS_LIMITS = """
policy "reads" {
  on request {
    rule "v" { set-vars { vars: [{ "at": "${time.now}" }, { "who": "${identity.team}" }] } }
    rule "tpm" { token-limit { name: "tpm", capacity: 5000, rate: 60s, bucket_key: [identity.team] } }
  }
  on response {
    rule "l" { when limits['tpm'].used > 100.0 && actions.aigw.token_limit.bucket_key == identity.team
               add-headers { headers: { "x-used": "${string(limits['tpm'].used)} ${vars.who}" } } }
  }
}
"""


class _NoMarshal:
    """marshal as a state marshal refuses meets it: every state is pickled (the plain path)."""

    @staticmethod
    def dumps(value: Any) -> bytes:
        raise ValueError("unmarshallable object")

    loads = staticmethod(__import__("marshal").loads)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([POLICY, READS_LIMITS]),
       st.lists(st.tuples(st.sampled_from(["research", "ops"]), st.integers(1, 900), st.sampled_from([200, 500]),
                          st.integers(0, 900)), min_size=1, max_size=5))
def test_a_marshal_parked_request_completes_as_a_pickled_one(text: str, draws: list[tuple[Any, ...]]) -> None:
    policy = ap.loads(text)
    steps = [(_request(i, team, "gpt-4o", mt), _response(status, tokens))
             for i, (team, mt, status, tokens) in enumerate(draws)]

    def run(forced_pickle: bool) -> list[Any]:
        with pytest.MonkeyPatch.context() as m:
            if forced_pickle:
                m.setattr(pending, "marshal", _NoMarshal)
            engine = ap.Engine(policy)
            out = []
            for req, resp in steps:
                first = engine.evaluate(req)
                parked = engine._pending.get(first.id)
                out.append((first.to_dict(), parked is not None and parked.blob[:1] != b"\x80"))
                if not first.complete:
                    out.append(engine.complete(first.id, resp).to_dict())
            return out

    marshalled, pickled = run(False), run(True)
    assert not any(x[1] for x in pickled if isinstance(x, tuple))
    strip = lambda xs: [x[0] if isinstance(x, tuple) else x for x in xs]  # noqa: E731
    assert strip(marshalled) == strip(pickled)


@pytest.mark.parametrize("value", ["timestamp(time.now)", "duration('90s')", "1u"])
def test_a_state_marshal_refuses_is_pickled_and_completes(value: str) -> None:
    # a `${...}` var keeps its CEL type (a timestamp, a duration, a uint): marshal refuses them
    text = READS_LIMITS.replace('"${time.now}"', '"${%s}"' % value)
    engine = ap.Engine(ap.loads(text))
    first = engine.evaluate(_request(1, "research", "gpt-4o", 50))
    assert engine._pending[first.id].blob[:1] == b"\x80"  # a pickle
    final = engine.complete(first.id, _response(200, 300))
    assert final.effects["response_headers"]["add"]["x-used"].endswith("research")
    assert final.to_dict() == ap.Engine(ap.loads(text)).evaluate(
        {**_request(1, "research", "gpt-4o", 50), "response": _response(200, 300)}).to_dict()


def test_published_limits_are_dropped_when_no_response_text_reads_them() -> None:
    engine = ap.Engine(ap.loads(POLICY))
    first = engine.evaluate(_request(1, "research", "gpt-4o", 50))
    parked = engine._pending[first.id]
    assert parked.blob[:1] != b"\x80"
    act = parked.state()[0]
    assert "limits" not in act and "actions" not in act and "vars" in act


REQUEST_ONLY = POLICY[:POLICY.index("  on response {")] + "}\n"
READS_ALL = REQUEST_ONLY[:-2] + """  on response {
    rule "never" { when res.status_code < 0 && ai.usage.total_tokens < 0 && limits['tpm'].used < 0.0
                   && ai.cost_usd < 0.0 && res.content_type == ''
                   custom-response { status_code: 500 } }
  }
}
"""


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["research", "ops"]), st.sampled_from(["gpt-4o", "nope-9"]),
                          st.integers(1, 900), st.sampled_from([200, 500]), st.integers(0, 900)),
                min_size=1, max_size=5))
def test_a_response_phase_nothing_reads_decides_as_one_that_reads_all(draws: list[tuple[Any, ...]]) -> None:
    # without response-phase reads the response's variables and the settled limits are not
    # set in the activation: a rule that reads them all and never matches changes nothing
    steps = [(_request(i, team, model, mt), _response(status, tokens, model))
             for i, (team, model, mt, status, tokens) in enumerate(draws)]

    def run(text: str) -> list[Any]:
        engine = ap.Engine(ap.loads(text))
        out = []
        for req, resp in steps:
            first = engine.evaluate(req)
            out.append(first.to_dict())
            if not first.complete:
                out.append(engine.complete(first.id, resp).to_dict())
        return out

    assert not ap.Engine(ap.loads(REQUEST_ONLY)).compiled.response_reads.names
    assert run(REQUEST_ONLY) == run(READS_ALL)


def test_the_response_phase_sees_the_settled_limits() -> None:
    engine = ap.Engine(ap.loads(READS_LIMITS.replace('"${time.now}"', '"x"')))
    first = engine.evaluate(_request(1, "research", "gpt-4o", 900))
    final = engine.complete(first.id, _response(200, 300))
    used = final.limits[0]["used"]
    assert final.limits[0]["settled"] == "reconciled" and used == 307.0
    assert final.effects["response_headers"]["add"]["x-used"] == "307 research"
