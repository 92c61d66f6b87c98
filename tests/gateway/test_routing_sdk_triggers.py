"""Each failover trigger, as each official SDK meets it through ``serve`` (SPEC §12): the openai
(chat completions and the Responses API), anthropic and google-genai clients, streaming and not,
their own retries off, against stub
providers whose first key fails one way (429, 500, 503, a time-out, a refused connection, 401,
403 under ngrok's narrowed ``failover_on: [429, 5xx, timeout, connect, 401, 403]``) and whose
second key answers. Each row checks that the SDK got the second key's answer whole (no byte of
the failed attempt, none twice), that the ledger's final record names the serving key and two
attempts, and that the limit store moved once, by that record's tokens; a failure that is no
trigger (400, 404) is the client's answer in its provider's shape, nothing charged.

And the rest of the route's promises the SDKs see: a total time-out cut mid-attempt is a 504 in
each SDK's error shape; the client's ``models: [...]`` fallbacks; ``ngrok/auto`` with a key
strategy reading ``k.quota`` from each provider's rate-limit headers (OpenAI's
``x-ratelimit-*``, Anthropic's ``anthropic-ratelimit-*``; Gemini sends none: its keys keep
their order) and a model strategy reading the live error rates; and a 429 that says when to
come back however its provider says it (``SAY_WHEN``: a header, or Google's ``RetryInfo`` in
the error body) cools its key and sets the all-failed answer's ``Retry-After``."""

from __future__ import annotations

import json
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from aigw_policy.limits.model import Charge

from .conftest import ServerThread, ledger_lines
from .providers_stub import (ANTHROPIC_USAGE, GEMINI_USAGE, OPENAI_USAGE, RESPONSES_USAGE, TOOL_ARGS, WORDS, Reply,
                             StubProvider)

KEY = "sk-gw-sdk-triggers"
genai = pytest.importorskip("google.genai")
from google.genai import errors as genai_errors, types as genai_types  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _providers(url: str, dead: bool = False) -> str:
    out = ""
    if dead:  # first of every plan (alphabetical), its port closed: the connection is refused
        out += (f"            - {{id: a0dead, base_url: \"http://127.0.0.1:{_closed_port()}\", "
                "supported_api_surfaces: [{format: openai}, {format: anthropic}, {format: gemini}], "
                "api_keys: [{value: sk-dead, id: dead}], models: [{id: gpt-4o}, {id: claude-x}, "
                "{id: gemini-2.0-flash}]}\n")
    for pid, base, fmt, models in (("oa", url + "/v1", "openai", "gpt-4o, gpt-4o-mini"),
                                   ("an", url, "anthropic", "claude-x, claude-y"),
                                   ("ge", url, "gemini", "gemini-2.0-flash, gemini-2.5-flash")):
        listed = ", ".join("{id: %s}" % m for m in models.split(", "))
        out += (f"            - {{id: {pid}, base_url: \"{base}\", supported_api_surfaces: [{{format: {fmt}}}], "
                f"api_keys: [{{value: sk-{pid}-1, id: {pid}-1}}, {{value: sk-{pid}-2, id: {pid}-2}}], "
                f"models: [{listed}]}}\n")
    return out


NARROWED = "          failover_on: [429, 5xx, timeout, connect, 401, 403]\n"


def _rule(name: str, when: str | None, url: str, config: str, dead: bool = False) -> str:
    cond = f"    expressions: [\"'{when}' in req.headers\"]\n" if when else ""
    return (f"  - name: {name}\n{cond}    actions:\n      - type: ai-gateway\n        config:\n"
            "          only_allow_configured_providers: true\n" + config + "          providers:\n"
            + _providers(url, dead))


