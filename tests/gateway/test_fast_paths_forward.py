"""The forwarding path's shortcuts (docs/gateway.md, "Tenth pass"), each against the plain
computation it replaces: the upstream headers kept before the body is read, one effect read
at a time, the RateLimit headers made while the upstream answers, the remembered Connection
sets, the one JSON decoder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.gateway import KeyRing
from aigw_policy.gateway import hops
from aigw_policy.gateway.effects import effect
from aigw_policy.gateway.exchange import DECISION_HEADER
from aigw_policy.gateway.hops import HOP_BY_HOP, hop_by_hop
from aigw_policy.gateway.keys import CREDENTIAL_HEADERS
from aigw_policy.gateway.middleware import PolicyMiddleware
from aigw_policy.gateway.request_body import _SURROGATE_ESCAPE, BadBody, _no_constant, _unique_keys, parse_body

POLICY = '''policy "fwd" {
  on request {
    rule "tag" {
      add-headers { headers: { "x-team": "${has(identity.team) ? identity.team : 'none'}", "X-Custom": "policy" } }
    }
    rule "drop" {
      remove-headers { headers: ["x-drop-me", "x-other"] }
    }
    rule "pin" {
      when ai.model == "gpt-4o"
      set-model "gpt-4o-mini"
    }
    rule "rpm" {
      rate-limit { name: "rpm", capacity: 100, rate: 1m }
    }
    rule "tpm" {
      token-limit { name: "tpm", capacity: 100000, rate: 1m }
    }
  }
}
'''
BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}).encode()
ANSWER = json.dumps({"id": "c", "object": "chat.completion", "model": "gpt-4o-mini", "choices": [],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()


def _plain_hops(headers: list[tuple[bytes, bytes]]) -> set[str]:
    names = set(HOP_BY_HOP)
    for k, v in headers:
        if k.lower() == b"connection":
            names.update(t.strip().lower() for t in v.decode("latin-1").split(",") if t.strip())
    return names


_CONNECTION = st.sampled_from([b"keep-alive", b"close", b"Keep-Alive, X-A", b"x-a", b"upgrade", b" close ", b""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CONNECTION, max_size=3), min_size=1, max_size=6))
def test_remembered_connection_sets_are_the_plain_ones(requests: list[list[bytes]]) -> None:
    """A Connection value's set is remembered: each call, in any order of values (one or
    several Connection headers), gives the set worked out from that call's own headers."""
    for values in requests:
        headers = [(b"host", b"h")] + [(b"Connection", v) for v in values]
        assert hop_by_hop(headers) == _plain_hops(headers)
        assert hop_by_hop(headers) == _plain_hops(headers)  # the second time from memory


def test_connection_memory_is_bounded() -> None:
    for i in range(hops._NAMED_MAX * 3):
        hop_by_hop([(b"connection", b"x-%d" % i)])
    long = b"x-" + b"a" * hops._NAMED_LEN
    assert hop_by_hop([(b"connection", long)]) == _plain_hops([(b"connection", long)])
    assert len(hops._NAMED) <= hops._NAMED_MAX and (long,) not in hops._NAMED
    assert hop_by_hop([(b"host", b"h")]) is HOP_BY_HOP


_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")  # a surrogate's own UTF-8 bytes (CESU-8, WTF-8)


def _plain_parse_body(body: bytes, content_type: str) -> Any:
    """parse_body as it was, ``json.loads`` with the hooks on each call (what it replaced)."""
    if not body:
        return None
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        # (serve20: a surrogate's own bytes, and UTF-16's and UTF-32's, are refused as its escape is)
        if _SURROGATE_ESCAPE.search(body) or _RAW_SURROGATE.search(body) or json.detect_encoding(body)[:5] != "utf-8":
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise BadBody("invalid_json", "surrogate") from None
    except RecursionError:
        raise BadBody("json_too_deep", "deep") from None
    except ValueError:
        media = content_type.split(";", 1)[0].strip().lower()
        if body.lstrip()[:1] in (b"{", b"[") or not media or media == "text/plain" or media.endswith(("/json", "+json")):
            raise BadBody("invalid_json", "invalid") from None
        return body.decode("utf-8", "replace")


