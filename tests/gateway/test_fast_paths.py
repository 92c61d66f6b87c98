"""The gateway's per-request shortcuts (issue #15) against the plain computations they
replace: request ids, the forwarded request's header filter (header names lower-cased once),
``strip_key`` on an empty query, the decision log's formatted second."""

from __future__ import annotations

import asyncio
import re
import time
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import unquote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.gateway import KeyRing
from aigw_policy.gateway.effects import strip_key
from aigw_policy.gateway.exchange import DECISION_HEADER, Exchange
from aigw_policy.gateway.hops import hop_by_hop
from aigw_policy.gateway.keys import CREDENTIAL_HEADERS
from aigw_policy.gateway.metrics import _utc_second
from aigw_policy.gateway.middleware import PolicyMiddleware

POLICY = 'policy "fast" {\n  on request {\n    rule "r" {\n      when ai.model == "nope"\n      deny 403 "no"\n    }\n  }\n}\n'


def _middleware(keys: KeyRing | None = None) -> PolicyMiddleware:
    return PolicyMiddleware(lambda *a: None, ap.Engine(ap.loads(POLICY)), keys=keys)


def _scope(headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions", "query_string": query, "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8080)}


def test_request_ids_are_random_hex_and_distinct() -> None:
    mw = _middleware()
    ids = [Exchange(mw, mw.engine, _scope([]), None, None).ctx.request_id for _ in range(300)]
    assert all(re.fullmatch(r"req-[0-9a-f]{20}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # random, not a counter or a clock: every one of the 20 digits takes many values
    for pos in range(4, 24):
        assert len({i[pos] for i in ids}) >= 8, pos


_NAMES = st.sampled_from([b"Host", b"content-type", b"Content-Length", b"Connection", b"X-Custom", b"x-custom",
                          b"Keep-Alive", b"authorization", b"X-Api-Key", b"TE", b"x-\xc0", b"X-\xe0",
                          DECISION_HEADER.encode(), b"X-Aigw-Decision-Id", b"upgrade", b"x-other"])
_VALUES = st.sampled_from([b"1", b"close", b"x-custom, X-\xc0", b"keep-alive, X-Other", b"Bearer sk", b"\xe0"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12), st.booleans())
def test_forwarded_headers_filter_as_the_plain_way(headers: list[tuple[bytes, bytes]], keyed: bool) -> None:
    """``_rewrite`` filters with the names ``__init__`` lower-cased: the same headers as
    lower-casing each name again against the drop set (hop-by-hop, Connection-named,
    credentials, length, decision id)."""
    mw = _middleware(KeyRing({}) if keyed else None)
    ex = Exchange(mw, mw.engine, _scope(list(headers)), None, None)
    decision = SimpleNamespace(effects={}, ai={})
    scope, raw, _ = ex._rewrite(decision, b"{}", {})
    drop = {"content-length", DECISION_HEADER} | hop_by_hop(headers)
    if keyed:
        drop.update(CREDENTIAL_HEADERS)
    plain = [(k, v) for k, v in headers if k.decode("latin-1").lower() not in drop]
    plain += [(b"content-length", b"2"), (DECISION_HEADER.encode(), ex.ctx.request_id.encode())]
    assert scope["headers"] == plain


def _strip_key_plain(query: bytes | str) -> str:
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    pairs = text.split("&")
    kept = [pair for pair in pairs if unquote_plus(pair.partition("=")[0]) != "key"]
    return text if len(kept) == len(pairs) else "&".join(kept)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="key=&%65+ab", max_size=16), st.binary(max_size=16)))
@example("")
@example(b"")
@example("k%65y=sk&a=1")
@example(b"a=1&ke%79=sk")
def test_strip_key_as_the_plain_way(query: bytes | str) -> None:
    assert strip_key(query) == _strip_key_plain(query)
    assert strip_key(b"") == strip_key("") == ""


def test_decision_log_second_follows_the_clock() -> None:
    for t in (1_700_000_000.2, 1_700_000_000.9, 1_700_000_001.0, 1_700_000_001.5, 1_800_000_059.99, 1_800_000_060.0):
        with mock.patch.object(time, "time", return_value=t):
            assert _utc_second() == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_request_id_reaches_the_answer_and_the_event() -> None:
    """The id a client reads in ``x-aigw-decision-id`` is the event's and the engine's."""
    events: list[dict[str, Any]] = []
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["aigw"].request_id)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"usage": {"prompt_tokens": 1, "completion_tokens": 1}}'})

    mw = PolicyMiddleware(app, ap.Engine(ap.loads(POLICY)), observer=events.append)
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        body = [{"type": "http.request", "body": b'{"model": "gpt-4o", "messages": []}', "more_body": False}]

        async def receive() -> dict[str, Any]:
            return body.pop() if body else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await mw(_scope([(b"content-type", b"application/json")]), receive, send)

    asyncio.run(run())
    rid = dict(sent[0]["headers"])[DECISION_HEADER.encode()].decode()
    assert re.fullmatch(r"req-[0-9a-f]{20}", rid)
    assert seen == [rid] and events[0]["request_id"] == rid and events[0]["decision"].id == rid
