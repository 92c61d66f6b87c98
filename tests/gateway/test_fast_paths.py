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


# -- sixth pass: timers and the tracer lookup ---------------------------------------------------

from aigw_policy.gateway.exchange import receive_within  # noqa: E402
from aigw_policy.gateway.metrics import Observer  # noqa: E402
from aigw_policy.gateway.server import _Timer  # noqa: E402


async def _plain_within(receive: Any, seconds: float | None) -> Any:
    async with asyncio.timeout(seconds):
        return await receive()


def _outcome(within: Any, steps: int | None, seconds: float | None, cancel_at: int | None,
             swallow: bool) -> tuple[str, int]:
    """What ``within(receive, seconds)`` gives when ``receive`` answers after ``steps`` steps of
    the loop (None: never), the task being cancelled from outside at step ``cancel_at`` (None:
    never); ``swallow``: the receive catches one CancelledError and answers anyway. Returns
    the result or the exception's name, and the task's pending cancel requests after it."""
    async def receive() -> str:
        n = 0
        while steps is None or n < steps:
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                if not swallow:
                    raise
                return "swallowed"
            n += 1
        return "message"

    async def run() -> tuple[str, int]:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        if cancel_at is not None:
            def cancel(k: int) -> None:
                if k == 0:
                    task.cancel()
                else:
                    loop.call_soon(cancel, k - 1)
            loop.call_soon(cancel, cancel_at)
        try:
            result = await within(receive, seconds)
        except (TimeoutError, asyncio.CancelledError) as error:
            result = type(error).__name__
        return result, task.cancelling()

    return asyncio.run(run())


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.integers(0, 4)), st.sampled_from([None, 0.0, -1.0, 1000.0]),
       st.one_of(st.none(), st.integers(0, 5)), st.booleans())
@example(None, 0.0, None, False)  # the body never comes: 408
@example(None, 0.0, 0, False)  # a cancel from outside and the deadline together
@example(2, 0.0, None, True)  # the receive swallows the timer's cancel
def test_receive_within_is_asyncio_timeout(steps: int | None, seconds: float | None, cancel_at: int | None,
                                           swallow: bool) -> None:
    if steps is None and cancel_at is None and (seconds is None or seconds > 0):
        steps = 1  # would wait for ever (or for 1000 s) either way
    assert _outcome(receive_within, steps, seconds, cancel_at, swallow) == \
        _outcome(_plain_within, steps, seconds, cancel_at, swallow)


class _Loop:
    """A loop whose time is set by the test: ``call_at`` handles fire as time passes them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[Any] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> Any:
        handle = SimpleNamespace(when=when, callback=callback, cancelled=False)
        handle.cancel = lambda: setattr(handle, "cancelled", True)
        self.handles.append(handle)
        return handle

    def call_later(self, delay: float, callback: Any) -> Any:
        return self.call_at(self.now + delay, callback)

    def advance(self, to: float) -> None:
        while True:
            due = [h for h in self.handles if not h.cancelled and h.when <= to]
            if not due:
                break
            first = min(due, key=lambda h: h.when)
            self.handles.remove(first)
            self.now = max(self.now, first.when)
            first.callback()
        self.now = to


class _Transport:
    def __init__(self) -> None:
        self.closed_at: float | None = None
        self.loop: _Loop | None = None

    def is_closing(self) -> bool:
        return self.closed_at is not None

    def close(self) -> None:
        assert self.loop is not None
        if self.closed_at is None:
            self.closed_at = self.loop.now

    def write(self, data: bytes) -> None:
        pass


class _PlainTimer:
    """The header timer as it was: a fresh timer per arming, cancelled at the head's end."""

    header_timeout = 10.0

    def __init__(self, loop: _Loop, transport: _Transport) -> None:
        self.loop, self.transport, self.timer = loop, transport, None

    def _arm(self) -> None:
        self._disarm()
        self.timer = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    _stop = _disarm

    def _expire(self) -> None:
        self.timer = None
        if not self.transport.is_closing():
            self.transport.close()


class _OurTimer(_Timer):
    header_timeout = 10.0

    def __init__(self, loop: _Loop, transport: _Transport) -> None:
        self.loop, self.transport = loop, transport  # type: ignore[assignment]


_EVENTS = st.lists(st.tuples(st.sampled_from(["arm", "disarm", "stop"]), st.floats(0, 25)), max_size=12)


@settings(max_examples=400, deadline=None)
@given(_EVENTS)
@example([("arm", 0.0), ("disarm", 3.0), ("arm", 9.0), ("disarm", 12.0), ("arm", 15.0)])  # re-armed after the first deadline's run-up
@example([("disarm", 1.0), ("arm", 2.0)])
def test_header_timer_closes_when_the_plain_timer_does(events: list[tuple[str, float]]) -> None:
    """One lazy timer per connection closes it at the same moment as a fresh timer per
    arming would, whatever the arms (a request awaited), disarms (its head came) and stops
    (the connection went) and the times between them."""
    closed = []
    for kind in (_PlainTimer, _OurTimer):
        loop, transport = _Loop(), _Transport()
        transport.loop = loop
        timer = kind(loop, transport)
        timer._arm()  # connection_made
        for action, pause in events:
            loop.advance(loop.now + pause)
            if transport.is_closing():
                break
            getattr(timer, f"_{action}")()
        loop.advance(loop.now + 100)
        closed.append(transport.closed_at)
    assert closed[0] == closed[1]


