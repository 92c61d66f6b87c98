"""A lone surrogate spelt as an escape (`"\\ud800"`) in a YAML or JSON policy, in any action's
any config key, a list item or a mapping key: reading the policy gives AIGW007 at the scalar
(as the DSL's AIGW201 and raw text's AIGW007), never a UnicodeEncodeError out of a config
check that quotes the value (`rate`, `period`, `timezone`, `total_timeout`... raised one)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.ir.actions import ACTIONS

KEYS = sorted((kind, field.alias or name) for kind, model in ACTIONS.items() for name, field in model.model_fields.items())
LONE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
TEXT = st.builds(lambda a, s, b: a + s + b, st.sampled_from(["", "1", "1m", "Europe/", "10.0.0.0/8", "x-"]), LONE,
                 st.sampled_from(["", "s", "h"]))
VALUE = st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=2), st.dictionaries(TEXT, st.just("v"), min_size=1, max_size=1),
                  st.dictionaries(st.just("k"), TEXT, min_size=1, max_size=1))


def _codes(text: str, form: str) -> set[str]:
    with pytest.raises(ap.PolicyError) as caught:
        ap.loads(text, format=form)  # type: ignore[arg-type]
    return {d.code for d in caught.value.diagnostics}


@settings(max_examples=150, deadline=None)
@given(where=st.sampled_from(KEYS), value=VALUE, phase=st.sampled_from(["on_http_request", "on_http_response"]))
def test_any_config_value(where: tuple[str, str], value: object, phase: str) -> None:
    kind, key = where
    doc = {phase: [{"name": "r", "actions": [{"type": kind, "config": {key: value}}]}]}
    text = json.dumps(doc)  # ASCII, the surrogates as escapes: JSON, and YAML's flow style
    assert "AIGW007" in _codes(text, "json")
    assert "AIGW007" in _codes(text, "yaml")


def test_json_that_yaml_reads_otherwise() -> None:
    """A JSON document PyYAML reads differently (a NEL in a string) is read from the JSON
    parser's data, with every span at the start: the surrogate is still AIGW007."""
    text = json.dumps({"on_http_request": [{"name": "a\x85b", "actions": [{"type": "deny", "config": {"message": "\ud800"}}]}]},
                      ensure_ascii=False).replace("\ud800", "\\ud800")
    assert "AIGW007" in _codes(text, "json")
