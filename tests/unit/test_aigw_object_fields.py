"""SPEC §14: every answer the gateway gives itself carries, inside the provider's error shape,
an `aigw` object of the same nine fields, {code, rule, limit, key, reason, retry_after,
resets_at, decision_id, hint}: for each builder of such answers (the gateway's own refusals
and denials, a route's errors), each API's error shape, each status and a spent budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aigw_policy.engine import route_errors
from aigw_policy.gateway import errors

SPEC_FIELDS = ("code", "rule", "limit", "key", "reason", "retry_after", "resets_at", "decision_id", "hint")
APIS = ("openai", "anthropic", "gemini", "bedrock", "cohere", "ollama")
STATUSES = (400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 431, 500, 502, 503, 504)


def _objects(body: Any) -> Iterator[dict[str, Any]]:
    if isinstance(body, dict):
        if "aigw" in body:
            yield body["aigw"]
        for value in body.values():
            yield from _objects(value)


def _bodies(api: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for status in STATUSES:
        yield f"refusal {status}", errors.error_body(api, status, "m", decision_id="r1", code="invalid_path")
        yield f"denial {status}", errors.error_body(api, status, "m", rule="r", decision_id="r1")
        yield f"budget {status}", errors.error_body(api, status, "m", rule="r", decision_id="r1", quota=True, aigw={
            "code": "usage_cap_exhausted", "limit": "l", "key": "k", "retry_after": 3,
            "resets_at": "2026-12-01T00:00:00Z", "hint": "h"})
        yield f"route {status}", route_errors.error_body(api, status, "ERR_NGROK_3807", "m", "r1", "route")


def test_the_fields_are_the_spec_s() -> None:
    assert errors.AIGW_FIELDS == route_errors.AIGW_FIELDS == SPEC_FIELDS


@pytest.mark.parametrize("api", APIS)
def test_every_answer_of_the_gateway_carries_the_nine_fields(api: str) -> None:
    for what, body in _bodies(api):
        found = list(_objects(body))
        assert found, f"{api} {what}: no aigw object in {body}"
        for obj in found:
            assert tuple(obj) == SPEC_FIELDS, f"{api} {what}: {obj}"
            assert obj["decision_id"] == "r1" and obj["code"] and obj["reason"], f"{api} {what}: {obj}"
