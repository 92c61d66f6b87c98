"""The document's ``shard_key``: read from YAML and the DSL, printed, and checked (a string
CEL text over the request; AIGW306 when its type is known and is not a string)."""

from __future__ import annotations

import pytest

from aigw_policy.fmt.printer import print_dsl
from aigw_policy.loader import read
from aigw_policy.syntax.yaml_dump import dump_data

RULES_YAML = """on_http_request:
  - actions: [{type: deny}]
"""


def _yaml(shard_key: str) -> str:
    return f"shard_key: {shard_key}\n" + RULES_YAML


def _dsl(shard_key: str) -> str:
    return f"policy {{\n  shard-key {shard_key}\n  on request {{\n    rule {{ deny }}\n  }}\n}}\n"


@pytest.mark.parametrize("text", ["identity.org", "identity.org + '/' + identity.team",
                                  "has(identity.org) ? identity.org : identity.team",
                                  "vars.tenant"])
def test_yaml_and_dsl_read_the_same_shard_key_and_print_it_back(text):
    from_yaml, yd = read(_yaml(repr(text) if "'" not in text else f'"{text}"'), format="yaml")
    from_dsl, dd = read(_dsl(text), format="dsl")
    assert yd == [] and dd == []
    assert from_yaml == from_dsl and from_yaml.shard_key.source == text
    printed = print_dsl(from_dsl)
    assert f"  shard-key {text}\n" in printed
    again, _ = read(printed, format="dsl")
    assert again == from_dsl
    assert dump_data(from_dsl)["shard_key"] == text


@pytest.mark.parametrize("form, text, code, line", [
    ("yaml", "identity.labels", "AIGW306", 1),       # a map
    ("yaml", "'1 + 2'", "AIGW306", 1),               # an int
    ("yaml", "'identity.tier == \"gold\"'", "AIGW306", 1),  # a bool
    ("yaml", "3", "AIGW306", 1),                     # a YAML number is CEL text too: an int
    ("yaml", "[identity.org]", "AIGW122", 1),        # not a string
    ("yaml", "true", "AIGW122", 1),
    ("yaml", "nope.org", "AIGW300", 1),
    ("yaml", "'identity.org +'", "AIGW200", 1),
    ("dsl", "identity.labels", "AIGW306", 2),
    ("dsl", "identity.org == 'x'", "AIGW306", 2),
    ("dsl", "nope.org", "AIGW300", 2),
])
def test_a_shard_key_that_is_not_a_string_expression_is_an_error_with_a_code(form, text, code, line):
    policy_text = _yaml(text) if form == "yaml" else _dsl(text)
    _, diags = read(policy_text, format=form)
    errors = [(d.code, d.span.line if d.span else None) for d in diags if d.is_error]
    assert errors == [(code, line)], diags


def test_a_duplicate_dsl_shard_key_is_reported():
    text = "policy {\n  shard-key identity.org\n  shard-key identity.team\n  on request { rule { deny } }\n}\n"
    _, diags = read(text, format="dsl")
    assert [(d.code, d.span.line) for d in diags] == [("AIGW013", 3)]


def test_a_misspelled_yaml_key_says_shard_key():
    _, diags = read("shard_keys: identity.org\n" + RULES_YAML, format="yaml")
    assert [d.code for d in diags] == ["AIGW100"] and "shard_key" in (diags[0].help or "")


def test_the_schema_names_shard_key():
    from aigw_policy.schema import policy_json_schema

    assert policy_json_schema()["properties"]["shard_key"]["type"] == "string"
