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


@pytest.mark.parametrize(("text", "why"), [
    ('regex.replace(ai.prompt, "(", "x") == ""', "missing )"),
    ('regex.extract(ai.prompt, "[a").hasValue()', "missing ]"),
    ('size(regex.extractAll(ai.prompt, "a**")) > 0', "bad repetition"),
    (r'regex.replace(ai.prompt, "(a)", "\\2") == ""', "asks for group 2"),
    (r'regex.replace(ai.prompt, "a", "\\x") == ""', "must be followed by a digit"),
])
def test_the_regex_extension_constant_patterns_too(text: str, why: str) -> None:
    """The regex extension's constant pattern (and `regex.replace`'s constant rewrite) that
    fails on every request is refused as a bad `matches` pattern is."""
    policy = 'policy { on request { rule "r" { when ' + text + ' deny 400 "x" } } }'
    with pytest.raises(ap.PolicyError) as info:
        ap.Engine(ap.loads(policy))
    assert [d.code for d in info.value.diagnostics] == ["AIGW304"], text
    assert why in info.value.diagnostics[0].message, info.value.diagnostics[0].message


def test_a_regex_replace_of_no_match_count_compiles_nothing() -> None:
    ap.Engine(ap.loads('policy { on request { rule "r" { when regex.replace(ai.prompt, "(", "x", 0) == ""'
                       ' deny 400 "x" } } }'))
