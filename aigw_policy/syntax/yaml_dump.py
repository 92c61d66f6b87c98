"""Writing the YAML/JSON form: only what the author wrote, in a stable key order.

Every output reads back (:func:`aigw_policy.syntax.yaml_form.read_yaml`) to an equal IR.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode
from pydantic import BaseModel

from ..ir.nodes import PHASES, SETTINGS, Action, Policy, Rule
from .yaml_schema import _CORE, _STR, go_number

__all__ = ["dump_data", "dump_json", "dump_yaml"]



def _data(value: Any) -> Any:
    if isinstance(value, BaseModel):  # a part of a config (ai-gateway's providers[])
        return {k: _data(v) for k, v in value if v is not None}
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items()}
    return value


def _action_data(action: Action) -> dict[str, Any]:
    out: dict[str, Any] = {"type": action.type}
    config = _data(action.config.written())
    if config:
        out["config"] = config
    return out


def _rule_data(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.name is not None:
        out["name"] = rule.name
    if rule.expressions:
        out["expressions"] = [e.source for e in rule.expressions]
    if rule.on_error is not None:
        out["on_error"] = rule.on_error
    if rule.mode is not None:
        out["mode"] = rule.mode
    out["actions"] = [_action_data(a) for a in rule.actions]
    return out


def dump_data(policy: Policy) -> dict[str, Any]:
    """The plain data of the YAML/JSON form: only what the author wrote, in a stable order."""
    out: dict[str, Any] = {}
    if policy.name is not None:
        out["name"] = policy.name
    for setting in SETTINGS:
        if getattr(policy, setting) is not None:
            out[setting] = getattr(policy, setting)
    if policy.shard_key is not None:
        out["shard_key"] = policy.shard_key.source
    for phase in PHASES:
        rules = getattr(policy, phase)
        if rules is not None:
            out[phase] = [_rule_data(r) for r in rules]
    return out


_ODD_BREAKS = "\r\x85\u2028\u2029\ufeff"


class _Dumper(yaml.SafeDumper):
    """Quotes any string that a YAML 1.1 *or* 1.2 reader, or Go's yaml, would not read back
    as a string."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            number = go_number(value)  # a number to Go's yaml: a string like it is quoted
            if number is not None:
                return "tag:yaml.org,2002:" + ("int" if isinstance(number, int) else "float")
        return super().resolve(kind, value, implicit)

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)  # indent list items under their key


for _tag, _pattern, _first in _CORE:
    _Dumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Any:
    if any(c in data for c in _ODD_BREAKS):
        style: str | None = '"'  # PyYAML would write these raw, and read them as line breaks
    elif "\n" in data.strip("\n"):
        style = "|"
    else:
        style = None
    return dumper.represent_scalar(_STR, data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(policy: Policy) -> str:
    """The policy as a block-style YAML document that reads back to an equal IR."""
    data = dump_data(policy)
    if not data:
        return "{}\n"
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1_000_000_000)  # never fold CEL


def dump_json(policy: Policy) -> str:
    """The policy as JSON, indented by two spaces."""
    return json.dumps(dump_data(policy), indent=2, ensure_ascii=False) + "\n"