def _outcome(parse: Any, body: bytes, content_type: str) -> Any:
    try:
        return ("ok", parse(body, content_type))
    except BadBody as error:
        return ("refused", error.code, error.status)


_JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                        lambda inner: (st.lists(inner, max_size=3)
                                       | st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                        max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_JSONISH.map(json.dumps),
                 st.binary(max_size=24).map(lambda b: b.decode("latin-1")),
                 st.sampled_from(['{"a": 1, "a": 2}', '[NaN]', '{"x": Infinity}', '"\\ud800"', '{"a": [1,]}',
                                  '\ufeff{"a": 1}', '{"k": "\\u00e9\u00e9"}'])),
       st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8-sig", "utf-16", "latin-1"]),
       st.sampled_from(["application/json", "text/csv", ""]))
@example('{"k": "\\u00e9"}', "utf-16", "application/json")
def test_one_decoder_parses_as_json_loads(text: str, encoding: str, content_type: str) -> None:
    """The shared decoder gives what ``json.loads`` with the hooks gives, in every encoding
    ``json.loads`` tells from the first bytes, and refuses what it refuses, the same way."""
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError:
        body = text.encode("utf-8", "surrogatepass")
    assert _outcome(parse_body, body, content_type) == _outcome(_plain_parse_body, body, content_type)


def _middleware(engine: Any, app: Any, keys: KeyRing | None = None) -> PolicyMiddleware:
    return PolicyMiddleware(app, engine, keys=keys)


def _run(mw: PolicyMiddleware, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def go() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
                 "raw_path": b"/v1/chat/completions", "query_string": b"", "headers": headers,
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8080)}
        await mw(scope, receive, send)

    asyncio.run(go())
    return sent


_REQUEST_NAMES = st.sampled_from([b"Content-Type", b"x-drop-me", b"X-Other", b"x-team", b"X-Custom", b"connection",
                                  b"Keep-Alive", b"authorization", b"x-api-key", b"x-keep", b"X-Aigw-Decision-Id",
                                  b"content-length"])
_REQUEST_VALUES = st.sampled_from([b"1", b"keep-alive", b"close, x-keep", b"Bearer sk-fwd", b"application/json"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_REQUEST_NAMES, _REQUEST_VALUES), max_size=10), st.booleans())
def test_upstream_headers_kept_early_are_the_plain_ones(headers: list[tuple[bytes, bytes]], keyed: bool) -> None:
    """What the app receives, with the base filter worked out before the body is read and the
    decision's header effects after: the plain one-pass filter of all of it."""
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": ANSWER})

    keys = KeyRing({hashlib.sha256(b"sk-fwd").hexdigest(): {"key": "k", "team": "t"}}) if keyed else None
    sending = [h for h in headers if not (keyed and h[0].lower() == b"authorization")]
    if keyed:
        sending.append((b"authorization", b"Bearer sk-fwd"))
    _run(_middleware(ap.Engine(ap.loads(POLICY)), app, keys), list(sending))
    assert seen, "the request was not forwarded"
    effects = seen[0]["aigw"].decision.effects["request_headers"]
    drop = {"content-length", DECISION_HEADER} | _plain_hops(sending)
    if keyed:
        drop.update(CREDENTIAL_HEADERS)
    drop.update(effects.get("remove", ()))
    drop.update(effects.get("add", {}))
    plain = [(k, v) for k, v in sending if k.decode("latin-1").lower() not in drop]
    plain += [(k.encode(), str(v).encode()) for k, v in effects.get("add", {}).items()]
    got = seen[0]["headers"]
    assert got[:-2] == plain
    assert got[-2][0] == b"content-length" and got[-1][0] == DECISION_HEADER.encode()


