"""``mode shadow`` (DSL) / ``mode: shadow`` (YAML) on a rule: parsed, printed, converted, linted."""

from __future__ import annotations

import aigw_policy as ap
from aigw_policy.fmt import format_policy
from aigw_policy.syntax.yaml_dump import dump_yaml

DSL = '''policy "s" {
  on request {
    rule "try-it" {
      mode shadow  # first see what it would block
      when ai.model == "gpt-4.1"
      deny 403 "no"
    }

    rule "quiet" {
      mode shadow
      add-headers { headers: { "x-a": "b" } }
    }
  }
}
'''


def test_round_trip_and_comments() -> None:
    policy = ap.loads(DSL, "dsl")
    assert [r.mode for r in policy.on_http_request or ()] == ["shadow", "shadow"]
    assert format_policy(DSL) == DSL
    yaml_text = dump_yaml(policy)
    assert "mode: shadow" in yaml_text
    assert ap.loads(yaml_text, "yaml") == policy
    assert ap.loads(DSL.replace("mode shadow  # first see what it would block\n", ""), "dsl") != policy


def test_a_misspelled_mode_is_an_invalid_choice() -> None:
    policy, diags = ap.read(DSL.replace("mode shadow  #", "mode shdow  #"), format="dsl")
    assert [d.code for d in diags if d.severity == "error"] == ["AIGW125"]
    assert "did you mean `shadow`" in (diags[0].help or "")
    _, ydiags = ap.read("on_http_request:\n  - mode: shadw\n    actions: [{type: deny}]\n", format="yaml")
    assert [d.code for d in ydiags] == ["AIGW125"]


def test_lint_warns_about_a_shadow_rule_that_cannot_deny() -> None:
    from aigw_policy.analysis.structure import check

    found = [d for d in check(ap.loads(DSL, "dsl")) if d.code == "AIGW135"]
    assert len(found) == 1 and "`quiet`" in found[0].message and found[0].span is not None
    assert found[0].span.line == 9
