"""The SDKs' own retries (``max_retries``) against the gateway's 429s. The Anthropic SDK
sleeps for whatever ``Retry-After`` says before it retries: a daily rate limit's 429
(``Retry-After`` of hours) left the call asleep for hours instead of raising. A 429 whose wait
is longer than two minutes (the longest the OpenAI SDK waits for), or that no wait can help,
therefore says ``x-should-retry: false``, which the SDKs obey: one request, and the error at
once. A short wait is left to them."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-sdk-retries"
POLICY = """\
on_http_request:
  - name: short
    expressions: ["'x-short' in req.headers"]
    actions:
      - type: rate-limit
        config: {name: short, capacity: 1, rate: 30s, algorithm: fixed_window, bucket_key: ["identity.key"]}
  - name: daily
    expressions: ["!('x-short' in req.headers)"]
    actions:
      - type: rate-limit
        config: {name: daily, capacity: 1, rate: 24h, algorithm: fixed_window, bucket_key: ["identity.key"]}
"""
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture()
def gw() -> Any:
    with ServerThread(StubUpstream()) as stub, policy_gateway(POLICY, KEY, upstream=stub.url) as server:
        yield server


def _counting(sdk: str) -> tuple[Any, list[str]]:
    """An HTTP client for ``sdk`` (the Anthropic SDK brings its own httpx, ``httpx2``) that
    counts the requests it sends."""
    sent: list[str] = []
    module: Any = httpx
    if sdk == "anthropic":
        import httpx2

        module = httpx2
    return module.Client(event_hooks={"request": [lambda r: sent.append(r.url.path)]}), sent


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_429_no_sdk_should_wait_for_is_not_retried(gw: Any, sdk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    http, sent = _counting(sdk)
    if sdk == "openai":
        client: Any = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=2, http_client=http)
        call = lambda: client.chat.completions.create(model="gpt-4o", messages=MSG)  # noqa: E731
        error: Any = openai.RateLimitError
    else:
        client = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=2, http_client=http)
        call = lambda: client.messages.create(model="claude-sonnet-4", max_tokens=5, messages=MSG)  # noqa: E731
        error = anthropic.RateLimitError
    call()
    real = time.sleep

    def short_only(seconds: float) -> None:  # the SDK's wait before a retry, refused when long
        if seconds > 120:
            raise AssertionError(f"the SDK would sleep {seconds:.0f} s before it retries")
        real(seconds)

    with monkeypatch.context() as patch, pytest.raises(error) as caught:
        patch.setattr(time, "sleep", short_only)
        call()
    assert len(sent) == 2  # the one allowed, and the 429 once: no retry
    headers = caught.value.response.headers
    assert int(headers["retry-after"]) > 120 and headers["x-should-retry"] == "false"


def test_a_short_wait_is_left_to_the_sdk(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, default_headers={"x-short": "1"})
    client.chat.completions.create(model="gpt-4o", messages=MSG)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    headers = caught.value.response.headers
    assert int(headers["retry-after"]) <= 30 and "x-should-retry" not in headers


def test_a_quota_answer_says_it_once() -> None:
    """An exhausted daily ``usage-cap`` is a quota answer (``x-should-retry: false`` already)
    whose wait is long (the limit's own): the header is said once, not ``false, false``."""
    from aigw_policy.gateway.errors import with_extra

    own = [(b"content-type", b"application/json"), (b"x-should-retry", b"false")]
    extra = [(b"retry-after", b"3600"), (b"x-should-retry", b"false")]
    assert [k for k, _ in with_extra(own, extra)].count(b"x-should-retry") == 1
    assert with_extra(own, None) == own


FAILING = """\
on_http_request:
  - name: broken
    expressions: ["conn.tls.version == 'x'"]
    actions:
      - type: deny
"""


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_rule_that_failed_closed_is_not_retried(sdk: str) -> None:
    """A rule that fails (here: it reads a variable ``serve`` does not supply, ``on_error: deny``)
    fails the same way for the same request: its 500 says ``x-should-retry: false``, or each SDK
    sent it three times, sleeping between (and each was evaluated and logged)."""
    http, sent = _counting(sdk)
    with ServerThread(StubUpstream()) as stub, policy_gateway(FAILING, KEY, upstream=stub.url) as gw:
        if sdk == "openai":
            client: Any = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=2, http_client=http)
            with pytest.raises(openai.InternalServerError) as caught:
                client.chat.completions.create(model="gpt-4o", messages=MSG)
        else:
            client = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=2, http_client=http)
            with pytest.raises(anthropic.InternalServerError) as caught:
                client.messages.create(model="claude-sonnet-4", max_tokens=5, messages=MSG)
    assert len(sent) == 1
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "broken" in str(caught.value)