@pytest.mark.parametrize("waits", [False, True])
@pytest.mark.parametrize("stream", [False, True])
def test_ratelimit_headers_made_while_the_upstream_answers(waits: bool, stream: bool) -> None:
    """The RateLimit headers, made during the app's first wait or, for an app that never
    waits, when the answer needs them: in both cases the decision's own."""
    wanted: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        wanted.append(scope["aigw"].decision.effect("rate_limit_headers"))
        if waits:
            await asyncio.sleep(0)
        ctype = b"text/event-stream" if stream else b"application/json"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype)]})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n" if stream else ANSWER})

    sent = _run(_middleware(ap.Engine(ap.loads(POLICY)), app), [(b"content-type", b"application/json")])
    headers = sent[0]["headers"]
    got = {k.decode(): v.decode() for k, v in headers if k.startswith(b"ratelimit")}
    assert wanted and wanted[0] and got == {k.lower(): v for k, v in wanted[0].items()}
    assert sum(k == b"ratelimit" for k, _ in headers) == 1


def test_one_effect_is_the_effects_entry() -> None:
    """``effect(decision, name)`` reads what ``decision.effects.get(name)`` holds, for the
    engine's decisions (one effect built) and for any decision with ``effects`` only."""
    engine = ap.Engine(ap.loads(POLICY))
    request = {"identity": {"key": "k", "team": "t"},
               "request": {"method": "POST", "url": "http://h/v1/chat/completions",
                           "headers": {"content-type": "application/json"}, "body": json.loads(BODY)}}
    names = ("model", "request_headers", "rate_limit_headers", "response_headers", "logs", "vars", "nothing")
    for name in names:
        decision = engine.evaluate(dict(request), expect_response=False)
        one = effect(decision, name)  # first: effect() builds nothing the whole effects would reuse
        assert one == decision.effects.get(name), name
    assert effect(SimpleNamespace(effects={"model": {"to": "m"}}), "model") == {"to": "m"}
    assert effect(SimpleNamespace(effects={}), "model") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdeijlmnostvx-/;+= ", max_size=40).map(
    lambda t: t.replace("x", "text/event-stream", 1) if "x" in t[:3] else t))
@example("application/x-ndjson; charset=utf-8")
@example("application/jsonl")
def test_stream_type_is_any_of_the_plain_ones(ctype: str) -> None:
    from aigw_policy.gateway.captured import _STREAM_TYPE, STREAM_TYPES

    assert (_STREAM_TYPE.search(ctype) is not None) == any(t in ctype for t in STREAM_TYPES)


@pytest.mark.parametrize("pieces", [1, 3])
@pytest.mark.parametrize("size", [0, 9, 10, 11])
def test_a_body_in_one_message_is_read_as_in_pieces(pieces: int, size: int) -> None:
    """A body that comes whole in one message is taken as it came (not copied twice), with the
    same bound: what the app (and the upstream, through UpstreamProxy's own read) receives
    is the body, the same as when it comes in pieces; past ``max_body`` it is a 413 either way."""
    body = (b'"' + b"x" * (size - 2) + b'"') if size >= 2 else b"1" * size
    got: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        got.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": ANSWER})

    mw = PolicyMiddleware(app, ap.Engine(ap.loads(POLICY)), max_body=10)
    sent: list[dict[str, Any]] = []

    async def go() -> None:
        cut = [body[i * len(body) // pieces:(i + 1) * len(body) // pieces] for i in range(pieces)]
        messages = [{"type": "http.request", "body": c, "more_body": i < pieces - 1} for i, c in enumerate(cut)]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
                 "raw_path": b"/v1/chat/completions", "query_string": b"", "headers": [(b"content-type", b"text/plain")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8080)}
        await mw(scope, receive, send)

    asyncio.run(go())
    if size > 10:
        assert sent[0]["status"] == 413 and not got
    else:
        assert sent[0]["status"] == 200 and got == [body]
