"""``format_policy``: canonical output, idempotence, parse errors, and the AIGW009 refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import aigw_policy.fmt as fmt
from aigw_policy.diagnostics import PolicyError
from aigw_policy.fmt import format_policy
from aigw_policy.ir.nodes import Policy

CASES = yaml.safe_load((Path(__file__).parent / "data" / "format_cases.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_format(case: dict[str, Any]) -> None:
    out = format_policy(case["input"], name="in.aigw")
    assert out == case["output"]
    assert format_policy(out) == out


def test_parse_errors_raise_the_parser_diagnostics() -> None:
    with pytest.raises(PolicyError) as info:
        format_policy('policy {\n  rule { deny 403 "x }\n}\n', name="bad.aigw")
    codes = [d.code for d in info.value.diagnostics]
    assert codes and "AIGW009" not in codes
    assert all(d.is_error for d in info.value.diagnostics)
    assert info.value.diagnostics[0].span is not None


def _drop_last_rule(policy: Policy, comments: object = None) -> str:
    changed = policy.model_copy(update={"on_http_request": policy.on_http_request[:-1]})
    return fmt.printer.print_dsl(changed)


def test_refuses_when_the_output_would_change_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        'policy {\n  on request {\n    rule "a" {\n      deny\n    }\n'
        '    rule "b" {\n      allow\n    }\n  }\n}\n'
    )
    monkeypatch.setattr(fmt, "print_dsl", _drop_last_rule)
    with pytest.raises(PolicyError) as info:
        format_policy(text)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "AIGW009"
    assert diagnostic.span is not None and diagnostic.span.line == 6  # rule "b"


def test_refuses_when_the_output_does_not_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "print_dsl", lambda policy, comments=None: "policy {\n")
    with pytest.raises(PolicyError) as info:
        format_policy("policy {\n}\n")
    assert [d.code for d in info.value.diagnostics] == ["AIGW009"]
