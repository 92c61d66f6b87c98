"""docs/routing.md keeps up with the code: each YAML example and the DSL beside it are the
same policy (the DSL as the printer writes it), and the explain sample is what `explain`
prints for the documented request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aigw_policy as ap
from aigw_policy.engine.explain_text import decision_text
from aigw_policy.fmt import print_dsl

DOC = (Path(__file__).resolve().parents[2] / "docs" / "routing.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC, re.S)
PAIRS = [(BLOCKS[i][1], BLOCKS[i + 1][1]) for i in range(len(BLOCKS) - 1)
         if BLOCKS[i][0] == "yaml" and BLOCKS[i + 1][0] == "" and BLOCKS[i + 1][1].startswith("policy {")]

REQUEST = {
    "id": "req-7", "now": "2026-11-26T12:00:00Z", "identity": {"team": "research"},
    "request": {"url": "https://gateway.example/v1/chat/completions",
                "body": {"model": "gpt-4o", "models": ["gpt-4o", "gpt-4o-mini"], "max_tokens": 300,
                         "messages": [{"role": "user", "content": "Summarise the incident report."}]}},
    "state": {"limits": {"team-daily-usd": {"research|gpt-4o": {"used": 49.999}}}},
    "attempts": [{"status_code": 429, "latency_ms": 35},
                 {"status_code": 200, "latency_ms": 820, "body": {
                     "model": "gpt-4o-mini", "usage": {"prompt_tokens": 12, "completion_tokens": 240}}}],
}


def test_the_yaml_and_dsl_examples_are_the_same_policies() -> None:
    assert len(PAIRS) == 3
    for yaml_text, dsl_text in PAIRS:
        assert print_dsl(ap.loads(yaml_text, format="yaml")) == dsl_text
        assert print_dsl(ap.loads(dsl_text, format="dsl")) == dsl_text


def test_the_explain_sample_is_what_explain_prints(tmp_path: Path) -> None:
    policy_file = tmp_path / "budget.yaml"
    policy_file.write_text(PAIRS[1][0])
    decision = ap.Engine(ap.load(policy_file)).evaluate(json.loads(json.dumps(REQUEST)), apply_state=True)
    text = decision_text(decision).replace(str(policy_file), "budget.yaml")
    sample = next(body for lang, body in BLOCKS if body.startswith("ALLOW 200: served"))
    assert text.strip() == sample.strip()
