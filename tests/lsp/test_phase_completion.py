"""Completion offers what the rule's phase can run: lint refuses an action in a phase it does
not run in (AIGW134, an error) and warns on a request rule reading the response (AIGW404:
every such read fails the rule), so neither is offered there. Each row, in the DSL and in
YAML: what is completed at the cursor in each phase, and for each offered item that the
phase refuses, lint is asked to confirm it does."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from aigw_policy.analysis.free_vars import ACTIVATION_READS
from aigw_policy.cli.lint import LintOptions, lint_text
from aigw_policy.ir.actions import ACTIONS
from aigw_policy.lsp.completion import complete
from aigw_policy.lsp.context import context_at

EDIT = types.Range(types.Position(0, 0), types.Position(0, 0))
DSL = 'policy "p" {\n  on %s {\n    rule "r" {\n      %s\n    }\n  }\n}\n'
YAML = "on_http_%s:\n  - expressions: [\"%s\"]\n    actions: [{type: %s}]\n"
RESPONSE_FUNCTIONS = {f for f, read in ACTIVATION_READS.items() if read.startswith("res.")}


def _labels(text: str, dsl: bool) -> set[str]:
    at = text.index("|")
    text = text[:at] + text[at + 1:]
    return {i.label for i in complete(context_at(text, at, dsl), None, dsl, EDIT)}


def _codes(text: str, dsl: bool) -> set[str]:
    _, _, found = lint_text(Path("p.aigw" if dsl else "p.yaml"), text, LintOptions())
    return {d.code for d in found}


@pytest.mark.parametrize("phase", ["request", "response"])
def test_actions_offered_are_those_the_phase_runs(phase: str) -> None:
    offered = _labels(DSL % (phase, "|"), True) & set(ACTIONS)
    yaml = _labels(f"on_http_{phase}:\n  - actions:\n      - type: |\n", False)
    runs = {t for t, a in ACTIONS.items() if f"on_http_{phase}" in a.PHASES}
    assert offered == runs and yaml == runs
    # lint refuses by the same table (an action's PHASES); one that needs no config, to see it
    refused = "deny" if phase == "response" else "compress-response"
    assert refused not in offered and "AIGW134" in _codes(DSL % (phase, refused), True)


@pytest.mark.parametrize("dsl", [True, False], ids=["dsl", "yaml"])
def test_a_request_rule_is_not_offered_the_response(dsl: bool) -> None:
    marked = DSL % ("request", "when |\n      log") if dsl else YAML % ("request", "|", "log")
    offered = _labels(marked, dsl)
    assert "ai" in offered and "getReqHeader" in offered
    assert not offered & ({"res"} | RESPONSE_FUNCTIONS), offered & ({"res"} | RESPONSE_FUNCTIONS)
    response = _labels(DSL % ("response", "when |\n      log") if dsl else YAML % ("response", "|", "log"), dsl)
    assert {"res"} | RESPONSE_FUNCTIONS <= response
    read = "res.status_code == 200"
    reading = DSL % ("request", f"when {read}\n      log") if dsl else YAML % ("request", read, "log")
    assert "AIGW404" in _codes(reading, dsl)