def _policy(url: str) -> str:
    auto = ("          model_selection: {strategy: ['ai.models.filter(m, m.metrics.global.error_rate.total < 0.5)', "
            "'ai.models']}\n"
            "          api_key_selection: {strategy: ['ai.keys.filter(k, k.quota.remaining_requests == null || "
            "k.quota.remaining_requests > 0)', 'ai.keys']}\n")
    return ("on_http_request:\n  - name: caps\n    actions:\n      - type: usage-cap\n"
            "        config: {name: tokens, limit: 1000000000, unit: tokens, period: day, "
            "bucket_key: ['ai.model']}\n"
            + _rule("connect", "x-connect", url, NARROWED + "          per_request_timeout: 2s\n", dead=True)
            + _rule("tight", "x-tight", url, NARROWED + "          per_request_timeout: 1s\n"
                    "          total_timeout: 1500ms\n")
            + _rule("auto", "x-auto", url, NARROWED + auto)
            + _vertex(url)
            + _rule("route", None, url, NARROWED + "          per_request_timeout: 1500ms\n"))


VERTEX = "/v1/projects/p1/locations/us-central1/endpoints/openapi"
"""Vertex AI's OpenAI-compatible endpoint: the OpenAI SDK's base URL (`chat/completions` after it)."""


def _vertex(url: str) -> str:
    """A route for clients of Vertex AI's OpenAI-compatible endpoint, to providers that are it."""
    return ("  - name: vertex\n    expressions: [\"req.url.path.startsWith('/v1/projects/')\"]\n    actions:\n"
            "      - type: ai-gateway\n        config:\n          only_allow_configured_providers: true\n"
            "          providers:\n"
            + "".join(f"            - {{id: {pid}, base_url: \"{url}{VERTEX}\", api_keys: [{{value: sk-{pid}, id: {pid}}}], "
                      "models: [{id: google/gemini-2.0-flash}]}\n" for pid in ("vx1", "vx2")))


@pytest.fixture(scope="module")
def env() -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    stub = StubProvider("stub")
    with ServerThread(stub) as up, tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "policy.yaml").write_text(_policy(up.url))
        (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-sdk, team: sdk}}\n")
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), watch=0,
                      ledger=f"jsonl:{d / 'usage.jsonl'}", store="memory:")
        with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
            server.app, server.stub, server.ledger = app, stub, d / "usage.jsonl"  # type: ignore[attr-defined]
            yield server


@pytest.fixture(autouse=True)
def fresh(env: Any) -> None:
    env.stub.reset()
    env.app.cooldowns.clear()


# per SDK: its provider, model, tokens of one answer, the text of one answer (JSON; a stream adds WORDS)
SDKS = {"openai": ("oa", "gpt-4o", OPENAI_USAGE["total_tokens"]),
        "anthropic": ("an", "claude-x", ANTHROPIC_USAGE["input_tokens"] + ANTHROPIC_USAGE["output_tokens"]),
        "genai": ("ge", "gemini-2.0-flash", GEMINI_USAGE["totalTokenCount"]),
        "openai-responses": ("oa", "gpt-4o", RESPONSES_USAGE["total_tokens"])}
HI = [{"role": "user", "content": "hi"}]


def _call(env: Any, sdk: str, stream: bool, model: str | None = None, headers: dict[str, str] | None = None,
          body: dict[str, Any] | None = None, retries: int = 0) -> str:
    """The text the SDK returned (it raises its own error otherwise), its own retries off
    unless ``retries``."""
    model = model or SDKS[sdk][1]
    headers = headers or {}
    if sdk == "openai-responses":
        client = openai.OpenAI(base_url=env.url + "/v1", api_key=KEY, max_retries=retries, timeout=20,
                               default_headers=headers)
        if not stream:
            return client.responses.create(model=model, input="hi", extra_body=body).output_text
        return "".join(e.delta for e in client.responses.create(model=model, input="hi", stream=True, extra_body=body)
                       if e.type == "response.output_text.delta")
    if sdk == "openai":
        client = openai.OpenAI(base_url=env.url + "/v1", api_key=KEY, max_retries=retries, timeout=20,
                               default_headers=headers)
        if not stream:
            return client.chat.completions.create(model=model, messages=HI, extra_body=body).choices[0].message.content
        return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model=model, messages=HI, stream=True, extra_body=body) if c.choices)
    if sdk == "anthropic":
        ant = anthropic.Anthropic(base_url=env.url, api_key=KEY, max_retries=retries, timeout=20,
                                  default_headers=headers)
        if not stream:
            return ant.messages.create(model=model, max_tokens=50, messages=HI, extra_body=body).content[0].text
        with ant.messages.stream(model=model, max_tokens=50, messages=HI, extra_body=body) as events:
            text = "".join(events.text_stream)
            events.get_final_message()
        return text
    again = genai_types.HttpRetryOptions(attempts=retries + 1, initial_delay=0.1, max_delay=0.5) if retries else None
    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(
        base_url=env.url, api_version="v1beta", headers=headers, timeout=20_000, retry_options=again))
    if not stream:
        return client.models.generate_content(model=model, contents="hi").text
    return "".join(c.text or "" for c in client.models.generate_content_stream(model=model, contents="hi"))


