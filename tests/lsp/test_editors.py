"""The VS Code extension folder holds together: its JSON files read, its grammar's patterns
compile, and the grammar knows every action the config models define."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from aigw_policy.ir.actions import ACTIONS

from .conftest import ROOT

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "aigw.tmLanguage.json").read_text())


def patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                yield value
            else:
                yield from patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from patterns(item)


def test_the_extension_names_its_parts() -> None:
    package = json.loads((VSCODE / "package.json").read_text())
    language = package["contributes"]["languages"][0]
    assert language["id"] == "aigw" and ".aigw" in language["extensions"]
    assert (VSCODE / language["configuration"]).is_file()
    grammar = package["contributes"]["grammars"][0]
    assert (VSCODE / grammar["path"]).is_file() and grammar["scopeName"] == GRAMMAR["scopeName"]
    assert (VSCODE / package["main"]).is_file()
    assert "vscode-languageclient" in package["dependencies"]
    assert package["contributes"]["configuration"]["properties"]["aigwPolicy.command"]["default"] == ["aigw-policy", "lsp"]
    json.loads((VSCODE / "language-configuration.json").read_text())


@pytest.mark.parametrize("name", sorted(json.loads((VSCODE / "package.json").read_text())
                                         ["contributes"]["configuration"]["properties"]))
def test_docs_editors_gives_each_setting_with_its_default(name: str) -> None:
    """docs/editors.md names every setting of the extension with the default it has."""
    setting = json.loads((VSCODE / "package.json").read_text())["contributes"]["configuration"]["properties"][name]
    doc = " ".join((ROOT / "docs" / "editors.md").read_text().split())
    default = json.dumps(setting["default"])
    assert f"`{name}`" in doc, name
    said = doc.split(f"`{name}`", 1)[1].split("`aigwPolicy.", 1)[0]  # up to the next setting
    assert f"default `{default}`" in said, f"{name}: the doc does not give its default {default}"


@pytest.mark.parametrize("pattern", sorted(set(patterns(GRAMMAR))))
def test_every_pattern_compiles(pattern: str) -> None:
    re.compile(pattern)  # Python's re reads this grammar's subset of Oniguruma alike


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_grammar_knows_every_action(action: str) -> None:
    rule = re.compile(GRAMMAR["repository"]["action"]["match"])
    assert rule.search(f"      {action} {{ }}").group() == action
    assert rule.search(f"      {action}: 1") is None  # a key of that name is a key
