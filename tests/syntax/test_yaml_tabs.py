"""Tabs in YAML, where ngrok's reader (Go's yaml, a port of libyaml) takes them and where it
refuses them. A tab is white space between tokens in a flow collection and after a token that
cannot start a key (after `key:`, after a scalar, before a comment), and inside a plain
scalar; it is refused where it would indent: at the start of a line and after `-`.
PyYAML refused every tab outside a quoted or block scalar."""

from __future__ import annotations

import pytest

import aigw_policy as ap

_RULE = "on_http_request:\n  - name: {name}\n    expressions: [\"{expr}\"]\n    actions:\n      - type: deny\n"

READ = [
    # (what, text, the rule's name, its expression)
    ("tab after a key's colon", "on_http_request:\n  - name:\tblock\n    actions:\n      - type:\tdeny\n",
     "block", None),
    ("tab after a key with nothing after it", "on_http_request:\t\n  - name: block\n    actions:\n"
     "      - type: deny\n", "block", None),
    ("trailing tab after a plain scalar", "on_http_request:\n  - name: block\t\n    actions:\n"
     "      - type: deny\n", "block", None),
    ("tab before a comment", "on_http_request:\n  - name: block\t# why\n    actions:\n"
     "      - type: deny\n", "block", None),
    ("tab after a quoted scalar", "on_http_request:\n  - name: 'block'\t\n    actions:\n"
     "      - type: deny\n", "block", None),
    ("tab inside a plain scalar", "on_http_request:\n  - name: block\tbots\n    actions:\n"
     "      - type: deny\n", "block\tbots", None),
    ("tabs in a flow collection", "on_http_request:\n  - name: block\n    expressions: [\t\"true\",\t]\n"
     "    actions: [{type:\tdeny,\tconfig: {status_code:\t403}}]\n", "block", "true"),
]

REFUSED = [
    # (what, text, line, column): where the tab is
    ("tab indenting a line", "on_http_request:\n\t- name: block\n\t  actions: [{type: deny}]\n", 2, 1),
    ("tab after a dash", "on_http_request:\n  -\tname: block\n    actions: [{type: deny}]\n", 2, 4),
    ("tab on an otherwise blank line", "on_http_request:\n\t\n  - name: block\n    actions: [{type: deny}]\n",
     2, 1),
]


@pytest.mark.parametrize(("what", "text", "name", "expr"), READ, ids=[r[0] for r in READ])
def test_tab_read_as_go_yaml_reads_it(what: str, text: str, name: str, expr: str | None) -> None:
    policy, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert policy is not None and not [d for d in found if d.severity.value == "error"], found
    rule = policy.on_http_request[0]
    assert rule.name == name
    assert [e.source for e in rule.expressions] == ([expr] if expr else [])
    assert [a.type for a in rule.actions] == ["deny"]


@pytest.mark.parametrize(("what", "text", "line", "column"), REFUSED, ids=[r[0] for r in REFUSED])
def test_tab_refused_where_go_yaml_refuses_it(what: str, text: str, line: int, column: int) -> None:
    policy, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert policy is None
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("AIGW010", line, column)]
    assert "tab" in found[0].message and "spaces" in (found[0].help or "")
