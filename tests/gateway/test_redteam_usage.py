"""Red-team: ``GET /v1/aigw/usage`` with hostile query values is a 400 with a code, never a 500
(a ``since`` so far back no date holds it, or with more digits than Python converts; a group
named many times, which would widen every row's key)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize("query, words", [
    ("since=99999999999999999999d", "bad since"), ("since=" + "9" * 5000 + "w", "bad since"),
    ("since=3000000d", "bad since"), ("by=team,team", "names a group twice"),
    ("by=" + ",".join(["key"] * 500), "names a group twice")])
def test_hostile_usage_queries_are_400_not_500(gateway: Any, query: str, words: str) -> None:
    r = httpx.get(f"{gateway.url}/v1/aigw/usage?{query}", headers={"authorization": "Bearer sk-gw-ops"}, timeout=30)
    assert r.status_code == 400, r.text[:300]
    assert words in r.json()["error"]["message"] and len(r.json()["error"]["message"]) < 300
    assert r.json()["aigw"]["code"] == "invalid_query"
