"""The DSL printer: data-driven action cases (data/printer_cases.yaml) and whole-document layout.

Every printed text is also parsed back with the DSL reader and must give the same IR: the
printer is only correct if the contract's lowering undoes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.fmt.printer import print_action, print_dsl, print_string
from aigw_policy.ir.actions import ACTIONS
from aigw_policy.ir.nodes import Action, Expr, Policy, Rule
from aigw_policy.source import Source

CASES = yaml.safe_load((Path(__file__).parent / "data" / "printer_cases.yaml").read_text("utf-8"))


def make_action(data: dict[str, Any]) -> Action:
    model = ACTIONS[data["type"]]
    return Action(type=data["type"], config=model.model_validate(data.get("config") or {}))


def read_back(text: str) -> Policy:
    from aigw_policy.syntax.dsl import read_dsl

    diags = Diagnostics()
    policy = read_dsl(Source(text, "<printed>"), diags)
    errors = [str(d) for d in diags if d.is_error]
    assert not errors, f"{errors}\n--- text ---\n{text}"
    assert policy is not None
    return policy


def in_policy(*actions: Action) -> Policy:
    return Policy(on_http_request=(Rule(name="r", actions=actions),))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_print_action(case: dict[str, Any]) -> None:
    assert print_action(make_action(case["action"]), depth=3) == case["dsl"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_printed_action_reads_back(case: dict[str, Any]) -> None:
    policy = in_policy(make_action(case["action"]))
    text = print_dsl(policy)
    assert read_back(text) == policy
    assert print_dsl(read_back(text)) == text


def test_action_sits_in_rule_with_six_columns() -> None:
    policy = in_policy(make_action({"type": "deny", "config": {"status_code": 403}}))
    assert print_dsl(policy) == (
        "policy {\n"
        "  on request {\n"
        '    rule "r" {\n'
        "      deny 403\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


# whole documents ---------------------------------------------------------------------

DENY = make_action({"type": "deny"})
LOG = make_action({"type": "log"})

LAYOUTS: list[tuple[str, Policy, str]] = [
    ("empty", Policy(), "policy {\n}\n"),
    ("empty-named", Policy(name="p"), 'policy "p" {\n}\n'),
    ("empty-name-is-kept", Policy(name=""), 'policy "" {\n}\n'),
    (
        "settings-only",
        Policy(default="deny", on_error="skip"),
        "policy {\n  default deny\n  on-error skip\n}\n",
    ),
    ("on-error-only", Policy(on_error="deny"), "policy {\n  on-error deny\n}\n"),
    (
        "all-settings-in-order",
        Policy(upstream_error="charge_input", store_failure="fail_open", on_error="skip",
               default="deny"),
        "policy {\n  default deny\n  on-error skip\n  store-failure fail_open\n"
        "  upstream-error charge_input\n}\n",
    ),
    (
        "store-failure-only",
        Policy(store_failure="fail_closed"),
        "policy {\n  store-failure fail_closed\n}\n",
    ),
    (
        "sections-and-rules-separated-by-blank-lines",
        Policy(
            name="acme",
            default="allow",
            on_http_request=(
                Rule(name="a", expressions=(Expr(source="ai.model == 'x'"),), actions=(DENY,)),
                Rule(actions=(make_action({"type": "allow"}),)),
            ),
            on_http_response=(
                Rule(name="c", on_error="skip", expressions=(Expr(source="res.status_code >= 500"),
                                                             Expr(source="true")),
                     actions=(LOG,)),
            ),
        ),
        'policy "acme" {\n'
        "  default allow\n"
        "\n"
        "  on request {\n"
        '    rule "a" {\n'
        "      when ai.model == 'x'\n"
        "      deny\n"
        "    }\n"
        "\n"
        "    rule {\n"
        "      allow\n"
        "    }\n"
        "  }\n"
        "\n"
        "  on response {\n"
        '    rule "c" {\n'
        "      on-error skip\n"
        "      when res.status_code >= 500\n"
        "      when true\n"
        "      log\n"
        "    }\n"
        "  }\n"
        "}\n",
    ),
    (
        "response-only",
        Policy(on_http_response=(Rule(name="x", actions=(LOG,)),)),
        'policy {\n  on response {\n    rule "x" {\n      log\n    }\n  }\n}\n',
    ),
    (
        "multi-line-cel-kept-verbatim",
        Policy(on_http_request=(Rule(
            name="m",
            expressions=(Expr(source="ai.model in [\n  \"a\",\n  \"b\"\n] &&\n"
                                     "    identity.team != \"x\""),),
            actions=(DENY,),
        ),)),
        "policy {\n"
        "  on request {\n"
        '    rule "m" {\n'
        "      when ai.model in [\n"
        '  "a",\n'
        '  "b"\n'
        "] &&\n"
        '    identity.team != "x"\n'
        "      deny\n"
        "    }\n"
        "  }\n"
        "}\n",
    ),
    (
        "cel-parentheses-kept",
        Policy(on_http_request=(Rule(
            expressions=(Expr(source='(ai.model == "a" || ai.model == "b")'),
                         Expr(source='!(identity.tier in ["trial"])'),
                         Expr(source="(ai.stream) && true")),
            actions=(DENY,),
        ),)),
        "policy {\n"
        "  on request {\n"
        "    rule {\n"
        '      when (ai.model == "a" || ai.model == "b")\n'
        '      when !(identity.tier in ["trial"])\n'
        "      when (ai.stream) && true\n"
        "      deny\n"
        "    }\n"
        "  }\n"
        "}\n",
    ),
    (
        "names-with-quotes-and-unicode",
        Policy(name='l\'équipe "α"', on_http_request=(Rule(name="tab\there ☃", actions=(DENY,)),)),
        'policy "l\'équipe \\"α\\"" {\n'
        "  on request {\n"
        '    rule "tab\\there ☃" {\n'
        "      deny\n"
        "    }\n"
        "  }\n"
        "}\n",
    ),
]

# Not a valid document (AIGW133), but the printer still prints it faithfully.
EMPTY_RULE = (
    Policy(on_http_request=(Rule(name="empty"),)),
    'policy {\n  on request {\n    rule "empty" {\n    }\n  }\n}\n',
)


@pytest.mark.parametrize("policy,text", [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
def test_layout(policy: Policy, text: str) -> None:
    assert print_dsl(policy) == text


@pytest.mark.parametrize("policy,text", [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
def test_layout_reads_back(policy: Policy, text: str) -> None:
    assert read_back(text) == policy


def test_rule_without_actions_prints_and_reads_back_as_its_error() -> None:
    from aigw_policy.syntax.dsl import read_dsl

    policy, text = EMPTY_RULE
    assert print_dsl(policy) == text
    diags = Diagnostics()
    read_dsl(Source(text), diags)
    assert [d.code for d in diags if d.is_error] == ["AIGW133"]


@pytest.mark.parametrize(
    "value,literal",
    [
        ("", '""'),
        ("plain", '"plain"'),
        ('"', '"\\""'),
        ("\\", '"\\\\"'),
        ("a\nb", '"a\\nb"'),
        ("\x00\x1f\x7f\x85", '"\\u0000\\u001f\\u007f\\u0085"'),
        ("é☃𝄞", '"é☃𝄞"'),
        ("${ai.model}", '"${ai.model}"'),
        ("'single'", "\"'single'\""),
    ],
)
def test_print_string(value: str, literal: str) -> None:
    assert print_string(value) == literal


def test_output_ends_with_exactly_one_newline() -> None:
    for _, policy, _ in LAYOUTS:
        text = print_dsl(policy)
        assert text.endswith("\n") and not text.endswith("\n\n")