def _answer(sdk: str, stream: bool, model: str | None = None) -> str:
    text = f"stub:{model or SDKS[sdk][1]}"
    return text + "".join(WORDS) if stream else text


def _used(env: Any, model: str) -> float:
    """What the `tokens` cap holds for ``model`` (each model is one provider's here)."""
    engine = env.app.holder.current
    spec = engine.compiled.limits["tokens"][1].limit.spec
    return float(engine.store.check([Charge(spec, model, 0)], time.time())[0].used)


def _finals(env: Any, since: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        found = [r for r in ledger_lines(env.ledger)[since:] if r["aigw.verdict"] != "pending"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _keys_seen(env: Any) -> list[str]:
    return [s["key"] for s in env.stub.seen]


# trigger -> the first key's reply (None: the refused connection of the `connect` rule's first provider)
TRIGGERS: dict[str, Reply | None] = {
    "429": Reply(429, headers={"retry-after": "1"}), "500": Reply(500), "503": Reply(503),
    "timeout": Reply(200, delay=3.0),  # (past the route's 1.5 s per attempt)
    "401": Reply(401), "403": Reply(403), "connect": None,
    # an answer that broke before a byte reached the client: its head, then nothing (or a piece of
    # its first event, of its JSON), the connection dropped; or a 200 that is an error (its first event)
    "200 cut before a byte": Reply(200, cut_after=0), "200 cut in the first event": Reply(200, cut_after=12),
    "200 that is an overloaded error": Reply(200, error="overloaded"),
}


def _overloaded(sdk: str) -> Any:
    """Each API's own error object (a JSON body, or its stream's error event) saying it is overloaded."""
    if sdk == "anthropic":
        return {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    if sdk == "genai":
        return {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    if sdk == "openai-responses":
        return {"type": "error", "code": "server_error", "message": "overloaded", "param": None, "sequence_number": 0}
    return {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}}
NOT_TRIGGERS = {"400": 400, "404": 404}


def _error_status(error: BaseException) -> int | None:
    if isinstance(error, (openai.APIStatusError, anthropic.APIStatusError)):
        return error.status_code
    if isinstance(error, genai_errors.APIError):
        return error.code
    return None


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(SDKS))
@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_each_trigger_fails_over_to_the_next_key_and_charges_it_once(env: Any, trigger: str, sdk: str,
                                                                     stream: bool) -> None:
    provider, model, tokens = SDKS[sdk]
    reply = TRIGGERS[trigger]
    if reply is not None:
        env.stub.push(Reply(reply.status, delay=reply.delay, headers=dict(reply.headers), key=f"sk-{provider}-1",
                            cut_after=reply.cut_after, error=_overloaded(sdk) if reply.error else None))
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    got = _call(env, sdk, stream, headers={"x-connect": "1"} if trigger == "connect" else None)
    assert got == _answer(sdk, stream)  # the serving key's answer, whole: nothing of the failed one, nothing twice
    [final] = _finals(env, since)
    served = f"{provider}-2" if reply is not None else f"{provider}-1"
    assert (final["aigw.route.key_id"], final["aigw.attempts"], final["gen_ai.request.model"]) == (served, 2, model)
    assert _keys_seen(env) == ([f"sk-{provider}-1", f"sk-{provider}-2"] if reply is not None else [f"sk-{provider}-1"])
    charged = final["gen_ai.usage.input_tokens"] + final["gen_ai.usage.output_tokens"]
    assert (charged, _used(env, model) - before) == (tokens, tokens)  # once, the served answer's usage


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(SDKS))
@pytest.mark.parametrize("status", sorted(NOT_TRIGGERS))
def test_a_failure_that_is_no_trigger_is_the_clients_answer_in_its_shape(env: Any, status: str, sdk: str,
                                                                         stream: bool) -> None:
    provider, model, _ = SDKS[sdk]
    env.stub.push(Reply(NOT_TRIGGERS[status], key=f"sk-{provider}-1"))
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    with pytest.raises(Exception) as raised:
        _call(env, sdk, stream)
    assert _error_status(raised.value) == NOT_TRIGGERS[status], repr(raised.value)
    assert "stub says" in str(raised.value)  # the provider's own error, passed on in its shape
    [final] = _finals(env, since)
    assert final["aigw.attempts"] == 1 and _keys_seen(env) == [f"sk-{provider}-1"]
    assert _used(env, model) == before


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_total_timeout_cut_mid_attempt_is_a_504_in_each_sdks_shape(env: Any, sdk: str, stream: bool) -> None:
    provider, model, _ = SDKS[sdk]
    env.stub.push(Reply(200, delay=4.0, key=f"sk-{provider}-1"), Reply(200, delay=4.0, key=f"sk-{provider}-2"))
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    with pytest.raises(Exception) as raised:  # (the second attempt gets what the total left, 0.5 s: then 504)
        _call(env, sdk, stream, headers={"x-tight": "1"})
    assert _error_status(raised.value) == 504, repr(raised.value)
    [final] = _finals(env, since)
    assert final["aigw.attempts"] == 2 and _used(env, model) == before


FALLBACKS = {"openai": ["gpt-4o", "gpt-4o-mini"], "anthropic": ["claude-x", "claude-y"]}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(FALLBACKS))
def test_the_clients_models_fallbacks_are_tried_in_its_order(env: Any, sdk: str, stream: bool) -> None:
    provider, model, tokens = SDKS[sdk]
    first, second = FALLBACKS[sdk]
    env.stub.push(Reply(503, model=first, times=2))  # both keys of the first model
    since, before = len(ledger_lines(env.ledger)), _used(env, second)
    got = _call(env, sdk, stream, model=first, body={"models": FALLBACKS[sdk]})
    assert got == _answer(sdk, stream, second)
    [final] = _finals(env, since)
    assert (final["gen_ai.request.model"], final["aigw.route.key_id"], final["aigw.attempts"]) == (
        second, f"{provider}-1", 3)
    assert _used(env, second) - before == tokens and [s["model"] for s in env.stub.seen] == [first, first, second]


