"""SDK sessions through `serve` when a key is rate limited (engine/cooldown.py; docs/routing.md,
"Cooldown"): the official openai and anthropic SDKs, their own retries on, against the routing
gateway and its stub providers. A key that answered 429 with when to come back is not asked
first again until then; when every key is cooling the SDK's retry is still served (the pool
never empties itself); each served answer is charged once, to the key and model that served it."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from .providers_stub import ANTHROPIC_USAGE, OPENAI_USAGE, Reply
from .routing_env import (GATEWAY_KEY, SECRETS, fresh, log_line, model_used, record, routed,  # noqa: F401
                          seen, stubs)

MSG = [{"role": "user", "content": "hi"}]
A1, A2 = SECRETS["alpha"]["one"], SECRETS["alpha"]["two"]


@pytest.fixture(autouse=True)
def cool(routed: Any) -> None:
    routed.app.cooldowns.clear()  # each session starts with no key cooling


def sdk(gw: Any, retries: int, **kw: Any) -> Any:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=GATEWAY_KEY, max_retries=retries, timeout=20, **kw)


def text_of(stream: Any) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


# how a provider says a key is rate limited, and how long it cools (each over a second, so that
# the session's next request, made at once, meets it cooling)
RATE_LIMITS = {
    "retry-after": {"retry-after": "30"},
    "retry-after-ms": {"retry-after-ms": "45000"},
    "openai reset": {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m0s"},
}


@pytest.mark.parametrize("said", sorted(RATE_LIMITS))
@pytest.mark.parametrize("stream", [False, True])
def test_the_next_request_goes_to_the_other_key_first(routed: Any, stubs: Any, said: str, stream: bool) -> None:
    before = model_used(routed, "gpt-4o")
    stubs["alpha"][0].push(Reply(429, key=A1, headers=RATE_LIMITS[said]))
    client = sdk(routed, 2)
    ids = []
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, stream=stream)
        answer = raw.parse()
        assert (text_of(answer) if stream else answer.choices[0].message.content).startswith("alpha:gpt-4o")
        ids.append(raw.headers["x-aigw-decision-id"])
    # a1 was asked once: the two later requests went to a2 without a round trip to a limited key
    assert seen(stubs, "alpha") == [("gpt-4o", A1)] + [("gpt-4o", A2)] * 3
    assert [record(routed, i)["aigw.route.key_id"] for i in ids] == ["a2", "a2", "a2"]
    assert [record(routed, i)["aigw.attempts"] for i in ids] == [2, 1, 1]
    cooling = log_line(routed, ids[1])["aigw.route.cooling"]
    assert [(c["provider"], c["model"], c["key_id"]) for c in cooling] == [("alpha", "gpt-4o", "a1")]
    assert "cooling" not in log_line(routed, ids[0])  # the request that met the 429 was planned before it
    assert model_used(routed, "gpt-4o") == before + 3 * OPENAI_USAGE["total_tokens"]  # each answer once


def test_when_every_key_is_cooling_the_sdks_retry_is_served_and_charged_once(routed: Any, stubs: Any) -> None:
    """The three candidates answer 429 asking for a second; the gateway's 503 says
    ``Retry-After: 1``, which the SDK honours; its retry finds every key cooling, tries them
    in the plan's order anyway, and the first serves."""
    before = model_used(routed, "gpt-4o")
    stubs["alpha"][0].push(Reply(429, key=A1, headers={"retry-after": "1"}),
                           Reply(429, key=A2, headers={"retry-after": "1"}))
    stubs["beta"][0].push(Reply(429, headers={"retry-after": "1"}))
    raw = sdk(routed, 1).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    assert raw.parse().choices[0].message.content == "alpha:gpt-4o"
    assert seen(stubs, "alpha") == [("gpt-4o", A1), ("gpt-4o", A2), ("gpt-4o", A1)]
    assert stubs["alpha"][0].seen[-1]["headers"].get("x-stainless-retry-count") == "1"  # the SDK's retry
    assert record(routed, raw.headers["x-aigw-decision-id"])["aigw.route.key_id"] == "a1"
    assert model_used(routed, "gpt-4o") == before + OPENAI_USAGE["total_tokens"]


