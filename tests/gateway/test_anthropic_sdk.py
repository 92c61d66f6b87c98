"""The official Anthropic SDK against the gateway in front of the stub upstream."""

from __future__ import annotations

from typing import Any

import pytest

import anthropic  # noqa: E402  (a test dependency)

from .conftest import record_of
from .stub import ANTHROPIC_USAGE

MSG = [{"role": "user", "content": "hi"}]


def client(gateway: Any, key: str) -> Any:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=10)


def test_allowed_json(gateway: Any, stub: Any, gateway_files: Any) -> None:
    raw = client(gateway, "sk-gw-research").messages.with_raw_response.create(
        model="claude-opus-4", max_tokens=2000, messages=MSG)
    msg = raw.parse()
    assert msg.content[0].text == "hello from the stub!"
    seen = stub.app.seen[-1]
    assert seen["headers"]["x-api-key"] == "upstream-secret"
    assert seen["body"]["max_tokens"] == 512  # clamped
    rec = record_of(gateway_files["ledger"], raw.headers["x-aigw-decision-id"])
    assert rec["gen_ai.provider.name"] == "anthropic"
    assert rec["gen_ai.usage.input_tokens"] == ANTHROPIC_USAGE["input_tokens"]
    assert rec["gen_ai.usage.output_tokens"] == ANTHROPIC_USAGE["output_tokens"]


def test_streaming(gateway: Any, gateway_files: Any) -> None:
    with client(gateway, "sk-gw-research").messages.stream(model="claude-sonnet-4", max_tokens=100,
                                                           messages=MSG) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        rid = stream.response.headers["x-aigw-decision-id"]
    assert text == "hello from the stub!"
    assert final.usage.output_tokens == ANTHROPIC_USAGE["output_tokens"]
    rec = record_of(gateway_files["ledger"], rid)
    assert rec["aigw.request.stream"] is True and rec["aigw.usage.source"] == "provider"
    assert rec["gen_ai.usage.input_tokens"] == 25 and rec["gen_ai.usage.output_tokens"] == 7


def test_denied_403(gateway: Any) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client(gateway, "sk-gw-sales").messages.create(model="claude-opus-4", max_tokens=10, messages=MSG)
    assert caught.value.status_code == 403
    assert caught.value.body["error"]["type"] == "permission_error"
    assert "reserved for research" in caught.value.body["error"]["message"]
    assert caught.value.body["request_id"] == caught.value.response.headers["x-aigw-decision-id"]


def test_unknown_key_401(gateway: Any) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        client(gateway, "sk-wrong").messages.create(model="claude-sonnet-4", max_tokens=10, messages=MSG)


def test_rate_limited_429(gateway: Any) -> None:
    c = client(gateway, "sk-gw-tiny")
    with pytest.raises(anthropic.RateLimitError) as caught:
        for _ in range(2):  # the OpenAI test may have used the one request of this minute
            c.messages.create(model="claude-sonnet-4", max_tokens=10, messages=MSG)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.response.headers["retry-after"]


def test_downgraded_stream(gateway: Any, stub: Any, gateway_files: Any) -> None:
    with client(gateway, "sk-gw-economy").messages.stream(model="claude-sonnet-4", max_tokens=100,
                                                          messages=MSG) as stream:
        final = stream.get_final_message()
        rid = stream.response.headers["x-aigw-decision-id"]
    assert final.model == "claude-haiku-4"
    assert stub.app.seen[-1]["body"]["model"] == "claude-haiku-4"
    rec = record_of(gateway_files["ledger"], rid)
    assert rec["gen_ai.request.model"] == "claude-haiku-4"
    assert rec["gen_ai.usage.output_tokens"] == 7