def test_header_timer_is_one_handle_per_connection_on_keep_alive() -> None:
    loop, transport = _Loop(), _Transport()
    transport.loop = loop
    timer = _OurTimer(loop, transport)
    timer._arm()
    for _ in range(1000):  # a thousand requests within a second
        loop.advance(loop.now + 0.001)
        timer._disarm()
        timer._arm()
    assert len(loop.handles) == 1


def test_spans_wanted_is_the_plain_lookup_once_a_second() -> None:
    trace = __import__("pytest").importorskip("opentelemetry.trace")
    obs = Observer(prometheus=False, otel=True)
    plain = trace.get_tracer_provider
    clock = [100.2]
    with mock.patch("aigw_policy.gateway.metrics.time.monotonic", lambda: clock[0]):
        for provider, expect in ((trace.ProxyTracerProvider(), False), (trace.NoOpTracerProvider(), True),
                                 (trace.ProxyTracerProvider(), False)):
            with mock.patch.object(trace, "get_tracer_provider", lambda p=provider: p):
                clock[0] += 1.0  # the next second: looked up again
                assert obs.spans_wanted(trace) is expect
                assert obs.spans_wanted(trace) is (not isinstance(trace.get_tracer_provider(),
                                                                  trace.ProxyTracerProvider))
    assert trace.get_tracer_provider is plain


def test_request_ids_from_the_pool_are_distinct_across_refills_threads_and_forks() -> None:
    """``request_id`` reads the OS's random bytes 4,000 at a time: ids stay distinct past a
    refill, between threads, and between a process and its fork (which reads its own)."""
    import os
    import threading

    from aigw_policy.gateway.exchange import request_id

    ids = [request_id() for _ in range(1000)]  # 2.5 pools
    assert all(re.fullmatch(r"req-[0-9a-f]{20}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    for pos in range(4, 24):  # random, not a counter: every digit takes many values
        assert len({i[pos] for i in ids}) >= 8, pos
    other: list[str] = []
    worker = threading.Thread(target=lambda: other.extend(request_id() for _ in range(500)))
    worker.start()
    mine = [request_id() for _ in range(500)]
    worker.join()
    assert len(set(other) | set(mine) | set(ids)) == 2000
    read, write = os.pipe()
    request_id()  # this process's pool is filled: the child inherits it
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, " ".join(request_id() for _ in range(20)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 65536).decode().split()
    os.close(read)
    os.close(write)
    assert len(child) == 20
    assert not set(child) & {request_id() for _ in range(20)}  # not the parent's next bytes


_RAW_PATHS = st.one_of(
    st.sampled_from([b"/v1/chat/completions", b"/v1/x/../chat//completions", b"/v1/models/caf%C3%A9:generateContent",
                     b"/v1/%2e%2e/admin", b"/v1/a%2Fb", b"/", b"//", b"/v1/./messages/", b"/%ff", b"/v1;x",
                     b"/v1/chat/completions/"]),
    st.binary(max_size=12).map(lambda b: b"/" + b),
    st.text(alphabet="/.%2eEfF0aA;:", max_size=12).map(lambda t: ("/" + t).encode()))


@settings(max_examples=400, deadline=None)
@given(st.lists(_RAW_PATHS, min_size=1, max_size=6))
def test_canonical_scope_remembers_what_the_plain_way_computes(raws: list[bytes]) -> None:
    """``canonical_scope`` keeps each raw path's canonical form: asked again (the same path,
    any scope ``path``), the same scope or error as working it out anew."""
    from aigw_policy.gateway import paths

    def plain(scope: dict[str, Any]) -> Any:
        try:
            decoded, encoded = paths.canonical_path(scope["raw_path"].decode("ascii"))
        except UnicodeDecodeError:
            return "PathError: the path has a byte that is not ASCII"
        except paths.PathError as error:
            return f"PathError: {error}"
        if decoded == scope["path"] and scope["raw_path"] == encoded.encode("ascii"):
            return scope
        return {**scope, "path": decoded, "raw_path": encoded.encode("ascii")}

    def fast(scope: dict[str, Any]) -> Any:
        try:
            return paths.canonical_scope(scope)
        except paths.PathError as error:
            return f"PathError: {error}"

    for raw in raws + raws:  # each twice: the second from what was kept
        for given_path in (raw.decode("latin-1"), "/v1/chat/completions"):
            scope = {"type": "http", "path": given_path, "raw_path": raw}
            expected, got = plain(dict(scope)), fast(scope)
            assert got == expected
            assert (got is scope) == (expected == scope and not isinstance(expected, str))


def test_canonical_scope_keeps_few_and_short_paths() -> None:
    from aigw_policy.gateway import paths

    for i in range(paths._KNOWN_MAX * 3):
        paths.canonical_scope({"type": "http", "path": f"/p{i}", "raw_path": f"/p{i}".encode()})
    long = b"/" + b"a" * paths._KNOWN_LEN
    paths.canonical_scope({"type": "http", "path": long.decode(), "raw_path": long})
    assert len(paths._KNOWN) <= paths._KNOWN_MAX
    assert long not in paths._KNOWN


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12))
def test_hop_by_hop_is_the_plain_set(headers: list[tuple[bytes, bytes]]) -> None:
    from aigw_policy.gateway.hops import HOP_BY_HOP

    names = set(HOP_BY_HOP)
    for k, v in headers:
        if k.lower() == b"connection":
            names.update(t.strip().lower() for t in v.decode("latin-1").split(",") if t.strip())
    assert hop_by_hop(headers) == names
