"""GET /v1/aigw/limits and /v1/aigw/usage through a served gateway (SPEC section 14)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import httpx
import openai

from aigw_policy.gateway.keys import KeysError, parse_keys

from .conftest import record_of

MSG = [{"role": "user", "content": "hi"}]

def _doc_sample() -> dict[str, Any]:
    """docs/usage-visibility.md's example answer of GET /v1/aigw/limits."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "usage-visibility.md").read_text()
    section = doc.split("## `GET /v1/aigw/limits`", 1)[1]
    return json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])


def _usage_fields() -> set[str]:
    """The keys of docs/usage-visibility.md's example answer of GET /v1/aigw/usage."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "usage-visibility.md").read_text()
    block = doc.split('```json\n{"by": ', 1)[1].split("```", 1)[0]
    return {"by", *re.findall(r'"([a-z_]+)": ', block)}


SAMPLE = _doc_sample()
USAGE_FIELDS = _usage_fields()
FIELDS = set(SAMPLE["limits"][0])  # what the doc shows of each limit is what it gets


def get(gateway: Any, path: str, key: str | None, **headers: str) -> httpx.Response:
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return httpx.get(gateway.url + path, headers=headers, timeout=10)


def test_limits_are_the_callers_and_agree_with_the_next_decision(gateway: Any, gateway_files: Any) -> None:
    research = get(gateway, "/v1/aigw/limits", "sk-gw-research").json()
    assert set(research) == set(SAMPLE)
    assert research["key"] == "k-research"
    assert [v["name"] for v in research["limits"]] == ["team-tpm"]  # tiny-rpm is for team tiny only
    c = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gw-tiny", max_retries=0, timeout=10)
    before = {v["name"]: v for v in get(gateway, "/v1/aigw/limits", "sk-gw-tiny").json()["limits"]}
    assert set(before) == {"team-tpm", "tiny-rpm"}
    for v in before.values():
        assert set(v) == FIELDS, set(v) ^ FIELDS
        datetime.fromisoformat(v["reset_at"].replace("Z", "+00:00"))
    rpm = before["tiny-rpm"]
    assert rpm["key"] is not None and rpm["unit"] == "requests" and rpm["limit"] == 1
    if rpm["remaining"] >= 1:  # another test of the module may have spent it already
        raw = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
        record_of(gateway_files["ledger"], raw.headers["x-aigw-decision-id"])
    after = {v["name"]: v for v in get(gateway, "/v1/aigw/limits", "sk-gw-tiny").json()["limits"]}
    assert after["tiny-rpm"]["remaining"] == 0 and after["tiny-rpm"]["used"] == 1
    assert after["tiny-rpm"]["outcome"] == "limited"
    # the next decision agrees: limited, in the same bucket, and reading the view charged nothing
    with pytest.raises(openai.RateLimitError) as caught:
        c.chat.completions.create(model="gpt-4o", messages=MSG)
    aigw = caught.value.body["aigw"]
    assert aigw["limit"] == "tiny-rpm" and aigw["key"] == after["tiny-rpm"]["key"]
    again = {v["name"]: v for v in get(gateway, "/v1/aigw/limits", "sk-gw-tiny").json()["limits"]}
    assert again["tiny-rpm"]["used"] == 1


@pytest.mark.parametrize("path", ["/v1/aigw/limits", "/v1/aigw/usage"])
def test_an_unknown_key_is_a_401_in_the_provider_shape(gateway: Any, path: str) -> None:
    for key in ("sk-nope", None):
        r = get(gateway, path, key)
        assert r.status_code == 401
        body = r.json()
        assert body["error"]["type"] == "authentication_error" and body["error"]["code"] == "invalid_api_key"
        assert body["aigw"]["code"] == "invalid_api_key"
        assert body["aigw"]["decision_id"] == r.headers["x-aigw-decision-id"]
    r = httpx.get(gateway.url + path, headers={"x-api-key": "sk-nope", "anthropic-version": "2023-06-01"})
    assert r.status_code == 401 and r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "authentication_error"


def test_usage_is_for_admin_keys(gateway: Any, gateway_files: Any) -> None:
    c = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gw-research", max_retries=0, timeout=10)
    raw = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    mine = record_of(gateway_files["ledger"], raw.headers["x-aigw-decision-id"])
    denied = get(gateway, "/v1/aigw/usage", "sk-gw-research")
    assert denied.status_code == 403 and denied.json()["aigw"]["code"] == "not_an_admin_key"
    r = get(gateway, "/v1/aigw/usage?by=team,model&since=1d", "sk-gw-ops")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["by"] == ["team", "model"] and report["truncated"] is False
    assert set(report) == USAGE_FIELDS, set(report) ^ USAGE_FIELDS
    row = next(x for x in report["rows"] if x["team"] == "research" and x["model"] == "gpt-4o")
    assert row["requests"] >= 1 and row["total_tokens"] > 0
    assert report["total"]["requests"] >= sum(x["requests"] for x in report["rows"])
    keys = get(gateway, "/v1/aigw/usage?by=key", "sk-gw-ops")
    assert "k-research" in {x["key"] for x in keys.json()["rows"]}
    assert "sk-gw" not in keys.text and "upstream-secret" not in keys.text  # ids, never secrets
    days = get(gateway, "/v1/aigw/usage?by=day", "sk-gw-ops").json()
    assert mine["time"][:10] in {x["day"] for x in days["rows"]}  # the request's UTC day (not the clock's now)


@pytest.mark.parametrize("query, words", [("by=org", "unknown group `org`"), ("by=tema", "unknown group"),
                                          ("since=yesterday", "bad since"), ("sort=key", "unknown query")])
def test_bad_usage_queries_are_400(gateway: Any, query: str, words: str) -> None:
    r = get(gateway, f"/v1/aigw/usage?{query}", "sk-gw-ops")
    assert r.status_code == 400 and words in r.json()["error"]["message"]
    assert r.json()["aigw"]["code"] == "invalid_query"


@pytest.mark.parametrize("path", ["/v1/aigw/limits", "/v1/aigw/usage"])
def test_only_get_and_never_cached(gateway: Any, path: str) -> None:
    """docs/usage-visibility.md: both endpoints answer GET only (405 otherwise), `Cache-Control: no-store`."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = httpx.request(method, gateway.url + path, headers={"authorization": "Bearer sk-gw-ops"}, json={})
        assert r.status_code == 405 and r.headers["allow"] == "GET", method
        assert r.json()["aigw"]["code"] == "method_not_allowed"
    r = get(gateway, path, "sk-gw-ops")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def test_admin_keys_name_known_keys() -> None:
    text = "keys:\n  - key: sk-a\n    identity: {key: k-ops}\nadmin_keys: [k-opps]\n"
    with pytest.raises(KeysError) as caught:
        parse_keys(text, env={})
    d = caught.value.diagnostics
    assert [x.code for x in d] == ["AIGW608"] and "k-opps" in d[0].message and "k-ops" in (d[0].help or "")
    assert d[0].span is not None and d[0].span.line == 4
    with pytest.raises(KeysError) as shape:
        parse_keys("keys:\n  - key: sk-a\n    identity: {key: k-ops}\nadmin_keys: k-ops\n", env={})
    assert [x.code for x in shape.value.diagnostics] == ["AIGW608"]
    with pytest.raises(KeysError) as typo:
        parse_keys("keys:\n  - key: sk-a\n    identity: {key: k-ops}\nadmin_key: [k-ops]\n", env={})
    assert typo.value.diagnostics[0].code == "AIGW601" and "admin_keys" in (typo.value.diagnostics[0].help or "")
    ring = parse_keys(text.replace("k-opps", "k-ops"), env={})
    assert ring.is_admin({"key": "k-ops"}) and not ring.is_admin({"key": "k-other"})
