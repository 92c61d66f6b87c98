"""Every example policy, each rule's answer from `prove rules` (issue #13): every request-phase
rule of our examples is reachable, and its witness, run through the engine as `explain` runs it
(its `state` seeded), matches the rule and gives the claimed decision. Response-phase rules stay
`unknown` (not modelled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_policy.engine.compile import compile_policy
from aigw_policy.loader import load
from aigw_policy.prove.questions import rules

from .helpers import explain

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED: dict[str, list[tuple[str, str]]] = {
    "acme-gateway": [("premium-models-for-research", "reachable"), ("team-tokens-per-minute", "reachable"),
                     ("tag-slow", "unknown")],
    "content-guard": [("no-credentials-in-prompts", "reachable"), ("jailbreak-phrases", "reachable"),
                      ("no-tools-on-trial", "reachable"), ("clamp-output", "reachable"),
                      ("log-upstream-errors", "unknown")],
    "key-limits": [("key-requests-per-minute", "reachable"), ("key-tokens-per-minute", "reachable"),
                   ("batch-tokens-per-hour", "reachable"), ("request-size", "reachable"),
                   ("remaining-tokens-header", "unknown")],
    "monthly-budget": [("team-monthly-budget", "reachable"), ("org-daily-tokens", "reachable"),
                       ("downgrade-near-cap", "reachable"), ("remember-downgrade", "reachable"),
                       ("budget-warning-header", "unknown")],
    "ngrok-style": [("office-and-vpn-only", "reachable"), ("#2", "reachable"), ("per-ip-rate-limit", "reachable"),
                    ("tag-and-scrub", "reachable"), ("log-server-errors", "unknown"), ("#2", "unknown")],
    "team-model-access": [("embeddings-for-everyone", "reachable"), ("premium-models-for-research", "reachable"),
                          ("trial-keys-small-models", "reachable"), ("no-preview-models-in-prod", "reachable"),
                          ("gemini-for-platform", "reachable")],
}


def test_every_example_has_expectations() -> None:
    names = {p.stem for p in EXAMPLES.glob("*.aigw")} | {p.stem for p in EXAMPLES.glob("*.yaml")}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("path", sorted([*EXAMPLES.glob("*.aigw"), *EXAMPLES.glob("*.yaml")]), ids=lambda p: p.name)
def test_example_rule_answers(path: Path) -> None:
    cp = compile_policy(load(path))
    answers = rules(cp)
    assert [(a.rule, a.result) for a in answers] == EXPECTED[path.stem]
    for a in answers:
        if a.phase == "on_http_response":
            assert a.reason == "the response phase is not modelled"
        if a.result == "reachable":
            verdict, status, rule, matched = explain(cp, a.witness)  # type: ignore[arg-type]
            assert a.rule in matched, (a.rule, a.witness)
            assert a.decision == {"verdict": verdict, "status_code": status, "rule": rule}
