"""Completion in YAML's flow style, of which JSON is one spelling (`{type: rate-limit, config:
{|}}`, `{"actions": [{"type": "|"}]}`): the same rule keys, action types, config keys
(nested ones too) and values as in block style. Before, the cursor's place was read from
indentation alone, and a flow mapping only when it opened on the cursor's line and its action's
`type` was on a line of its own: everything below got no items. A key typed inside quotes is
completed without the `: ` a bare key gets (the editor already has the quote)."""

from __future__ import annotations

import pytest
from lsprotocol import types

from aigw_policy.lsp.completion import complete
from aigw_policy.lsp.context import context_at
from aigw_policy.lsp.hover import hover_at

EDIT = types.Range(types.Position(0, 0), types.Position(0, 0))
BLOCK = "on_http_request:\n  - name: r\n    actions:\n"

CASES = [  # (text with `|` at the cursor, labels wanted, the text one of them inserts)
    (BLOCK + "      - type: token-limit\n        config: {|}\n", ["capacity", "rate", "cost"], "capacity: "),
    (BLOCK + "      - type: token-limit\n        config: {name: a,\n          |}\n", ["capacity", "cost"], "capacity: "),
    (BLOCK + "      - {type: rate-limit, config: {name: a, |}}\n", ["capacity", "algorithm"], "capacity: "),
    (BLOCK + "      - {config: {|}, type: rate-limit}\n", ["capacity", "algorithm"], "capacity: "),
    (BLOCK + "      - {type: rate-limit, config: {algorithm: |}}\n", ["sliding_window", "token_bucket"], "token_bucket"),
    (BLOCK + "      - {type: |}\n", ["rate-limit", "deny"], "deny"),
    (BLOCK + "      - {|}\n", ["type", "config"], "type: "),
    ('{"on_http_request": [{"actions": [{"type": "rate-limit", "config": {"|"}}]}]}', ["capacity", "rate"], "capacity"),
    ('{"on_http_request": [{"actions": [{"type": "rate-limit", "config": {"algorithm": "|"}}]}]}',
     ["sliding_window"], "sliding_window"),
    ('{"on_http_request": [{"actions": [{"config": {"|"}, "type": "max-tokens"}]}]}', ["input", "output", "mode"], "mode"),
    ('{"on_http_request": [{"actions": [{"type": "ai-gateway", "config": {"providers": [{"|"}]}}]}]}',
     ["base_url", "api_keys", "models"], "models"),
    ('{"on_http_request": [{"actions": [{"type": "|"}]}]}', ["rate-limit", "deny"], "deny"),
    ('{"on_http_request": [{"actions": [{"|"}]}]}', ["type", "config"], "type"),
    ('{"on_http_request": [{"|"}]}', ["name", "expressions", "actions"], "actions"),
    ('{\n  "on_http_request": [\n    {\n      "|"\n', ["name", "expressions", "actions"], "actions"),
    ('{"|"}', ["on_http_request", "default"], "default"),
    ('{|}', ["on_http_request", "default"], "default: "),
]


@pytest.mark.parametrize(("marked", "wanted", "inserted"), CASES, ids=[f"flow-{i}" for i in range(len(CASES))])
def test_flow_completion(marked: str, wanted: list[str], inserted: str) -> None:
    offset = marked.index("|")
    text = marked[:offset] + marked[offset + 1:]
    items = complete(context_at(text, offset, False), None, False, EDIT)
    labels = [i.label for i in items]
    assert set(wanted) <= set(labels), labels
    edits = {i.label: i.text_edit.new_text for i in items if isinstance(i.text_edit, types.TextEdit)}
    assert inserted in edits.values(), edits
    if "deny" in wanted:  # action types, for the request phase
        assert "compress-response" not in labels


def test_block_style_unchanged() -> None:
    text = BLOCK + "      - type: rate-limit\n        config:\n          "
    labels = [i.label for i in complete(context_at(text, len(text), False), None, False, EDIT)]
    assert {"capacity", "rate", "algorithm"} <= set(labels)


@pytest.mark.parametrize(("marked", "wanted"), [
    ('{"on_http_request": [{"actions": [{"type": "rate-limit", "config": {"capa|city": 1}}]}]}', "`capacity`: int"),
    ('on_http_request:\n  - actions:\n      - {type: rate-limit, config: {capa|city: 1}}\n', "`capacity`: int"),
    ('{"on_http_request": [{"actions": [{"type": "ai-gateway", "config": {"providers": [{"base_u|rl": "x"}]}}]}]}',
     "`base_url`: string"),
])
def test_flow_hover_on_a_config_key(marked: str, wanted: str) -> None:
    offset = marked.index("|")
    found = hover_at(marked[:offset] + marked[offset + 1:], offset, False, None)
    assert found is not None and found[0].startswith(wanted), found
