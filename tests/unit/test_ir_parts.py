"""Nested parts of action configs (ir/parts.py): how a path through ``ai-gateway``'s config
resolves."""

from __future__ import annotations

import pytest

from aigw_policy.ir.actions import ACTIONS
from aigw_policy.ir.ai_gateway import AiGateway, ProviderConfig, Selection
from aigw_policy.ir.parts import kind_at, part_of


def test_part_of():
    assert part_of(AiGateway, "providers") == (ProviderConfig, True)
    assert part_of(AiGateway, "model_selection") == (Selection, False)
    assert part_of(AiGateway, "headers") is None
    assert part_of(AiGateway, "nope") is None
    # no other action has parts
    assert all(part_of(model, name) is None for t, model in ACTIONS.items() if t != "ai-gateway"
               for name in model.model_fields)


@pytest.mark.parametrize("model, path, kind", [
    (AiGateway, "model_selection.strategy.0", ("cel_list", True)),
    (AiGateway, "model_selection.strategy", ("cel_list", False)),
    (AiGateway, "providers.1.api_keys.0.value", ("data", False)),
    (AiGateway, "providers.1", ("data", False)),
    (AiGateway, "providers.x", None),
    (AiGateway, "providers.0.nope", None),
    (AiGateway, "per_request_timeout", ("duration", False)),
    (AiGateway, "headers.x-a", ("template_map", True)),
    (ACTIONS["token-limit"], "bucket_key.2", ("cel_list", True)),
    (ACTIONS["token-limit"], "cost", ("cel", False)),
])
def test_kind_at(model, path, kind):
    assert kind_at(model, path) == kind
