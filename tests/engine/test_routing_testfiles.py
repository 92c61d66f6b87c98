"""Policy test files assert on routing: ``served_model``, ``attempts`` (a count) and
``routing`` (subset of the decision's); a misspelled key there is AIGW700."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_policy.engine.testing import TestFileError, run_file



POLICY = """\
policy:
  on_http_request:
    - name: route
      actions:
        - type: ai-gateway
          config:
            providers:
              - id: openai
                api_keys: [{value: "${secrets.get('v','a')}", id: ka}]
                models: [{id: gpt-4o}, {id: gpt-4o-mini}]
cases:
"""
REQUEST = ('{now: "2026-11-26T12:00:00Z", request: {url: "https://api.openai.com/v1/chat/completions", '
           'body: {model: gpt-4o, models: [gpt-4o, gpt-4o-mini], messages: [{role: user, content: hi}]}}, ATTEMPTS}')


def write(tmp_path: Path, cases: str) -> Path:
    path = tmp_path / "routing.test.yaml"
    path.write_text(POLICY + cases)
    return path


def case(attempts: str, expect: str) -> str:
    return f"  - request: {REQUEST.replace('ATTEMPTS', 'attempts: ' + attempts)}\n    expect: {expect}\n"


def test_served_model_and_attempts_pass_and_fail(tmp_path: Path) -> None:
    path = write(tmp_path, case("[{status_code: 503}, {status_code: 200, body: {}}]",
                                "{served_model: 'openai:gpt-4o-mini', attempts: 2, "
                                "routing: {served: {key_id: ka, attempt: 2}}}")
                 + case("[{status_code: 200, body: {}}]", "{served_model: gpt-4o-mini, attempts: 3}"))
    result = run_file(path)
    assert [c.passed for c in result.cases] == [True, False]
    text = "\n".join(result.cases[1].failures)
    assert 'served_model: expected "gpt-4o-mini", got "gpt-4o"' in text and "attempts: expected 3, got 1" in text


def test_all_failed_is_asserted_as_a_deny(tmp_path: Path) -> None:
    path = write(tmp_path, case("[{error: connect}, {error: timeout}]",
                                "{verdict: deny, status_code: 503, attempts: 2, routing: {served: null}}"))
    assert all(c.passed for c in run_file(path).cases)


@pytest.mark.parametrize("expect, wrong", [
    ("{routing: {serverd: {model: x}}}", "serverd"),
    ("{routing: {served: {modle: x}}}", "modle"),
    ("{served_modle: x}", "served_modle"),
])
def test_misspelled_routing_keys_are_aigw700(tmp_path: Path, expect: str, wrong: str) -> None:
    with pytest.raises(TestFileError) as info:
        run_file(write(tmp_path, case("[]", expect)))
    codes = [(d.code, d.message) for d in info.value.diagnostics]
    assert any(code == "AIGW700" and wrong in message for code, message in codes), codes
