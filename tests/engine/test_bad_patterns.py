"""A constant ``matches`` pattern that does not compile: CEL evaluates the call to an error
(cel-go's default, so ``||`` can absorb it), while a policy with one is refused when the
engine compiles it (AIGW304), as it was before CEL's reading changed, and lint says so."""

from __future__ import annotations

import pytest

import aigw_policy as ap

POLICY = 'policy { on request { rule "r" { when ai.prompt.matches("(unclosed") deny 400 "x" } } }'


def test_cel_absorbs_it() -> None:
    assert ap.cel.compile("'a'.matches('(') || true")({}) is True
    with pytest.raises(ap.cel.CelError, match="invalid regex"):
        ap.cel.compile("'a'.matches('(')")({})


def test_the_engine_refuses_the_policy() -> None:
    with pytest.raises(ap.PolicyError) as info:
        ap.Engine(ap.loads(POLICY))
    assert [d.code for d in info.value.diagnostics] == ["AIGW304"]
    assert "missing )" in info.value.diagnostics[0].message


def test_a_pattern_made_at_run_time_is_the_rules_error(capfd: pytest.CaptureFixture[str]) -> None:
    engine = ap.Engine(ap.loads('policy { on request { rule "r" { on-error skip\n'
                                '  when ai.prompt.matches(identity.team) deny 400 "x" } } }'))
    d = engine.evaluate({"identity": {"team": "(("}, "request": {
        "url": "https://api.openai.com/v1/chat/completions", "body": {"model": "gpt-4o", "messages": []}}},
        expect_response=False)
    assert d.verdict == "allow" and "invalid regex" in d.errors[0]["message"]
    assert capfd.readouterr().err == ""  # RE2 does not log it to stderr
