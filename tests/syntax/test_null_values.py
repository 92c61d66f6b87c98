"""A null (`~`, `null`, nothing after the colon) is one rule everywhere in a policy document:
the value of a key is read as the key not written, as Go's decoder (ngrok's reader) leaves a
field it reads a null into at its zero value. An optional key takes its default; a required
key is refused where the null is written, the help saying so. An item of a list, or a value
of a map of headers, names, ranges or expressions, is no key: a null there is refused. A
free-form value (`log`'s `metadata`, a `set-vars` value) keeps the null it holds.

Before session 26 a null was the key left out inside an action's config and refused beside
it: the rule's and the document's `name`, `on_error`, `mode`, `default` and `shard_key`
(the rows of ``UNWRITTEN`` at those levels failed before the fix; the help rows of
``REFUSED`` likewise).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.ir.actions import ACTIONS
from aigw_policy.loader import read
from aigw_policy.syntax.yaml_form import dump_data

DENY = "    actions:\n      - type: deny\n"


def _read(text: str, fmt: str = "yaml") -> tuple[Any, list[Any]]:
    return read(text, format=fmt, cache_dir=None)


# (label, the document with a null, the same document without that key)
UNWRITTEN: list[tuple[str, str, str]] = [
    ("top name", "name: ~\non_http_request:\n  - " + DENY[4:], "on_http_request:\n  - " + DENY[4:]),
    ("top on_error", "on_error: ~\non_http_request:\n  - " + DENY[4:], "on_http_request:\n  - " + DENY[4:]),
    ("top default", "default: null\non_http_request:\n  - " + DENY[4:], "on_http_request:\n  - " + DENY[4:]),
    ("top shard_key", "shard_key:\non_http_request:\n  - " + DENY[4:], "on_http_request:\n  - " + DENY[4:]),
    ("rule name", "on_http_request:\n  - name: ~\n" + DENY, "on_http_request:\n  -\n" + DENY),
    ("rule name empty", "on_http_request:\n  - name:\n" + DENY, "on_http_request:\n  -\n" + DENY),
    ("rule on_error", "on_http_request:\n  - on_error: ~\n" + DENY, "on_http_request:\n  -\n" + DENY),
    ("rule mode", "on_http_request:\n  - mode: null\n" + DENY, "on_http_request:\n  -\n" + DENY),
    ("rule expressions", "on_http_request:\n  - expressions: ~\n" + DENY, "on_http_request:\n  -\n" + DENY),
    ("phase", "on_http_response: ~\non_http_request:\n  - " + DENY[4:], "on_http_request:\n  - " + DENY[4:]),
    ("config", "on_http_request:\n  - actions:\n      - type: deny\n        config: ~\n",
     "on_http_request:\n  - actions:\n      - type: deny\n"),
    ("ai-gateway provider models",
     "on_http_request:\n  - actions:\n      - type: ai-gateway\n        config: {providers: [{id: openai, models: ~}]}\n",
     "on_http_request:\n  - actions:\n      - type: ai-gateway\n        config: {providers: [{id: openai}]}\n"),
    ("ai-gateway api_keys",
     "on_http_request:\n  - actions:\n      - type: ai-gateway\n        config: {providers: [{id: openai, api_keys: ~}]}\n",
     "on_http_request:\n  - actions:\n      - type: ai-gateway\n        config: {providers: [{id: openai}]}\n"),
    ("json rule name", '{"on_http_request": [{"name": null, "actions": [{"type": "deny"}]}]}',
     '{"on_http_request": [{"actions": [{"type": "deny"}]}]}'),
]


@pytest.mark.parametrize(("label", "with_null", "without"), UNWRITTEN, ids=[r[0] for r in UNWRITTEN])
def test_a_null_is_the_key_not_written(label: str, with_null: str, without: str) -> None:
    fmt = "json" if with_null.startswith("{") else "yaml"
    policy, found = _read(with_null, fmt)
    expected, expected_found = _read(without, fmt)
    assert [d.code for d in found] == [d.code for d in expected_found], (label, found)
    assert policy is not None and expected is not None
    assert dump_data(policy) == dump_data(expected)


# (label, document, code, line, column, words of the help)
REFUSED: list[tuple[str, str, str, int, int, str]] = [
    ("a required key", "on_http_request:\n  - actions:\n      - type: redirect\n        config:\n          to: ~\n",
     "AIGW122", 5, 15, "`to` is required"),
    ("a required nested key",
     "on_http_request:\n  - actions:\n      - type: ai-gateway\n        config:\n          providers:\n"
     "            - id: ~\n", "AIGW122", 6, 19, "`id` is required"),
    ("a list item", "on_http_request:\n  - actions:\n      - type: remove-headers\n        config:\n"
     "          headers: [x-a, ~]\n", "AIGW122", 5, 26, "an item of a list"),
    ("a header value", "on_http_request:\n  - actions:\n      - type: add-headers\n        config:\n"
     "          headers:\n            x-a: ~\n", "AIGW122", 6, 18, "a value of `headers`"),
    ("an expression", "on_http_request:\n  - expressions: [~]\n" + DENY, "AIGW122", 2, 19, "an item of a list"),
    ("an action type", "on_http_request:\n  - actions:\n      - type: ~\n", "AIGW122", 3, 15, "`type` is required"),
    ("a misspelled key stays unknown", "on_http_request:\n  - nmae: ~\n" + DENY, "AIGW103", 2, 5, "`name`"),
]


@pytest.mark.parametrize(("label", "text", "code", "line", "column", "help"), REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_a_null_where_a_value_is_needed_is_refused(label: str, text: str, code: str, line: int,
                                                   column: int, help: str) -> None:
    _, found = _read(text)
    [problem] = [d for d in found if d.is_error]
    assert (problem.code, problem.span.line, problem.span.column) == (code, line, column), problem
    assert help in (problem.help or ""), problem


def _config_keys() -> list[tuple[str, str, bool]]:
    return [(name, key, field.is_required()) for name, model in sorted(ACTIONS.items())
            for key, field in model.model_fields.items()]


FILL: dict[str, dict[str, Any]] = {
    "rate-limit": {"name": "n", "capacity": 10, "rate": "60s"},
    "token-limit": {"name": "n", "capacity": 10, "rate": "60s"},
    "usage-cap": {"name": "n", "limit": 10, "unit": "usd", "period": "day"},
    "add-headers": {"headers": {"x-a": "v"}},
    "remove-headers": {"headers": ["x-a"]},
    "set-vars": {"vars": [{"a": "b"}]},
    "redirect": {"to": "https://example.com/"},
    "url-rewrite": {"from": "/a", "to": "/b"},
    "basic-auth": {"credentials": ["alice:password123"]},
    "forward-internal": {"url": "https://api.internal"},
    "set-model": {"model": "gpt-4o"},
    "max-tokens": {"input": 100},
    "model-access": {"allow": ["gpt-4o"]},
}


@pytest.mark.parametrize(("action", "key", "required"), _config_keys(), ids=lambda x: str(x))
def test_every_config_key_reads_a_null_by_the_one_rule(action: str, key: str, required: bool) -> None:
    phase = "on_http_response" if action == "compress-response" else "on_http_request"

    def doc(config: dict[str, Any]) -> str:
        return json.dumps({phase: [{"actions": [{"type": action, "config": config}]}]})

    with_null = {**FILL.get(action, {}), key: None}
    policy, found = _read(doc(with_null), "json")
    if required:
        errors = [d for d in found if d.is_error]
        assert errors and errors[0].span is not None, (action, key, found)
        assert errors[0].code in ("AIGW121", "AIGW122", "AIGW125"), errors[0]
        assert "None" not in errors[0].message and "required" in (errors[0].help or ""), errors[0]
        return
    without = {k: v for k, v in with_null.items() if k != key}
    expected, expected_found = _read(doc(without), "json")
    assert [d.code for d in found] == [d.code for d in expected_found], (action, key, found)
    if expected is not None:
        assert policy is not None and dump_data(policy) == dump_data(expected)