def test_the_sdks_retry_after_a_5xx_is_charged_once(routed: Any, stubs: Any) -> None:
    """Every candidate answers 500 (no cooldown: a server error says nothing of a key); the
    gateway's 503 is retried by the SDK, whose retry is served. Two gateway requests, two
    ledger records, one charge: the failed one released what it reserved."""
    before = model_used(routed, "gpt-4o")
    stubs["alpha"][0].push(Reply(500, key=A1), Reply(500, key=A2))
    stubs["beta"][0].push(Reply(500))
    raw = sdk(routed, 2).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    assert raw.parse().choices[0].message.content == "alpha:gpt-4o"
    assert seen(stubs, "alpha") == [("gpt-4o", A1), ("gpt-4o", A2), ("gpt-4o", A1)]
    assert record(routed, raw.headers["x-aigw-decision-id"])["aigw.attempts"] == 1
    assert len(routed.app.cooldowns) == 0
    assert model_used(routed, "gpt-4o") == before + OPENAI_USAGE["total_tokens"]


def test_an_anthropic_models_rate_limit_cools_that_model_only(routed: Any, stubs: Any) -> None:
    """One key, two models: Sonnet's 429 puts Sonnet last for the next request, which Haiku
    serves at once (a stream, with the SDK's own accumulator); Haiku's own requests are
    untouched."""
    stubs["gamma"][0].push(Reply(429, model="claude-sonnet-4", headers={"retry-after": "20"}))
    client = anthropic.Anthropic(base_url=routed.url, api_key=GATEWAY_KEY, max_retries=2, timeout=20)
    fallback = {"models": ["claude-haiku-4"]}
    first = client.messages.create(model="claude-sonnet-4", max_tokens=5, messages=MSG, extra_body=fallback)
    assert first.content[0].text == "gamma:claude-haiku-4"
    with client.messages.stream(model="claude-sonnet-4", max_tokens=5, messages=MSG, extra_body=fallback) as s:
        final = s.get_final_message()
    assert final.content[0].text.startswith("gamma:claude-haiku-4")
    assert final.usage.output_tokens == ANTHROPIC_USAGE["output_tokens"]
    haiku = client.messages.create(model="claude-haiku-4", max_tokens=5, messages=MSG)
    assert haiku.content[0].text == "gamma:claude-haiku-4"
    assert [m for m, _ in seen(stubs, "gamma")] == ["claude-sonnet-4"] + ["claude-haiku-4"] * 3


def test_only_rate_limits_that_say_when_cool_a_key(routed: Any, stubs: Any) -> None:
    """An all-failed route: the two 429s that said when cool their keys; the 500 does not."""
    stubs["alpha"][0].push(Reply(429, key=A1, headers={"retry-after": "30"}))
    with pytest.raises(openai.APIStatusError):  # `tight` has a1, a2, b1: a1 429, the rest too
        stubs["alpha"][0].push(Reply(429, key=A2, headers={"retry-after": "30"}))
        stubs["beta"][0].push(Reply(500))
        sdk(routed, 0, default_headers={"x-tight": "1"}).chat.completions.create(model="gpt-4o", messages=MSG)
    assert len(routed.app.cooldowns) == 2  # a1 and a2 of gpt-4o; b1's 500 said no wait


TOOL_TURN = [
    {"role": "user", "content": "weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_abc", "content": "{\"temp_c\": 21}"},
]
TOOLS = [{"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_turn_reaches_every_candidate_whole_across_failovers(routed: Any, stubs: Any, stream: bool) -> None:
    """A turn carrying a tool call and its result fails over from a rate limited key to the
    next, then to another provider: each attempt gets the turn as the client sent it (the tool
    call's id, its arguments' text, the tool's answer), the next request starts at the key that
    was not limited, and the SDK gets the answer whole."""
    stubs["alpha"][0].push(Reply(429, key=A1, headers={"retry-after": "30"}), Reply(503, key=A2))
    client = sdk(routed, 0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=TOOL_TURN, tools=TOOLS,
                                                           tool_choice="auto", stream=stream)
    answer = raw.parse()
    assert (text_of(answer) if stream else answer.choices[0].message.content).startswith("beta:gpt-4o")
    sent = [s["body"] for s in stubs["alpha"][0].seen + stubs["beta"][0].seen]
    assert len(sent) == 3
    for body in sent:
        assert (body["messages"], body["tools"], body["tool_choice"]) == (TOOL_TURN, TOOLS, "auto")
    client.chat.completions.create(model="gpt-4o", messages=TOOL_TURN, tools=TOOLS)
    assert seen(stubs, "alpha")[2:] == [("gpt-4o", A2)]  # a1 cooling: a2 first (its 503 cooled nothing)
