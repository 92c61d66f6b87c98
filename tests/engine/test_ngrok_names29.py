"""A misspelled ngrok variable is named as one, wherever it is misspelled (session 29).

ngrok's variables nest under names that are values themselves: ``req.url`` is the URL and
``req.url.path`` its path, ``conn.client_ip`` the address and ``conn.client_ip.geo.*`` its
geography. A misspelling under such a name (``req.url.pathh``) was a type error,
"type `string` does not support field selection" (AIGW303), with no help, where the same
misspelling under a plain namespace (``req.header``) is an undeclared reference (AIGW300) with
the name meant. Every row is read in a condition and in a ``${...}`` of a config; a row names
its keys, and a misspelled key fails the test.
"""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap

ROW_KEYS = {"expr", "code", "help"}

ROWS: list[dict[str, Any]] = [
    {"expr": "req.url.pathh", "code": "AIGW300", "help": "req.url.path"},
    {"expr": "req.url.query_param['a']", "code": "AIGW300", "help": "req.url.query_params"},
    {"expr": "req.url.shceme", "code": "AIGW300", "help": "req.url.scheme"},
    {"expr": "req.url.raw_pth", "code": "AIGW300", "help": "req.url.raw_path"},
    {"expr": "conn.client_ip.is_tor", "code": "AIGW300", "help": "conn.client_ip.is_tor_node"},
    {"expr": "conn.client_ip.geo.location.contry", "code": "AIGW300", "help": "conn.client_ip.geo.location.country"},
    {"expr": "req.user_agent.nme", "code": "AIGW300", "help": "req.user_agent.name"},
    {"expr": "req.content_type.paramters", "code": "AIGW300", "help": "req.content_type.parameters"},
    # a field of a value that is no namespace stays a type error
    {"expr": "req.method.name", "code": "AIGW303", "help": None},
    {"expr": "res.status_code.x", "code": "AIGW303", "help": None},
]


def _found(doc: str) -> list[tuple[str, int, int, str | None]]:
    _, found = ap.read(doc, format="yaml", cache_dir=None)
    return [(d.code, d.span.line, d.span.column, d.help) for d in found if d.is_error]


@pytest.mark.parametrize("row", ROWS, ids=[r["expr"] for r in ROWS])
def test_a_misspelled_nested_variable_is_named(row: dict[str, Any]) -> None:
    assert set(row) == ROW_KEYS, sorted(set(row) ^ ROW_KEYS)
    phase = "on_http_response" if row["expr"].startswith("res.") else "on_http_request"
    condition = f'{phase}:\n  - expressions: ["string({row["expr"]}) == \'x\'"]\n    actions:\n      - type: log\n'
    interpolated = (f"{phase}:\n  - actions:\n      - type: log\n        config:\n          metadata:\n"
                    f'            seen: "${{string({row["expr"]})}}"\n')
    for doc, at in ((condition, (2, 27)), (interpolated, (6, 29))):
        found = _found(doc)
        assert [(c, line, col) for c, line, col, _ in found] == [(row["code"], *at)], found
        if row["help"] is not None:
            assert f"`{row['help']}`" in (found[0][3] or ""), found


# -- where a finding inside an expression points, however the expression is written ---------------
# An expression written verbatim (a plain one-line scalar, quotes without escapes) had its
# findings at the word at fault; one written as ngrok's pages also write them (a `>-` or `|`
# block, a plain scalar over several lines, a quoted one with `\"` escapes, a JSON string) had
# them at the start of the whole value. Each row: the document, the line and column of
# `req.pathh` (AIGW300) in it.
PLACED: list[tuple[str, str, str, tuple[int, int]]] = [
    ("folded-block", "yaml", 'on_http_request:\n  - expressions:\n      - >-\n        req.method == "GET" &&\n'
     '        req.pathh == "/"\n    actions: [{type: deny}]\n', (5, 9)),
    ("literal-block", "yaml", 'on_http_request:\n  - expressions:\n      - |\n        req.method == "GET" &&\n'
     '        req.pathh == "/"\n    actions: [{type: deny}]\n', (5, 9)),
    ("plain-two-lines", "yaml", 'on_http_request:\n  - expressions:\n      - req.method == "GET" &&\n'
     '        req.pathh == "/"\n    actions: [{type: deny}]\n', (4, 9)),
    ("double-quoted-escapes", "yaml", 'on_http_request:\n  - expressions: ["req.headers[\\"x\\"][0] == \\"a\\" && '
     'req.pathh == 1"]\n    actions: [{type: deny}]\n', (2, 54)),
    ("json-escapes", "json", '{"on_http_request": [{"expressions": ["req.headers[\\"x\\"][0] == \\"a\\" && req.pathh == 1"],'
     ' "actions": [{"type": "deny"}]}]}', (1, 74)),
    ("template-in-block", "yaml", 'on_http_request:\n  - actions:\n      - type: custom-response\n        config:\n'
     '          body: |\n            method ${req.method}\n            path ${req.pathh}\n', (7, 20)),
    ("template-with-escapes", "json", '{"on_http_request": [{"actions": [{"type": "custom-response", "config": '
     '{"body": "{\\"p\\": \\"${req.pathh}\\"}"}}]}]}', (1, 95)),
]


@pytest.mark.parametrize(("form", "fmt", "doc", "at"), PLACED, ids=[p[0] for p in PLACED])
def test_a_finding_points_at_the_word_however_the_expression_is_written(form: str, fmt: str, doc: str,
                                                                        at: tuple[int, int]) -> None:
    _, found = ap.read(doc, format=fmt, cache_dir=None)
    errors = [(d.code, d.span.line, d.span.column) for d in found if d.is_error]
    assert errors == [("AIGW300", *at)], (form, [str(d) for d in found])
    line = doc.split("\n")[at[0] - 1]
    assert line[at[1] - 1:].startswith("req.pathh"), line


def test_a_strategy_written_in_a_block_is_placed_at_its_word() -> None:
    """The community's multi-line strategies (``strategy: - |``): the selection checker's
    finding (AIGW323) at the field at fault, not at the block's ``|``."""
    doc = ("on_http_request:\n  - type: ai-gateway\n    config:\n      model_selection:\n        strategy:\n"
           "          - |\n            ai.models\n              .filter(m, m.pricing.inpt < 1.0)\n")
    _, found = ap.read(doc, format="yaml", cache_dir=None)
    assert [(d.code, d.span.line, d.span.column) for d in found if d.is_error] == [("AIGW323", 8, 26)], found
