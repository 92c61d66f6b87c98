"""The SDKs' other calls through a failover, through ``serve``: google-genai's (generateContent,
its stream, countTokens, embedContent; sync and async), the OpenAI SDK's Responses API (JSON, raw
stream, the ``responses.stream()`` helper, a ``previous_response_id`` turn after a failover), its
async client, embeddings, parallel tool calls streamed, images and audio transcription (a
multipart form replayed to the second key), the Anthropic SDK's ``messages.stream()`` helper
(sync and async; extended thinking then a tool call, with prompt caching's usage) and
``count_tokens``. Every route's first key is answered 503 (tests/gateway/sdk_upstream.py), so
each call fails over once; each row checks what the SDK returned, the ledger's final record
(the serving provider, its key id, ``aigw.attempts``, the tokens) and the limit store: the
serving provider's bucket moved by exactly the record's tokens, the failed providers' not at
all. Twice: a JSONL ledger over the memory store, and the SQLite ledger over a SQLite store.

The ``google`` provider's ``base_url`` is Google's as ngrok's catalog writes it
(``.../v1beta/openai/``): before (route27), google-genai's native calls were sent under it, to
``.../v1beta/openai/v1beta/models/...``, which Google does not serve (503 after both keys)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.limits.model import Charge

from . import sdk_upstream
from .conftest import WAIT, ServerThread
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-sdk-sessions"


def _provider(pid: str, base: str, models: list[str], fmt: str | None = None, extra: str = "") -> str:
    surface = extra + (f"supported_api_surfaces: [{{format: {fmt}}}], " if fmt else "")
    keys = f"{{value: sk-{pid}-bad, id: {pid}-bad}}, {{value: sk-{pid}-good, id: {pid}-good}}"
    return f"            - {{id: {pid}, base_url: \"{base}\", {surface}api_keys: [{keys}], " \
           f"models: [{', '.join('{id: %s}' % m for m in models)}]}}\n"


def _policy(url: str) -> str:
    return ("on_http_request:\n  - name: caps\n    actions:\n      - type: usage-cap\n"
            "        config: {name: by-provider, limit: 1000000000, unit: tokens, period: day, "
            "bucket_key: ['ai.provider']}\n"
            "  - name: route\n    actions:\n      - type: ai-gateway\n        config:\n"
            "          only_allow_configured_providers: true\n          only_allow_configured_models: true\n"
            "          providers:\n"
            + _provider("oa", url + "/v1", ["gpt-4o", "text-embedding-3-small", "gpt-image-1", "gpt-4o-transcribe"])
            + _provider("ge", url, ["gemini-2.0-flash", "text-embedding-004"], "gemini")
            + _provider("google", url + "/v1beta/openai/", ["gemini-2.5-flash"])
            + _provider("an", url, ["claude-x"], "anthropic")
            + _provider("gemini-native", url + "/v1beta", ["gemini-2.5-pro"], extra="id_aliases: [gemini], supported_api_surfaces: [{format: openai}, {format: gemini}], "))


@pytest.fixture(scope="module", params=["jsonl over memory", "sqlite over sqlite"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    sqlite = request.param.startswith("sqlite")
    with RawUpstream(serve(sdk_upstream.answer)) as up, tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "policy.yaml").write_text(_policy(up.url))
        (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-sdk, team: sdk}}\n")
        ledger = f"sqlite:{d / 'usage.db'}" if sqlite else f"jsonl:{d / 'usage.jsonl'}"
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), watch=0, ledger=ledger,
                      store=f"sqlite:{d / 'limits.db'}" if sqlite else "memory:")
        with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
            server.app, server.ledger_url = app, ledger  # type: ignore[attr-defined]
            yield server


def _finals(url: str) -> list[dict[str, Any]]:
    from aigw_policy.ledger.reader import read_ledger

    return [r.to_dict() for r in read_ledger(url) if r.verdict != "pending"]


def _used(gw: Any, provider: str) -> float:
    engine = gw.app.holder.current
    spec = engine.compiled.limits["by-provider"][1].limit.spec
    return float(engine.store.check([Charge(spec, provider, 0)], time.time())[0].used)


def _genai(gw: Any) -> Any:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    if not hasattr(gw, "genai"):  # kept: the client closes its connections when it is collected
        gw.genai = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gw.url, api_version="v1beta"))
    return gw.genai


def _openai(gw: Any, aio: bool = False) -> Any:
    openai = pytest.importorskip("openai")
    return (openai.AsyncOpenAI if aio else openai.OpenAI)(base_url=gw.url + "/v1", api_key=KEY, max_retries=0)


def _anthropic(gw: Any, aio: bool = False) -> Any:
    anthropic = pytest.importorskip("anthropic")
    return (anthropic.AsyncAnthropic if aio else anthropic.Anthropic)(base_url=gw.url, api_key=KEY, max_retries=0)


HI = [{"role": "user", "content": "hi"}]


async def _agen_stream(gw: Any, model: str) -> str:
    return "".join([c.text async for c in await _genai(gw).aio.models.generate_content_stream(model=model,
                                                                                              contents="hi")])


async def _achat_stream(gw: Any) -> str:
    stream = await _openai(gw, aio=True).chat.completions.create(model="gpt-4o", messages=HI, stream=True,
                                                                 stream_options={"include_usage": True})
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def _aclaude_stream(gw: Any) -> tuple[str, int]:
    async with _anthropic(gw, aio=True).messages.stream(model="claude-x", max_tokens=9, messages=HI) as s:
        text = "".join([t async for t in s.text_stream])
        return text, (await s.get_final_message()).usage.output_tokens


def _responses_helper(gw: Any) -> str:
    with _openai(gw).responses.stream(model="gpt-4o", input="hi") as s:
        for _ in s:
            pass
        return str(s.get_final_response().output_text)


def _claude_stream(gw: Any) -> tuple[str, int]:
    with _anthropic(gw).messages.stream(model="claude-x", max_tokens=9, messages=HI) as s:
        text = "".join(s.text_stream)
        return text, s.get_final_message().usage.output_tokens


def _previous_turn(gw: Any) -> str:
    client = _openai(gw)
    first = client.responses.create(model="gpt-4o", input="hi")  # served by `oa`'s second key, after a failover
    return str(client.responses.create(model="gpt-4o", input="and?", previous_response_id=first.id).output_text)


def _cache_session(gw: Any) -> list[Any]:
    """A Gemini context cache made after a failover, then used, read, kept longer and deleted."""
    from google.genai import types

    client = _genai(gw)
    cache = client.caches.create(model="gemini-2.0-flash", config=types.CreateCachedContentConfig(
        contents=["a long document"], ttl="3600s"))
    text = client.models.generate_content(model="gemini-2.0-flash", contents="hi",
                                          config=types.GenerateContentConfig(cached_content=cache.name)).text
    streamed = "".join(c.text for c in client.models.generate_content_stream(
        model="gemini-2.0-flash", contents="hi", config=types.GenerateContentConfig(cached_content=cache.name)))
    read = client.caches.get(name=cache.name).name
    client.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="7200s"))
    client.caches.delete(name=cache.name)
    return [cache.name, text, streamed, read]


def _claude_thinking_tool(gw: Any) -> tuple[list[str], Any, tuple[int, int]]:
    """Extended thinking then a tool call, streamed, with prompt caching's usage."""
    with _anthropic(gw).messages.stream(model="claude-x", max_tokens=2048, messages=HI,
                                        thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        message = s.get_final_message()
    usage = message.usage
    return [b.type for b in message.content], message.content[1].input, (usage.cache_read_input_tokens,
                                                                           usage.cache_creation_input_tokens)


def _parallel_tools(gw: Any) -> tuple[list[tuple[str, str]], Any]:
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
             for n in ("get_weather", "get_time")]
    with _openai(gw).chat.completions.stream(model="gpt-4o", messages=HI, tools=tools,  # type: ignore[arg-type]
                                             parallel_tool_calls=True) as s:
        done = s.get_final_completion()
    calls = done.choices[0].message.tool_calls or []
    return [(c.function.name, c.function.arguments) for c in calls], done.usage  # type: ignore[union-attr]