# per SDK: the rate-limit headers its provider sends saying the key has no request left (Gemini: none)
EXHAUSTED = {"openai": {"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "500"},
             "openai-responses": {"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "500"},
             "anthropic": {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-limit": "50"},
             "genai": {}}


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_key_strategy_reads_each_providers_quota_headers(env: Any, sdk: str) -> None:
    provider, model, _ = SDKS[sdk]
    env.stub.push(Reply(200, headers=EXHAUSTED[sdk], key=f"sk-{provider}-1"))
    auto = {"x-auto": "1"}
    assert _call(env, sdk, False, headers=auto) == _answer(sdk, False)
    since = len(ledger_lines(env.ledger))
    assert _call(env, sdk, False, headers=auto) == _answer(sdk, False)
    [final] = _finals(env, since)
    # a provider that said the first key has no request left: the next request goes to the second
    assert final["aigw.route.key_id"] == (f"{provider}-2" if EXHAUSTED[sdk] else f"{provider}-1")
    assert final["aigw.attempts"] == 1


def test_ngrok_auto_moves_off_a_failing_model_by_its_live_error_rate(env: Any) -> None:
    env.stub.push(Reply(500, model="gpt-4o", times=4))  # gpt-4o's two keys fail, twice: error rate 1.0
    for _ in range(2):
        assert _call(env, "openai", False, model="gpt-4o", headers={"x-auto": "1"},
                      body={"models": ["gpt-4o", "gpt-4o-mini"]}) == _answer("openai", False, "gpt-4o-mini")
    since = len(ledger_lines(env.ledger))
    assert _call(env, "openai", False, model="ngrok/auto", headers={"x-auto": "1"}) == _answer(
        "openai", False, "gpt-4o-mini")
    [final] = _finals(env, since)
    assert (final["gen_ai.request.model"], final["aigw.attempts"]) == ("gpt-4o-mini", 1)


def _all_failed_after_two(env: Any, sdk: str, stream: bool, model: str) -> BaseException:
    """The SDK's call fails with the gateway's all-failed 503 and the soonest wait (3 s) after two
    attempts, charging nothing and writing one final record: the error the SDK raised."""
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    with pytest.raises(Exception) as raised:
        _call(env, sdk, stream)
    error = raised.value
    assert _error_status(error) == 503, repr(error)
    response = getattr(error, "response", None)
    assert response is not None and response.headers.get("retry-after") == "3", repr(error)
    [final] = _finals(env, since)
    assert final["aigw.attempts"] == 2 and _used(env, model) == before
    return error


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_all_failed_is_a_503_in_each_sdks_shape_with_the_soonest_retry_after(env: Any, sdk: str, stream: bool) -> None:
    provider, model, _ = SDKS[sdk]
    env.stub.push(Reply(503, headers={"retry-after": "7"}, key=f"sk-{provider}-1"),
                  Reply(429, headers={"retry-after": "3"}, key=f"sk-{provider}-2"),
                  Reply(503, headers={"retry-after": "9"}, model=FALLBACK_OF[sdk]),
                  Reply(503, headers={"retry-after": "9"}, model=FALLBACK_OF[sdk]))
    _all_failed_after_two(env, sdk, stream, model)


FALLBACK_OF = {"openai": "gpt-4o-mini", "openai-responses": "gpt-4o-mini", "anthropic": "claude-y", "genai": "gemini-2.5-flash"}


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_stream_cut_after_bytes_of_the_second_key_ends_in_the_sdks_error_charged_once(env: Any, sdk: str) -> None:
    provider, model, _ = SDKS[sdk]
    env.stub.push(Reply(503, key=f"sk-{provider}-1"), Reply(200, key=f"sk-{provider}-2", cut_after=400))
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    was = _errors(env, provider, f"{provider}-2")
    with pytest.raises(Exception) as raised:
        _call(env, sdk, True)
    assert type(raised.value).__module__.split(".")[0] in ("openai", "anthropic", "google"), repr(raised.value)
    [final] = _finals(env, since)
    assert (final["aigw.route.key_id"], final["aigw.attempts"]) == (f"{provider}-2", 2)
    charged = final["gen_ai.usage.input_tokens"] + final["gen_ai.usage.output_tokens"]
    assert _used(env, model) - before == charged > 0
    assert _keys_seen(env) == [f"sk-{provider}-1", f"sk-{provider}-2"]
    # the key whose stream broke: one more request, one more server error in the live metrics
    # (before route30 a served stream cut after its first event counted as a success)
    deadline = time.monotonic() + 30  # (recorded once the answer is complete, just after its ledger record)
    while (now := _errors(env, provider, f"{provider}-2")) != (was[0] + 1, was[1] + 1) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert now == (was[0] + 1, was[1] + 1)


def _errors(env: Any, provider: str, key_id: str) -> tuple[int, int]:
    """A key's request count and server errors, as the live metrics say them now."""
    engine = env.app.holder.current
    keys = engine.route_metrics.snapshot(time.time())["keys"]
    pair = keys.get((provider, key_id), {"request_count": 0, "error_rate": {"server": 0.0}})
    return pair["request_count"], round(pair["request_count"] * pair["error_rate"]["server"])


WEATHER = {"name": "get_weather", "description": "The weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _tool_call(env: Any, sdk: str, stream: bool) -> Any:
    """The arguments of the tool call the SDK returned."""
    provider, model, _ = SDKS[sdk]
    if sdk == "openai-responses":
        client = openai.OpenAI(base_url=env.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        tools: Any = [{"type": "function", **WEATHER}]
        if not stream:
            return json.loads(client.responses.create(model=model, input="hi", tools=tools).output[0].arguments)
        parts = [e.delta for e in client.responses.create(model=model, input="hi", tools=tools, stream=True)
                 if e.type == "response.function_call_arguments.delta"]
        return json.loads("".join(parts))
    if sdk == "openai":
        client = openai.OpenAI(base_url=env.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        tools = [{"type": "function", "function": WEATHER}]
        if not stream:
            made = client.chat.completions.create(model=model, messages=HI, tools=tools)
            return json.loads(made.choices[0].message.tool_calls[0].function.arguments)
        parts = [t.function.arguments or "" for c in client.chat.completions.create(
            model=model, messages=HI, tools=tools, stream=True) if c.choices for t in c.choices[0].delta.tool_calls or ()]
        return json.loads("".join(parts))
    if sdk == "anthropic":
        ant = anthropic.Anthropic(base_url=env.url, api_key=KEY, max_retries=0, timeout=20)
        tools = [{"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["parameters"]}]
        if not stream:
            return ant.messages.create(model=model, max_tokens=50, messages=HI, tools=tools).content[0].input
        with ant.messages.stream(model=model, max_tokens=50, messages=HI, tools=tools) as events:
            return events.get_final_message().content[0].input
    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=env.url, api_version="v1beta"))
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(**WEATHER)])],
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True))
    if not stream:
        return client.models.generate_content(model=model, contents="hi", config=config).function_calls[0].args
    calls = [f.args for c in client.models.generate_content_stream(model=model, contents="hi", config=config)
             for f in c.function_calls or ()]
    assert len(calls) == 1, calls
    return calls[0]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_tool_call_answered_after_a_switch_reaches_the_sdk_whole_and_is_charged_once(env: Any, sdk: str,
                                                                                        stream: bool) -> None:
    provider, model, tokens = SDKS[sdk]
    env.stub.push(Reply(503, key=f"sk-{provider}-1"), Reply(200, key=f"sk-{provider}-2", tool=True))
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    assert _tool_call(env, sdk, stream) == TOOL_ARGS
    [final] = _finals(env, since)
    assert (final["aigw.route.key_id"], final["aigw.attempts"]) == (f"{provider}-2", 2)
    assert _used(env, model) - before == tokens



@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_vertex_ais_openai_compatible_endpoint_is_routed_and_fails_over(env: Any, stream: bool) -> None:
    """Its path under the SDK's base URL is the chat completions API (routing/paths.py), its
    model a publisher's (`google/...`); each provider's URL is its base as written plus the
    endpoint, its key an `Authorization: Bearer` (the access token Vertex AI wants)."""
    env.stub.push(Reply(503, key="sk-vx1"))
    client = openai.OpenAI(base_url=env.url + VERTEX, api_key=KEY, max_retries=0, timeout=20)
    model = "google/gemini-2.0-flash"
    since = len(ledger_lines(env.ledger))
    if stream:
        got = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model=model, messages=HI, stream=True) if c.choices)
    else:
        got = client.chat.completions.create(model=model, messages=HI).choices[0].message.content
    assert got == _answer("openai", stream, model)
    assert [(s["path"], s["headers"].get("authorization")) for s in env.stub.seen] == [
        (VERTEX + "/chat/completions", "Bearer sk-vx1"), (VERTEX + "/chat/completions", "Bearer sk-vx2")]
    [final] = _finals(env, since)
    assert (final["aigw.route.key_id"], final["aigw.attempts"]) == ("vx2", 2)
    assert final["gen_ai.usage.input_tokens"] + final["gen_ai.usage.output_tokens"] == OPENAI_USAGE["total_tokens"]


