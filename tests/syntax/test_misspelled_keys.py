"""A misspelled rule or action key is one diagnostic at the key, with the key it was meant to
be, and nothing more: what it holds is read as that key (so its own mistakes still show), and
no "missing `actions`", "action without a `type`" or "missing required key" follows for the
key that is there under another spelling."""

from __future__ import annotations

import pytest

import aigw_policy as ap

_LIMIT = ("on_http_request:\n  - name: r\n    {actions}:\n      - {type}: rate-limit\n        {config}:\n"
          "          name: x\n          capacity: 10\n          rate: 60s\n{extra}")

CASES = [
    # (what, text, the diagnostics (code, line, column), the help of the first)
    ("config misspelled", _LIMIT.format(actions="actions", type="type", config="confg", extra=""),
     [("AIGW113", 5, 9)], "did you mean `config`?"),
    ("type misspelled", _LIMIT.format(actions="actions", type="typ", config="config", extra=""),
     [("AIGW113", 4, 9)], "did you mean `type`?"),
    ("actions misspelled", _LIMIT.format(actions="action", type="type", config="config", extra=""),
     [("AIGW103", 3, 5)], "did you mean `actions`?"),
    ("a mistake inside a misspelled config still shows",
     _LIMIT.format(actions="actions", type="type", config="confg", extra="          capcity: 3\n"),
     [("AIGW113", 5, 9), ("AIGW120", 9, 11)], "did you mean `config`?"),
    ("a mistake inside misspelled actions still shows",
     _LIMIT.format(actions="action", type="type", config="config", extra="          rte: 1s\n"),
     [("AIGW103", 3, 5), ("AIGW120", 9, 11)], "did you mean `actions`?"),
]


@pytest.mark.parametrize(("what", "text", "expected", "help"), CASES, ids=[c[0] for c in CASES])
def test_a_misspelled_key_is_one_diagnostic_at_it(what: str, text: str, expected: list[tuple[str, int, int]],
                                                  help: str) -> None:
    policy, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert policy is None or not policy.on_http_request  # the rule with an error is left out
    assert sorted((d.code, d.span.line, d.span.column) for d in found) == sorted(expected), found
    assert found[0].help == help


def test_the_right_key_beside_a_near_one_is_the_one_read() -> None:
    text = _LIMIT.format(actions="actions", type="type", config="config", extra="        confg: {}\n")
    _, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert [(d.code, d.span.line) for d in found] == [("AIGW113", 9)]
