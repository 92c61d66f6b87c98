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
def gw(steady_clock: float) -> Any:
    """A gateway whose clock starts 0.5 s into a minute, 15 minutes or more before a UTC
    midnight: on the wall clock, the daily limit's 429 said `Retry-After` under 120 s in the
    last two minutes of a UTC day (the SDK then slept and retried), and a 30-second window
    could end between the two calls (the second admitted)."""
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


def _in_an_hour() -> str:
    from email.utils import formatdate

    return formatdate(time.time() + 3600, usegmt=True)


LONG_WAITS = {"seconds": ("retry-after", lambda: "3600"), "milliseconds": ("retry-after-ms", lambda: "200000"),
              "a date": ("retry-after", _in_an_hour)}


def _upstream_says(status: int, header: str, value: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        from .conftest import lifespan

        if await lifespan(scope, receive, send):
            return
        await receive()
        anthropic_shape = scope["path"].endswith("/messages")
        body = ({"type": "error", "error": {"type": "rate_limit_error", "message": "daily quota"}} if anthropic_shape
                else {"error": {"message": "daily quota", "type": "rate_limit_error", "code": "rate_limit_exceeded"}})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (header.encode(), value.encode())]})
        await send({"type": "http.response.body", "body": __import__("json").dumps(body).encode()})
    return app


@pytest.mark.parametrize("status", [429, 503, 529])
@pytest.mark.parametrize("wait", sorted(LONG_WAITS))
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_an_upstreams_long_retry_after_is_not_slept_through(sdk: str, wait: str, status: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's own 429 (a daily quota, an hour's ``Retry-After``) passed through as it
    came: the Anthropic SDK slept the hour before its retry. A forwarded answer the SDKs retry
    whose wait is past two minutes now says ``x-should-retry: false`` too."""
    header, value = LONG_WAITS[wait]
    http, sent = _counting(sdk)

    def short_only(seconds: float) -> None:
        if seconds > 120:
            raise AssertionError(f"the SDK would sleep {seconds:.0f} s before it retries")

    with ServerThread(_upstream_says(status, header, value())) as up, \
            policy_gateway("on_http_request: []\n", KEY, upstream=up.url) as gw, monkeypatch.context() as patch:
        patch.setattr(time, "sleep", short_only)
        if sdk == "openai":
            client: Any = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=2, http_client=http)
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="gpt-4o", messages=MSG)
        else:
            client = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=2, http_client=http)
            with pytest.raises(anthropic.APIStatusError) as caught:
                client.messages.create(model="claude-sonnet-4", max_tokens=5, messages=MSG)
    assert len(sent) == 1 and caught.value.status_code == status
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_an_upstreams_short_retry_after_is_left_to_the_sdk() -> None:
    http, sent = _counting("openai")
    with ServerThread(_upstream_says(429, "retry-after", "0")) as up, \
            policy_gateway("on_http_request: []\n", KEY, upstream=up.url) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=1, http_client=http)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert len(sent) == 2 and "x-should-retry" not in caught.value.response.headers