def _retry_info(seconds: str, listed: bool = False) -> Any:
    """Google's 429 body: when to come back is a ``google.rpc.RetryInfo`` in it (no header);
    Google's OpenAI-compatible endpoint wraps the error object in a list."""
    error = {"error": {"code": 429, "message": "stub says 429", "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": seconds}]}}
    return [error] if listed else error


# how each provider's 429 says when to come back: (sdk, per wait in seconds the Reply's fields)
SAY_WHEN = {
    "openai retry-after": ("openai", lambda s: {"headers": {"retry-after": str(s)}}),
    "openai retry-after-ms": ("openai", lambda s: {"headers": {"retry-after-ms": str(s * 1000 - 500)}}),
    "responses retry-after": ("openai-responses", lambda s: {"headers": {"retry-after": str(s)}}),
    "anthropic retry-after": ("anthropic", lambda s: {"headers": {"retry-after": str(s)}}),
    "gemini RetryInfo in the body": ("genai", lambda s: {"error": _retry_info(f"{s}s")}),
    "gemini fractional RetryInfo": ("genai", lambda s: {"error": _retry_info(f"{s - 0.5}s")}),
    "google openai-compatible, a listed RetryInfo": ("openai", lambda s: {"error": _retry_info(f"{s}s", True)}),
}