# (id, the call, what it returns, then per final record it leaves: provider, key id, attempts,
#  tokens (None: the gateway's estimate, no usage in the answer))
Row = tuple[str, Callable[[Any], Any], Any, list[tuple[str, str, int, int | None]]]
ROWS: list[Row] = [
    ("genai generate_content", lambda gw: _genai(gw).models.generate_content(model="gemini-2.0-flash",
                                                                              contents="hi").text,
     "hello", [("ge", "ge-good", 2, 10)]),
    ("genai generate_content_stream", lambda gw: "".join(c.text for c in _genai(gw).models.generate_content_stream(
        model="gemini-2.0-flash", contents="hi")), "hello", [("ge", "ge-good", 2, 10)]),
    ("genai aio generate_content", lambda gw: asyncio.run(_genai(gw).aio.models.generate_content(
        model="gemini-2.0-flash", contents="hi")).text, "hello", [("ge", "ge-good", 2, 10)]),
    ("genai aio generate_content_stream", lambda gw: asyncio.run(_agen_stream(gw, "gemini-2.0-flash")), "hello",
     [("ge", "ge-good", 2, 10)]),
    ("genai chat send_message", lambda gw: _genai(gw).chats.create(model="gemini-2.0-flash").send_message("hi").text,
     "hello", [("ge", "ge-good", 2, 10)]),
    ("genai count_tokens", lambda gw: _genai(gw).models.count_tokens(model="gemini-2.0-flash",
                                                                      contents="hi").total_tokens,
     7, [("ge", "ge-good", 2, 0)]),
    ("genai embed_content", lambda gw: _genai(gw).models.embed_content(model="text-embedding-004",
                                                                        contents="hi").embeddings[0].values,
     [0.1, 0.2], [("ge", "ge-good", 2, None)]),
    ("genai to the google provider at Google's OpenAI-compatible base", lambda gw: _genai(
        gw).models.generate_content(model="gemini-2.5-flash", contents="hi").text,
     "hello", [("google", "google-good", 2, 10)]),
    ("genai stream to the google provider", lambda gw: asyncio.run(_agen_stream(gw, "gemini-2.5-flash")), "hello",
     [("google", "google-good", 2, 10)]),
    ("openai chat to the google provider", lambda gw: _openai(gw).chat.completions.create(
        model="gemini-2.5-flash", messages=HI).choices[0].message.content, "hello",
     [("google", "google-good", 2, 10)]),
    ("openai chat to a Google provider at its native base", lambda gw: _openai(gw).chat.completions.create(
        model="gemini-2.5-pro", messages=HI).choices[0].message.content, "hello",
     [("gemini-native", "gemini-native-good", 2, 10)]),
    ("genai to a Google provider at its native base", lambda gw: _genai(gw).models.generate_content(
        model="gemini-2.5-pro", contents="hi").text, "hello", [("gemini-native", "gemini-native-good", 2, 10)]),
    ("openai responses.create", lambda gw: _openai(gw).responses.create(model="gpt-4o", input="hi").output_text,
     "hello", [("oa", "oa-good", 2, 10)]),
    ("openai responses raw stream", lambda gw: "".join(
        e.delta for e in _openai(gw).responses.create(model="gpt-4o", input="hi", stream=True)
        if e.type == "response.output_text.delta"), "hello", [("oa", "oa-good", 2, 10)]),
    ("openai responses.stream helper", _responses_helper, "hello", [("oa", "oa-good", 2, 10)]),
    ("openai previous_response_id after a failover", _previous_turn, "hello",
     [("oa", "oa-good", 2, 10), ("oa", "oa-good", 1, 10)]),  # the next turn goes where its response is
    ("openai async chat stream", lambda gw: asyncio.run(_achat_stream(gw)), "hello", [("oa", "oa-good", 2, 10)]),
    ("openai embeddings", lambda gw: _openai(gw).embeddings.create(model="text-embedding-3-small",
                                                                   input="hi").data[0].embedding,
     [0.1, 0.2], [("oa", "oa-good", 2, 4)]),
    ("anthropic messages.stream helper", _claude_stream, ("hello", 3), [("an", "an-good", 2, 10)]),
    ("anthropic async messages.stream", lambda gw: asyncio.run(_aclaude_stream(gw)), ("hello", 3),
     [("an", "an-good", 2, 10)]),
    ("genai context cache after a failover: made, used, read, kept longer, deleted", _cache_session,
     ["cachedContents/ge-good.gemini-2.0-flash", "hello", "hello", "cachedContents/ge-good.gemini-2.0-flash"],
     [("ge", "ge-good", 2, None)] + [("ge", "ge-good", 1, 10)] * 2  # its uses and reads go where it is
     + [("ge", "ge-good", 1, 0), ("ge", "ge-good", 1, None), ("ge", "ge-good", 1, 0)]),
    ("anthropic count_tokens", lambda gw: _anthropic(gw).messages.count_tokens(model="claude-x",
                                                                               messages=HI).input_tokens,
     7, [("an", "an-good", 2, 0)]),
    # extended thinking then a tool call, prompt caching's reads and writes charged with the rest
    ("anthropic thinking and tool_use stream", _claude_thinking_tool,
     (["thinking", "tool_use"], {"city": "Paris"}, (100, 50)), [("an", "an-good", 2, 160)]),
    # the usage the gateway asked for is the ledger's, not the client's (it did not ask)
    ("openai parallel tool calls stream", _parallel_tools,
     ([("get_weather", '{"city":"Paris"}'), ("get_time", '{"tz":"CET"}')], None), [("oa", "oa-good", 2, 10)]),
    ("openai images.generate", lambda gw: _openai(gw).images.generate(model="gpt-image-1", prompt="hi").data[0].b64_json,
     "aGk=", [("oa", "oa-good", 2, 10)]),
    ("openai audio.transcriptions (a multipart form)", lambda gw: _openai(gw).audio.transcriptions.create(
        model="gpt-4o-transcribe", file=("a.mp3", b"ID3-audio", "audio/mpeg")).text, "hello",
     [("oa", "oa-good", 2, 10)]),
]


@pytest.mark.parametrize(("call", "result", "records"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_an_sdk_call_fails_over_and_is_charged_once_to_what_served(gateway: Any, call: Callable[[Any], Any],
                                                                   result: Any, records: list[Any]) -> None:
    providers = ("oa", "ge", "google", "an", "gemini-native")
    before, used = len(_finals(gateway.ledger_url)), {p: _used(gateway, p) for p in providers}
    assert call(gateway) == result
    deadline = time.monotonic() + WAIT
    while len(finals := _finals(gateway.ledger_url)) < before + len(records) and time.monotonic() < deadline:
        time.sleep(0.02)  # the final record is written just after the answer
    new = finals[before:]
    got = [(r["gen_ai.provider.name"], r["aigw.route.key_id"], r["aigw.attempts"],
            r["aigw.usage.total_tokens"] if r["aigw.usage.source"] == "provider" else None) for r in new]
    assert got == records
    charged = {p: sum(r["aigw.usage.total_tokens"] for r in new if r["gen_ai.provider.name"] == p) for p in providers}
    assert {p: _used(gateway, p) - used[p] for p in providers} == charged  # the failed keys' attempts: nothing

