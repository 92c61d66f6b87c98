"""The providers serving one model name are tried in alphabetical order of their ids, not the
order they are configured (ngrok's multi-provider failover example: "Providers are tried in
alphabetical order, not the order they are configured, to control order use the
`model_selection.strategy`"; its multi-key example says the same). The configured providers
still come before the catalog's own; the client's ``models: [...]`` and ``provider:model``
names keep the client's order, and a strategy's order is its own.

Before (route27) they were tried in configuration order: a policy written as ngrok's examples
are sent its first attempt to another provider than ngrok would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap

PROVIDERS = """\
            - {id: zeta, base_url: "http://zeta.test/v1", api_keys: [{value: k-z, id: kz}], models: [{id: m1}, {id: m2}]}
            - {id: mid, base_url: "http://mid.test/v1", api_keys: [{value: k-m, id: km}], models: [{id: m1}]}
            - {id: alpha, base_url: "http://alpha.test/v1", api_keys: [{value: k-a, id: ka}], models: [{id: m1}]}
"""
ROWS: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("one name, three providers", "", {"model": "m1"}, ["alpha", "mid", "zeta"]),
    ("a fallback list keeps the client's order", "", {"model": "zeta:m1", "models": ["alpha:m1", "mid:m1"]},
     ["zeta", "alpha", "mid"]),
    ("each name of a fallback list in alphabetical order", "", {"model": "m2", "models": ["m1"]},
     ["zeta", "alpha", "mid", "zeta"]),
    ("a strategy's order is its own", "          model_selection: {strategy: [\"ai.models.filter(m, m.provider_id "
     "== 'zeta')\", \"ai.models\"]}\n", {"model": "m1"}, ["zeta"]),
]


@pytest.mark.parametrize(("extra", "body", "order"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_providers_of_a_name_are_tried_alphabetically(tmp_path: Path, extra: str, body: dict[str, Any],
                                                          order: list[str]) -> None:
    (tmp_path / "p.yaml").write_text("on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n"
                                     "        config:\n          only_allow_configured_providers: true\n" + extra
                                     + "          providers:\n" + PROVIDERS)
    d = ap.Engine(str(tmp_path / "p.yaml")).evaluate({"request": {
        "method": "POST", "url": "http://gw/v1/chat/completions", "headers": {"content-type": "application/json"},
        "body": {**body, "messages": [{"role": "user", "content": "hi"}]}}})
    assert [c["provider"] for c in d.routing["candidates"] if c["skipped_because"] is None] == order
