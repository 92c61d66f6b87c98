"""SPEC §9: a policy of many rules keyed on identity or model is not much slower than one of
ten, because the rules are indexed. Counted, not timed: a request's candidate rules (the
rules the engine evaluates) are as many under 1,000 rules as under 10."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.engine.index import RuleIndex

SIZES = (10, 1_000)


def _policy(n: int) -> ap.Policy:
    """``n`` rules, half keyed on the team, half on the model, one of them on both."""
    rules = []
    for i in range(n):
        when = f'identity.team == "t{i}"' if i % 2 == 0 else f'ai.model in ["m{i}", "n{i}"]'
        if i == 6:
            when = 'identity.team == "t6" && ai.model == "m6"'
        rules.append(f'rule "r{i}" {{ when {when}\n deny 403 "r{i}" }}')
    return ap.loads("policy { on request {\n" + "\n".join(rules) + "\n} }", "dsl")


ENGINES = {n: ap.Engine(_policy(n)) for n in SIZES}


def _request(team: str, model: str) -> dict[str, Any]:
    return {"now": "2026-11-26T12:00:00Z", "identity": {"key": "k", "team": team},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}}


@pytest.mark.parametrize(("team", "model", "rule"), [
    ("t4", "m7", "r4"),      # the team's rule comes first
    ("zz", "n3", "r3"),      # the model's, by its second name
    ("t6", "m6", "r6"),      # keyed on both
    ("t6", "m5", "r5"),      # the team's rule on both keys does not match; the model's does
    ("zz", "zz", None),      # no rule
])
def test_the_rules_evaluated_do_not_grow_with_the_policy(monkeypatch: pytest.MonkeyPatch, team: str, model: str,
                                                         rule: str | None) -> None:
    evaluated: dict[int, int] = {}
    candidates = RuleIndex.candidates
    for n, engine in ENGINES.items():
        seen: list[int] = []

        def counted(self: RuleIndex, act: dict[str, Any], start: int = 0, seen: list[int] = seen) -> list[int]:
            out = candidates(self, act, start)
            seen.append(len(out))
            return out

        monkeypatch.setattr(RuleIndex, "candidates", counted)
        decision = engine.evaluate(_request(team, model), expect_response=False)
        assert decision.rule == rule, n
        assert seen, f"{n} rules: the request did not go through the index"
        evaluated[n] = sum(seen)
    assert evaluated[SIZES[1]] == evaluated[SIZES[0]] <= 3, evaluated
