"""The ``ai-gateway`` action in the YAML/JSON form: nested config, the bare action form,
misspelled keys at any depth, secrets and strategies kept as text."""

from __future__ import annotations

import pytest

from aigw_policy.ir.ai_gateway import AiGateway
from aigw_policy.loader import read
from aigw_policy.syntax.yaml_form import dump_yaml

DOC = """\
on_http_request:
  - type: ai-gateway
    config:
      per_request_timeout: 30s
      providers:
        - id: openai
          api_keys:
            - value: ${secrets.get('openai', 'k1')}
              id: primary
        - id: anthropic
          models:
            - id: claude-sonnet-4
              metadata: {tier: fast}
          supported_api_surfaces:
            - format: anthropic
              surface: messages
              supported_params: [{name: temperature}]
      model_selection:
        strategy:
          - "ai.models.filter(m, m.provider_id == 'openai')"
          - ai.models
      api_key_selection:
        strategy: ["ai.keys"]
"""


def _load(text: str, name: str = "doc.yaml"):  # type: ignore[no-untyped-def]
    policy, diags = read(text, name=name)
    return policy, list(diags)


def test_the_nested_config_loads_and_lints_clean():
    policy, diags = _load(DOC)
    assert diags == []
    (rule,) = policy.on_http_request
    assert rule.name is None and rule.expressions == ()
    (action,) = rule.actions
    config = action.config
    assert isinstance(config, AiGateway)
    assert config.providers[0].api_keys[0].value == "${secrets.get('openai', 'k1')}"
    assert config.providers[1].supported_api_surfaces[0].supported_params[0].name == "temperature"
    assert config.model_selection.strategy == ("ai.models.filter(m, m.provider_id == 'openai')",
                                               "ai.models")
    # a strategy's span is its expression text, as for a rule's expressions
    span = action.field_spans["model_selection.strategy.0"]
    assert DOC[span.start:span.end] == "ai.models.filter(m, m.provider_id == 'openai')"


def test_the_bare_form_writes_back_as_a_rule():
    policy, _ = _load(DOC)
    text = dump_yaml(policy)
    assert text.startswith("on_http_request:\n  - actions:\n      - type: ai-gateway\n")
    again, diags = _load(text)
    assert diags == [] and again == policy


@pytest.mark.parametrize("typo, where, help", [
    ("api_keys:", "providers.0", "api_keys"),
    ("models:", "providers.1", "models"),
    ("metadata:", "providers.1.models.0", "metadata"),
    ("surface:", "providers.1.supported_api_surfaces.0", "surface"),
    ("strategy: [", "api_key_selection", "strategy"),
])
def test_a_misspelled_key_at_any_depth_fails_with_a_did_you_mean(typo, where, help):
    broken = DOC.replace(typo, typo[0] + typo[2] + typo[1] + typo[3:], 1)
    policy, diags = _load(broken)
    codes = [d.code for d in diags]
    assert codes == ["AIGW120"], [str(d) for d in diags]
    (d,) = diags
    assert f"in `{where}`" in d.message and d.help == f"did you mean `{help}`?"
    line = broken[d.span.start:].split("\n")[0]
    assert line.startswith(typo[0] + typo[2] + typo[1])
    assert policy.on_http_request == ()  # the action is not built


def test_a_missing_provider_id_points_at_the_provider():
    broken = DOC.replace("        - id: anthropic\n", "        - display_name: Anthropic\n")
    _, diags = _load(broken)
    (d,) = diags
    assert d.code == "AIGW121" and "providers.1.id" in d.message
    assert d.span.line == 10


def test_a_bare_item_with_rule_keys_says_how_to_write_a_rule():
    text = "on_http_request:\n  - type: deny\n    expressions: ['true']\n"
    _, diags = _load(text)
    (d,) = diags
    assert d.code == "AIGW113" and "`expressions: [...]`" in (d.help or "")


@pytest.mark.parametrize("type_name", ["deny", "log", "allow"])
def test_every_action_type_may_be_written_bare(type_name):
    policy, diags = _load(f"on_http_request:\n  - type: {type_name}\n")
    assert diags == []
    assert policy.on_http_request[0].actions[0].type == type_name


def test_json_form_loads_the_same():
    import json

    import yaml

    policy, _ = _load(DOC)
    again, diags = _load(json.dumps(yaml.safe_load(DOC)), "doc.json")
    assert diags == [] and again == policy


def test_the_json_schema_describes_the_action_and_the_bare_form():
    import jsonschema
    import yaml

    from aigw_policy.schema import policy_json_schema

    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    data = yaml.safe_load(DOC)
    validator.validate(data)  # the bare form
    policy, _ = _load(DOC)
    from aigw_policy.syntax.yaml_form import dump_data

    validator.validate(dump_data(policy))  # the rule it is written back as
    provider = data["on_http_request"][0]["config"]["providers"][0]
    provider["api_kyes"] = provider.pop("api_keys")
    assert not validator.is_valid(data)
    strategy = schema["$defs"]["Selection"]["properties"]["strategy"]
    assert "CEL" in strategy["description"]
    assert "secrets.get" in schema["$defs"]["ApiKeyConfig"]["properties"]["value"]["description"]
