"""`prove rules` as lint runs it, bounded by counts: the rules encoded, the earlier rules
scanned for one rule's answer and the solver checks made grow linearly with the rules, the
budget's total is checked between rules (encoding included), and a rule left unasked gets no
solver warning, only lint's syntactic one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.prove import questions
from aigw_policy.prove.questions import Budget, rules

from .helpers import compiled

TEAMS = 3


def repeated(n: int) -> str:
    """``n`` deny rules over ``TEAMS`` teams: each after the first of its team is shadowed by
    it, every other one with a second condition (its texts a superset of the first's)."""
    out = ["on_http_request:"]
    for i in range(n):
        when = [f"identity.team == 't{i % TEAMS}'"] + (["ai.stream"] if i >= TEAMS and i % 2 else [])
        out += [f"  - name: r{i}", "    expressions: [" + ", ".join(f'"{w}"' for w in when) + "]",
                "    actions: [{type: deny}]"]
    return "\n".join(out) + "\n"


class Countdown(Budget):
    """A budget whose time is up after ``left`` looks (no clock: the same on any machine)."""

    def __init__(self, left: int, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.left = left

    def spent(self) -> bool:
        self.left -= 1
        return self.left < 0


@pytest.mark.parametrize("n", [30, 90])
def test_work_is_linear_in_rules(n: int) -> None:
    budget = Budget(per_check=5.0)
    answers = rules(compiled(repeated(n)), budget=budget, witnesses=False)
    first = {f"t{i}": f"r{i}" for i in range(TEAMS)}
    for i, a in enumerate(answers[TEAMS:], TEAMS):
        assert (a.result, a.by) == ("shadowed", [first[f"t{i % TEAMS}"]]), a
    assert budget.encoded == n
    # each shadowed rule looks at the first rule of its team, the first candidate: never at
    # every earlier rule
    assert budget.scanned == n - TEAMS
    assert len(budget.asked) <= 3 * n


def test_a_spent_budget_encodes_nothing() -> None:
    cp = compiled(repeated(10))
    for witnesses in (False, True):
        budget = Budget(per_check=5.0, total=0.0)
        answers = rules(cp, budget=budget, witnesses=witnesses)
        assert budget.encoded == 0 and not budget.asked and budget.scanned == 0
        assert {(a.result, a.reason) for a in answers} == {("unknown", "not asked: the solver's time ran out")}


def test_the_budget_is_checked_between_rules() -> None:
    budget = Countdown(4, per_check=5.0)
    answers = rules(compiled(repeated(10)), budget=budget, witnesses=False)
    assert budget.encoded == 4
    assert [a.result for a in answers[:4]] == ["reachable"] * 3 + ["shadowed"]
    assert {a.result for a in answers[4:]} == {"unknown"}


def test_lint_keeps_the_syntactic_warning_for_rules_left_unasked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("on_http_request:\n  - name: all\n    actions: [{type: deny}]\n"
                    "  - name: after\n    actions: [{type: log}]\n"
                    "  - name: never\n    expressions: ['ai.max_output_tokens > 10 && ai.max_output_tokens < 5']\n"
                    "    actions: [{type: log}]\n")

    def lint(left: int) -> set[tuple[str, str]]:
        monkeypatch.setattr(questions, "Budget", lambda *a: Countdown(left, per_check=5.0))
        result = CliRunner().invoke(app, ["lint", str(path), "--format", "json"])
        return {(d["code"], d["message"].split("`")[1]) for d in json.loads(result.output)["diagnostics"]}

    asked = lint(10)
    assert {("AIGW421", "after"), ("AIGW420", "never")} <= asked and not any(c == "AIGW401" for c, _ in asked)
    first = lint(2)  # `never` unasked: the syntactic warning stays, no solver warning
    assert ("AIGW421", "after") in first and ("AIGW401", "never") in first
    assert not any(name == "never" and code.startswith("AIGW42") for code, name in first)
    none = lint(0)
    assert {("AIGW401", "after"), ("AIGW401", "never")} <= none and not any(c.startswith("AIGW42") for c, _ in none)
