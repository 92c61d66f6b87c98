"""The official OpenAI SDK against `Gateway` in front of the stub upstream."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

import openai  # noqa: E402  (a test dependency)

from .conftest import record_of
from .stub import OPENAI_USAGE


def client(gateway: Any, key: str) -> Any:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10)


MSG = [{"role": "user", "content": "hi"}]


def test_allowed_json(gateway: Any, stub: Any, gateway_files: Any) -> None:
    raw = client(gateway, "sk-gw-research").chat.completions.with_raw_response.create(model="gpt-4.1", messages=MSG)
    done = raw.parse()
    assert done.choices[0].message.content == "hello from the stub!"
    rid = raw.headers["x-aigw-decision-id"]
    assert rid.startswith("req-")
    assert "team-tpm" in raw.headers["ratelimit-policy"]
    assert raw.headers["x-aigw-policy"] == "gateway-test"  # response-phase add-headers
    seen = stub.app.seen[-1]
    assert seen["headers"]["authorization"] == "Bearer upstream-secret"  # never the gateway key
    assert seen["headers"]["x-team"] == "research"  # request-phase add-headers
    assert seen["headers"]["x-aigw-decision-id"] == rid
    assert seen["body"]["max_completion_tokens"] == 512  # clamp: the request did not say
    rec = record_of(gateway_files["ledger"], rid)
    assert rec["aigw.identity.user"] == "alice"
    assert rec["gen_ai.usage.input_tokens"] == OPENAI_USAGE["prompt_tokens"]
    assert rec["gen_ai.usage.output_tokens"] == OPENAI_USAGE["completion_tokens"]
    assert rec["aigw.usage.source"] == "provider"
    assert rec["aigw.verdict"] == "allow"


def test_denied_403_is_permission_denied(gateway: Any, gateway_files: Any) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(gateway, "sk-gw-sales").chat.completions.create(model="gpt-4.1", messages=MSG)
    err = caught.value
    assert err.status_code == 403
    assert "reserved for research" in err.message
    body = err.body
    assert body["type"] == "permission_error" and body["code"] == "policy_denied"
    rid = err.response.headers["x-aigw-decision-id"]
    aigw = {"code": "policy_denied", "rule": "premium-for-research", "limit": None, "key": None,
            "reason": "model gpt-4.1 is reserved for research", "retry_after": None, "resets_at": None,
            "decision_id": rid,
            "hint": "the policy refused this request; the rule and reason say why (not retryable as is)"}
    assert err.response.json()["aigw"] == aigw and body["aigw"] == aigw
    rec = record_of(gateway_files["ledger"], rid)
    assert rec["aigw.verdict"] == "deny" and rec["aigw.rule"] == "premium-for-research"


def test_unknown_key_401(gateway: Any) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(gateway, "sk-nope").chat.completions.create(model="gpt-4o", messages=MSG)
    assert caught.value.status_code == 401
    assert caught.value.response.headers["x-aigw-decision-id"]


def test_rate_limited_429(gateway: Any) -> None:
    c = client(gateway, "sk-gw-tiny")
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    with pytest.raises(openai.RateLimitError) as caught:
        c.chat.completions.create(model="gpt-4o", messages=MSG)
    r = caught.value.response
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert "tiny-rpm" in r.headers["ratelimit"]
    assert caught.value.body["type"] == "rate_limit_error"
    aigw = caught.value.body["aigw"]
    assert aigw == r.json()["aigw"]
    assert aigw["rule"] == "tiny-rpm" and aigw["code"] == "rate_limited" and aigw["limit"]
    assert aigw["decision_id"] == r.headers["x-aigw-decision-id"]
    assert aigw["retry_after"] == int(r.headers["retry-after"])
    assert aigw["key"] is not None and "GET /v1/aigw/limits" in aigw["hint"]
    assert datetime.fromisoformat(aigw["resets_at"].replace("Z", "+00:00")) > datetime.now(timezone.utc)


def test_downgraded(gateway: Any, stub: Any, gateway_files: Any) -> None:
    raw = client(gateway, "sk-gw-economy").chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MSG, max_tokens=4000)
    done = raw.parse()
    assert done.model == "gpt-4o-mini"
    seen = stub.app.seen[-1]["body"]
    assert seen["model"] == "gpt-4o-mini" and seen["max_tokens"] == 512
    rec = record_of(gateway_files["ledger"], raw.headers["x-aigw-decision-id"])
    assert rec["gen_ai.request.model"] == "gpt-4o-mini"
    assert rec["gen_ai.response.model"] == "gpt-4o-mini"
    assert rec["aigw.identity.key"] == "k-econ"


def test_streaming_usage_injected(gateway: Any, stub: Any, gateway_files: Any) -> None:
    raw = client(gateway, "sk-gw-research").chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MSG, stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "hello from the stub!"
    assert stub.app.seen[-1]["body"]["stream_options"] == {"include_usage": True}
    rec = record_of(gateway_files["ledger"], raw.headers["x-aigw-decision-id"])
    assert rec["aigw.request.stream"] is True
    assert rec["gen_ai.usage.input_tokens"] == 21 and rec["gen_ai.usage.output_tokens"] == 5
    assert rec["aigw.usage.source"] == "provider"