@pytest.mark.parametrize("how", sorted(SAY_WHEN))
def test_a_key_whose_429_says_when_cools_down_however_its_provider_says_it(env: Any, how: str) -> None:
    sdk, said = SAY_WHEN[how]
    provider, model, tokens = SDKS[sdk]
    env.stub.push(Reply(429, key=f"sk-{provider}-1", **said(30)))
    assert _call(env, sdk, False) == _answer(sdk, False)  # failed over to the second key
    env.stub.reset()
    since = len(ledger_lines(env.ledger))
    assert _call(env, sdk, False) == _answer(sdk, False)
    assert _keys_seen(env) == [f"sk-{provider}-2"]  # the first key cools down: tried last
    [final] = _finals(env, since)
    assert (final["aigw.route.key_id"], final["aigw.attempts"]) == (f"{provider}-2", 1)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("how", sorted(SAY_WHEN))
def test_all_failed_429s_tell_the_sdk_the_soonest_wait_however_each_provider_said_it(env: Any, how: str,
                                                                                   stream: bool) -> None:
    sdk, said = SAY_WHEN[how]
    provider, model, _ = SDKS[sdk]
    env.stub.push(Reply(429, key=f"sk-{provider}-1", **said(7)), Reply(429, key=f"sk-{provider}-2", **said(3)))
    error = _all_failed_after_two(env, sdk, stream, model)
    assert "stub says 429" in str(error)  # what each attempt's answer said, in the all-failed message


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_the_sdks_own_retry_of_an_all_failed_503_is_a_request_of_its_own_charged_once(env: Any, sdk: str,
                                                                                       stream: bool) -> None:
    """The SDK's retries on (``max_retries``): the gateway's first request fails on both keys
    (503, no wait said), the SDK tries again (``x-stainless-retry-count: 1``), the gateway's
    second request is served by the first key; one answer, charged once, to the request that
    served, the failed one charging nothing."""
    provider, model, tokens = SDKS[sdk]
    env.stub.push(Reply(503, key=f"sk-{provider}-1"), Reply(503, key=f"sk-{provider}-2"))
    since, before = len(ledger_lines(env.ledger)), _used(env, model)
    assert _call(env, sdk, stream, retries=2) == _answer(sdk, stream)
    assert _keys_seen(env) == [f"sk-{provider}-1", f"sk-{provider}-2", f"sk-{provider}-1"]
    if sdk != "genai":  # (the Stainless SDKs number their tries; google-genai does not)
        assert [s["headers"].get("x-stainless-retry-count") for s in env.stub.seen] == ["0", "0", "1"]
    deadline = time.monotonic() + 30
    while len(finals := _finals(env, since)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(r["aigw.verdict"], r["http.response.status_code"], r["aigw.attempts"]) for r in finals] == [
        ("deny", 503, 2), ("allow", 200, 1)], finals
    assert finals[1]["aigw.route.key_id"] == f"{provider}-1"
    assert _used(env, model) - before == tokens
