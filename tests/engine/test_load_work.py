"""Reading and compiling a policy does each CEL text's work once, and grows linearly with
the number of rules (counted, never timed: tests/work.py)."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy.cel import environment, parser
from aigw_policy.cel.api import clear_cache
from aigw_policy.cel.parser import clear_memo
from aigw_policy.engine.compile import compile_policy
from aigw_policy.syntax.yaml_form import dump_yaml

from work import calls

MODELS = ["gpt-4.1", "o3", "claude-opus-4", "gemini-2.5-pro"]


def dsl(n: int) -> str:
    rules = "\n".join(f'rule "t{i}" {{ when identity.team == "team{i}" && ai.model in ["{MODELS[i % 4]}", "gpt-4o"]'
                      f"\n  deny 403 }}" for i in range(n))
    return "policy {\n on request {\n" + rules + "\n }\n}\n"


def cold() -> None:
    clear_cache()
    clear_memo()


@pytest.mark.parametrize("form", ["dsl", "yaml"])
def test_each_text_is_parsed_once_and_checked_once(form, monkeypatch):
    text = dsl(30) if form == "dsl" else dump_yaml(ap.loads(dsl(30)))
    parsed: list[str] = []
    checked: list[object] = []
    parse, check = parser._parse, environment.run_check
    monkeypatch.setattr(parser, "_parse", lambda t, s, o: parsed.append(t) or parse(t, s, o))
    monkeypatch.setattr(environment, "run_check", lambda node, *a, **k: checked.append(node) or check(node, *a, **k))
    cold()
    compiled = compile_policy(ap.loads(text, form))
    texts = [e.source for r in compiled.request_rules for e in r.exprs]
    # lint and the compiler share one parse: the YAML form's, of each text; the DSL's own parse of the
    # document, lowered (cel.parser.remember_tree), so none of its texts is parsed again
    assert len(texts) == 30 and sorted(parsed) == ([] if form == "dsl" else sorted(texts))
    assert len(checked) == 30  # and one type-check: the compiler reuses lint's


def test_a_text_lint_found_wrong_does_not_compile():
    from aigw_policy.cel import CelError
    from aigw_policy.env import check_text, compile_conditions

    cold()
    text = "identity.team + 1 > 2"
    assert check_text(text)[1]  # lint's memoized check holds the type error
    [result] = compile_conditions([text])
    assert isinstance(result, CelError) and result.code == "check_error"


def test_loading_and_compiling_grow_linearly():
    def work(n: int) -> int:
        text = dsl(n)
        cold()
        return calls(lambda: compile_policy(ap.loads(text)))

    work(40)  # the parsers and environments are built once per process, not counted
    small, large = work(40), work(160)
    assert large < 4.4 * small, (small, large)  # 4x the rules: no pass over pairs of rules
