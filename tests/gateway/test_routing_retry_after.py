"""Every candidate failed, each saying when to come back (a 429 or 503 with ``Retry-After`` or
OpenAI's ``retry-after-ms``): the gateway's 503 carries the soonest of them as its own
``Retry-After`` (and ``aigw.retry_after``), so the client's SDK, which honours it, waits that
long instead of retrying at once into the same wall. One failure that said nothing: no
``Retry-After`` (nothing is known of when that candidate is back)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from .providers_stub import Reply
from .routing_env import GATEWAY_KEY, fresh, oai, routed, stubs  # noqa: F401

MSG = [{"role": "user", "content": "hi"}]

# the answers of alpha's two keys and beta's key, and the Retry-After the client gets (None: none)
CASES = {
    "all-seconds": ([(429, {"retry-after": "7"}), (429, {"retry-after": "9"}), (429, {"retry-after": "3"})], "3"),
    "overloaded-503": ([(503, {"retry-after": "20"}), (503, {"retry-after": "12"}), (429, {"retry-after": "15"})],
                       "12"),
    "milliseconds": ([(429, {"retry-after-ms": "2500"}), (429, {"retry-after": "4"}), (429, {"retry-after": "8"})],
                     "3"),
    "one-said-nothing": ([(429, {"retry-after": "7"}), (500, {}), (429, {"retry-after": "3"})], None),
    "unreadable": ([(429, {"retry-after": "soon"}), (429, {"retry-after": "3"}), (429, {"retry-after": "3"})],
                   None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_soonest_retry_after_of_all_failed_attempts_is_the_clients(routed: Any, stubs: Any, case: str) -> None:
    answers, want = CASES[case]
    (s1, h1), (s2, h2), (s3, h3) = answers
    stubs["alpha"][0].push(Reply(s1, headers=h1), Reply(s2, headers=h2))
    stubs["beta"][0].push(Reply(s3, headers=h3))
    with pytest.raises(openai.APIStatusError) as caught:
        oai(routed).chat.completions.create(model="gpt-4o", messages=MSG)
    assert caught.value.status_code == 503
    assert caught.value.response.headers.get("retry-after") == want
    aigw = caught.value.body["aigw"]
    assert aigw["code"] == "ERR_NGROK_3807"
    assert aigw["retry_after"] == (int(want) if want else None)


def test_the_anthropic_sdk_sees_it_too(routed: Any, stubs: Any) -> None:
    stubs["gamma"][0].push(Reply(529, headers={"retry-after": "30"}, model="claude-sonnet-4"),
                           Reply(429, headers={"retry-after": "11"}, model="claude-haiku-4"))
    client = anthropic.Anthropic(base_url=routed.url, api_key=GATEWAY_KEY, max_retries=0, timeout=20)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="claude-sonnet-4", max_tokens=5, messages=MSG,
                               extra_body={"models": ["claude-haiku-4"]})
    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "11"
    assert caught.value.body["aigw"]["retry_after"] == 11
