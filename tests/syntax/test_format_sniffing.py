"""A document with no format and no file extension is sniffed: text that starts with `{` or `[`
is JSON when it parses as JSON, and YAML when only YAML reads it (ngrok reads every policy as
YAML, so a flow-style document with unquoted keys or single quotes is one); text that neither
reads gets the JSON reader's diagnostics, which say more about a broken JSON document."""

from __future__ import annotations

import pytest

import aigw_policy as ap

CASES = [
    # (what, text, read, the codes)
    ("strict JSON", '{"on_http_request": [{"actions": [{"type": "deny"}]}]}', True, []),
    ("YAML flow mapping", "{on_http_request: [{actions: [{type: deny}]}]}", True, []),
    ("single quotes", "{'on_http_request': [{'actions': [{'type': 'deny'}]}]}", True, []),
    ("a trailing comma", '{"on_http_request": [{"actions": [{"type": "deny"},]}]}', True, []),
    ("a JSON comment", '{\n  // the phases\n  "on_http_request": []\n}', False, ["AIGW011"]),
    ("broken either way", '{"on_http_request": [{"actions": [}', False, ["AIGW011"]),
]


@pytest.mark.parametrize(("what", "text", "read", "codes"), CASES, ids=[c[0] for c in CASES])
def test_sniffed_format(what: str, text: str, read: bool, codes: list[str]) -> None:
    policy, found = ap.read(text, cache_dir=None)
    assert [d.code for d in found] == codes, found
    assert (policy is not None and len(policy.on_http_request or ()) == 1) == read


@pytest.mark.parametrize("name", ["p.json", None, "p.yaml"])
def test_a_byte_order_mark_before_a_json_policy_is_read_past(name: str | None) -> None:
    """Windows editors save UTF-8 with a BOM; ngrok's YAML reader reads past it. The JSON
    reader said `unexpected UTF-8 BOM (decode using utf-8-sig)` and refused the policy."""
    text = '\ufeff{"on_http_request": [{"actions": [{"type": "deny", "config": {"status_code": 99}}]}]}'
    _, found = ap.read(text, name=name, cache_dir=None)
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("AIGW123", 1, 79)], found
