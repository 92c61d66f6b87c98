"""Recording a trace does not switch the engine onto another path: a traced evaluation
dispatches rules through the index as production does, and its trace is the one an
evaluation without the index records (rules the index skipped shown as not matched, with
their conditions)."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy.engine.index import RuleIndex

TEAMS = [f"t{i}" for i in range(10)]
POLICY = "policy { on request {\n" + "\n".join(
    f'rule "team-{t}" {{ when identity.team == "{t}"\n when ai.model != "x"\n add-headers {{ headers: {{ "x-team": "{t}" }} }} }}'
    for t in TEAMS
) + '\nrule "models" { when ai.model in ["gpt-4o", "gpt-4.1"]\n set-model { model: "gpt-4.1-mini" } }' \
    + '\nrule "after" { when ai.model == "gpt-4.1-mini"\n deny 403 "mini" }' \
    + '\nrule "last" { when identity.team == "t9"\n log } } }'


def _request(team: str | None, model: str = "gpt-4o") -> dict:
    identity = {"key": "k"} if team is None else {"key": "k", "team": team}
    return {"now": "2026-11-26T12:00:00Z", "identity": identity,
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}}


@pytest.mark.parametrize(("team", "model"), [("t3", "gpt-4o"), ("t9", "o3"), (None, "o3"), ("zz", "gpt-4.1")])
def test_a_traced_evaluation_uses_the_index_and_records_every_rule(monkeypatch: pytest.MonkeyPatch,
                                                                   team: str | None, model: str) -> None:
    policy = ap.loads(POLICY, "dsl")
    indexed = ap.Engine(policy, trace=True)
    plain = ap.Engine(policy, trace=True, index=False)
    assert indexed.compiled.request_index is not None
    calls = []
    candidates = RuleIndex.candidates

    def counted(self: RuleIndex, act: dict, start: int = 0) -> list[int]:
        calls.append(start)
        return candidates(self, act, start)

    monkeypatch.setattr(RuleIndex, "candidates", counted)
    got = indexed.evaluate(_request(team, model), expect_response=False).to_dict()
    assert calls, "the traced evaluation bypassed the index"
    want = plain.evaluate(_request(team, model), expect_response=False).to_dict()
    got.pop("id"), want.pop("id")  # generated
    assert got == want and len(got["trace"]) == len(plain.compiled.request_rules) or got["verdict"] == "deny"
