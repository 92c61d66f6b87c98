"""ngrok's own Traffic Policy documents (../shared/ngrok/examples), through the public API.

- Every document is read and linted without an exception (diagnostics are fine).
- A document that is a plain policy using only actions we implement lints without errors,
  unless it has one of the known mistakes of ngrok's docs (listed below, with the reason),
  and survives YAML -> DSL -> JSON unchanged.
"""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import aigw_policy as ap
from aigw_policy.cli import app
from aigw_policy.fmt.printer import print_dsl
from aigw_policy.ir import ACTIONS
from aigw_policy.syntax.yaml_form import dump_json
from shared_data import NGROK_EXAMPLES, require

# real mistakes in ngrok's documentation, which a linter should flag
KNOWN_MISTAKES = {
    "051d13f256da.yaml": "AIGW302",  # `!conn.client_ip in [...]`: `!` binds tighter than `in`
    "1ad2b617596e.yaml": "AIGW302",  # `res.status_code < '200'`: an int compared with strings
    "164be21e3de5.yaml": "AIGW126",  # `allow: ["allowed ips here (IPv4 or IPv6)"]`: a placeholder left in
}


def _examples() -> list:
    return sorted(NGROK_EXAMPLES.glob("*.yaml")) if NGROK_EXAMPLES.is_dir() else []


def _plain_and_supported(data: object) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    if not set(data) <= {"on_http_request", "on_http_response"}:
        return False
    for rules in data.values():
        if not isinstance(rules, list):
            return False
        for rule in rules:
            actions = rule.get("actions") if isinstance(rule, dict) else None
            if not isinstance(actions, list):
                return False
            if any(not isinstance(a, dict) or a.get("type") not in ACTIONS for a in actions):
                return False
    return True


def _normalized(value: object) -> object:
    """The YAML data as our writer gives it back: no empty `expressions`, no empty config."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        if out.get("expressions") == []:
            del out["expressions"]
        if out.get("config") in ({}, None) and "type" in out:
            out.pop("config", None)
        return out
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def test_examples_are_present() -> None:
    require(NGROK_EXAMPLES)
    assert len(_examples()) >= 50


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_every_document_lints_without_a_crash(path) -> None:
    result = CliRunner().invoke(app, ["lint", "--format", "json", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    json.loads(result.output)


def _supported() -> list:
    return [p for p in _examples() if _plain_and_supported(yaml.safe_load(p.read_text()))]


def test_some_documents_are_supported() -> None:
    require(NGROK_EXAMPLES)
    assert len(_supported()) >= 4


@pytest.mark.parametrize("path", _supported(), ids=lambda p: p.name)
def test_supported_documents_lint_clean_and_convert_unchanged(path) -> None:
    text = path.read_text()
    data = yaml.safe_load(text)
    policy, diagnostics = ap.read(text, name=path.name)
    errors = {d.code for d in diagnostics if d.is_error}
    if path.name in KNOWN_MISTAKES:
        assert KNOWN_MISTAKES[path.name] in errors
        return
    assert not errors, [str(d) for d in diagnostics]
    dsl = print_dsl(policy)
    again = ap.loads(dsl, "dsl")
    assert again == policy
    assert json.loads(dump_json(again)) == _normalized(data)
