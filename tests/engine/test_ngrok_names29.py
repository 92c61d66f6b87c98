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
