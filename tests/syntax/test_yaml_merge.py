"""Merge keys (`<<: *anchor`), as Go's yaml (ngrok's reader) takes them: the mapping or list of
mappings after `<<` is merged into the mapping that holds it; keys written in that mapping win,
then earlier mappings of a merged list. A quoted `"<<"` (JSON) is an ordinary key."""

from __future__ import annotations

import pytest

import aigw_policy as ap

_SHARED = ("on_http_request:\n  - name: first\n    actions:\n      - &limit\n        type: rate-limit\n"
           "        config: &cfg {name: shared, algorithm: sliding_window, capacity: 10, rate: 60s, "
           "bucket_key: [conn.client_ip]}\n      - &hello {type: custom-response, config: {status_code: 200, body: hi}}\n")

READ = [
    # (what, text, the last rule's actions as (type, config name, capacity))
    ("an action merged whole", _SHARED + "  - name: second\n    actions:\n      - <<: *hello\n",
     [("custom-response", "hi", 200)]),
    ("a written key wins over the merged one", _SHARED + "  - name: second\n    actions:\n      - <<: *limit\n"
     "        config: {<<: *cfg, name: own, capacity: 5}\n", [("rate-limit", "own", 5)]),
    ("the earlier of a merged list wins", _SHARED + "  - name: second\n    actions:\n      - type: rate-limit\n"
     "        config:\n          <<: [{name: early, capacity: 3}, *cfg]\n", [("rate-limit", "early", 3)]),
    ("a written key wins even when written before the merge", _SHARED + "  - name: second\n    actions:\n"
     "      - type: rate-limit\n        config:\n          capacity: 7\n          name: four\n          <<: *cfg\n",
     [("rate-limit", "four", 7)]),
]


@pytest.mark.parametrize(("what", "text", "actions"), READ, ids=[r[0] for r in READ])
def test_merge_key_read_as_go_yaml_reads_it(what: str, text: str, actions: list[tuple[str, str, int]]) -> None:
    policy, found = ap.read(text, name="t.yaml", cache_dir=None)
    assert policy is not None and not [d for d in found if d.is_error], found
    last = policy.on_http_request[-1]
    assert [_shape(a) for a in last.actions] == actions


def _shape(action: ap.Action) -> tuple[str, str, int]:
    c = action.config
    if action.type == "custom-response":
        return (action.type, c.body, c.status_code)
    return (action.type, c.name, c.capacity)


@pytest.mark.parametrize(("text", "code", "line", "column"), [
    ("on_http_request:\n  - <<: [1]\n    actions: [{type: deny}]\n", "AIGW104", 2, 10),
    ("on_http_request:\n  - <<: text\n    actions: [{type: deny}]\n", "AIGW104", 2, 9),
    ('{"on_http_request": [{"<<": {"name": "x"}, "actions": [{"type": "deny"}]}]}', "AIGW103", 1, 23),
])
def test_what_cannot_merge_is_a_diagnostic_at_it(text: str, code: str, line: int, column: int) -> None:
    _, found = ap.read(text, name="t.json" if text.startswith("{") else "t.yaml", cache_dir=None)
    assert [(d.code, d.span.line, d.span.column) for d in found] == [(code, line, column)], found
