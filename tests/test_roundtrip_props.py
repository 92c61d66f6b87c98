"""Round-trip properties over generated policies (see ``strategies.policies``).

- ``read_dsl(print_dsl(p)) == p`` and printing is idempotent;
- ``format_policy`` accepts the printer's output unchanged;
- DSL -> YAML -> DSL and YAML -> DSL -> YAML preserve the IR (and the texts);
- JSON reads back to the same IR.

The readers are imported at module level on purpose: while a reader does not exist, these
tests fail (ImportError) rather than skip.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.fmt import format_policy
from aigw_policy.fmt.printer import print_dsl
from aigw_policy.ir.nodes import Policy
from aigw_policy.source import Source
from aigw_policy.syntax.dsl import read_dsl
from aigw_policy.syntax.yaml_form import dump_json, dump_yaml, read_json, read_yaml
from strategies import policies

# Regressions found by these properties, kept as explicit examples.
NEL_NAME = Policy(name="\x85")  # YAML reads an unescaped U+0085 as a line break
LS_NAME = Policy(name="a\u2028b")
SETTINGS_AFTER_ON_ERROR = Policy(on_error="deny", upstream_error="release")

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _read(reader, text: str, name: str) -> Policy:  # type: ignore[no-untyped-def]
    diags = Diagnostics()
    policy = reader(Source(text, name), diags)
    errors = [str(d) for d in diags if d.is_error]
    assert not errors, f"{errors}\n--- {name} ---\n{text}"
    assert policy is not None
    return policy


def dsl(text: str) -> Policy:
    return _read(read_dsl, text, "printed.aigw")


def yml(text: str) -> Policy:
    return _read(read_yaml, text, "dumped.yaml")


@SETTINGS
@given(policies())
@example(SETTINGS_AFTER_ON_ERROR)
def test_dsl_reads_back_to_the_same_ir(policy: Policy) -> None:
    assert dsl(print_dsl(policy)) == policy


@SETTINGS
@given(policies())
def test_printing_is_idempotent(policy: Policy) -> None:
    text = print_dsl(policy)
    assert print_dsl(dsl(text)) == text
    assert format_policy(text) == text


@SETTINGS
@given(policies())
@example(NEL_NAME)
@example(LS_NAME)
def test_dsl_to_yaml_to_dsl(policy: Policy) -> None:
    text = print_dsl(policy)
    via_yaml = yml(dump_yaml(dsl(text)))
    assert via_yaml == policy
    assert print_dsl(via_yaml) == text


@SETTINGS
@given(policies())
@example(NEL_NAME)
@example(LS_NAME)
def test_yaml_to_dsl_to_yaml(policy: Policy) -> None:
    text = dump_yaml(policy)
    via_dsl = dsl(print_dsl(yml(text)))
    assert via_dsl == policy
    assert dump_yaml(via_dsl) == text


@SETTINGS
@given(policies())
def test_json_reads_back(policy: Policy) -> None:
    assert _read(read_json, dump_json(policy), "dumped.json") == policy


# YAML documents as people write them: CEL with surrounding whitespace (a `|` block scalar
# ends with a newline) or a trailing CEL comment. The DSL cannot write that whitespace or
# comment back, so converting to the DSL must not depend on it: these fail while the YAML
# reader keeps such text in `Expr.source` (the DSL reader never does).
YAML_CEL_AS_WRITTEN = {
    "block-scalar-expression": (
        "on_http_request:\n  - expressions:\n      - |\n        ai.model == 'a' &&\n"
        "          identity.team == 'b'\n    actions: [{type: deny}]\n"
    ),
    "padded-expression": (
        "on_http_request:\n  - expressions: ['  ai.model == \"a\"  ']\n"
        "    actions: [{type: deny}]\n"
    ),
    "expression-with-cel-comment": (
        "on_http_request:\n  - expressions: ['ai.model == \"a\" // premium']\n"
        "    actions: [{type: deny}]\n"
    ),
    "padded-bucket-key": (
        "on_http_request:\n  - actions: [{type: token-limit, config: {name: t, capacity: 5,"
        " rate: 1m, bucket_key: [' identity.team ']}}]\n"
    ),
}


@pytest.mark.parametrize("text", YAML_CEL_AS_WRITTEN.values(), ids=YAML_CEL_AS_WRITTEN.keys())
def test_yaml_cel_as_written_converts_to_dsl(text: str) -> None:
    policy = yml(text)
    assert dsl(print_dsl(policy)) == policy
