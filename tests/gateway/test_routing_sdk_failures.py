"""Failover as the official SDKs see it (SPEC §12): the ``openai`` and ``anthropic`` clients,
their own retries off and on, through ``serve`` to three raw-socket upstreams that fail, one
answer at a time, in the ways a provider or the network does (refused, reset before or inside
the head, each 4xx and 5xx the providers send with and without ``Retry-After``, Anthropic's 529,
a 200 that is no JSON, a first byte that never comes, a stream cut or stalled after the client
read some of it).

Each row is checked against one model of the spec's rules: the candidates tried, in order, each
once, none after one whose bytes reached the client nor after a failure that is no trigger;
the SDK returns the serving candidate's whole answer or raises its own documented error (an
``APIStatusError`` of the status the rules give, or, once bytes are out, the stream's
``APIError``), never a parse error of its own; the decision log lists each attempt; the limit
store moves by exactly what the ledger's final records say, served or not, SDK retries included.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from aigw_policy.limits.model import Charge

from .conftest import WAIT, policy_gateway, routed_policy, ledger_lines
from .raw_upstream import Peer, RawUpstream
from .test_routing_failure_schedules import (USAGE, _ant_events, _ant_message, _completion, _events, _text)

KEY = "sk-gw-sdk-failures"
N = 3
OPENAI_ERROR = b'{"error": {"message": "said %d", "type": "x", "code": null}}'
ANTHROPIC_ERROR = b'{"type": "error", "error": {"type": "x", "message": "said %d"}}'
STATUSES = (400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504, 529)
MIDSTREAM = ("cut after", "stall after")
"""Failures that come once the client has read bytes of the stream: never a failover."""
TIMEOUTS = ("stall", "slow head")
"""No head within the per-attempt time-out."""
CONNECT = ("reset", "reset in head", "refused")
"""(``refused``: the plan's first candidate, whose URL is a closed port, in every row)"""
MALFORMED = ("not json", "html")


class Upstreams:
    """What each candidate's upstream does with the requests it gets (a queue of kinds per
    candidate, ``ok`` once it is empty) and the order the requests came in."""

    def __init__(self) -> None:
        self.api = "openai"
        self.queues: list[list[str]] = [[] for _ in range(N)]
        self.order: list[int] = []
        self.retry_counts: list[str | None] = []
        self.go = threading.Event()  # the client read bytes of a stream

    def reset(self, api: str, plans: list[list[str]]) -> None:
        self.api, self.queues, self.order, self.retry_counts = api, [list(p) for p in plans], [], []
        self.go.clear()


UP = Upstreams()


def _head(status: int, ctype: str, length: int | None, extra: str = "") -> bytes:
    framing = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    return f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\n{framing}\r\n{extra}\r\n".encode()


def _script(i: int) -> Any:
    async def script(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            head = request.split(b"\r\n\r\n", 1)[0].lower()
            retry = next((line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                          if line.startswith(b"x-stainless-retry-count:")), None)
            UP.order.append(i)
            UP.retry_counts.append(retry)
            kind = UP.queues[i].pop(0) if UP.queues[i] else "ok"
            stream = b'"stream":true' in request.replace(b" ", b"")
            if not await _answer(peer, i, kind, stream):
                return

    return script


async def _answer(peer: Peer, i: int, kind: str, stream: bool) -> bool:
    """Answer one request as ``kind`` says; whether the connection may serve another."""
    anthropic_api = UP.api == "anthropic"
    events = (_ant_events if anthropic_api else _events)(i)
    if kind == "ok":
        body = b"".join(events) if stream else (_ant_message if anthropic_api else _completion)(i)
        await peer.send(_head(200, "text/event-stream" if stream else "application/json", len(body)) + body)
        return True
    if kind == "reset":  # the request read, then a reset: no byte of a head
        peer.abort()
        return False
    if kind == "reset in head":
        await peer.send(b"HTTP/1.1 200 OK\r\ncontent-type: appl")
        peer.abort()
        return False
    if kind in TIMEOUTS:  # no head (or half of one) until the gateway gives up on the attempt
        if kind == "slow head":
            await peer.send(b"HTTP/1.1 200 OK\r\n")
        await peer.wait_eof()
        return False
    if kind in MALFORMED:
        body = b'{"id": "c", "choices": [' if kind == "not json" else b"<html>welcome</html>"
        await peer.send(_head(200, "application/json" if kind == "not json" else "text/html", len(body)) + body)
        return True
    if kind in MIDSTREAM:
        assert stream, kind
        first = b"".join(events[:4 if anthropic_api else 2])  # some text, then the failure
        await peer.send(_head(200, "text/event-stream", None) + b"%x\r\n%s\r\n" % (len(first), first))
        await asyncio.to_thread(UP.go.wait, WAIT)
        if kind == "cut after":
            peer.abort()
        else:
            await peer.wait_eof()
        return False
    status, _, after = kind.partition(" ")
    body = (ANTHROPIC_ERROR if anthropic_api else OPENAI_ERROR) % int(status)
    extra = f"retry-after: {after.removeprefix('ra')}\r\n" if after else ""
    await peer.send(_head(int(status), "application/json", len(body), extra) + body)
    return True


CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 100000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""
NARROWED = "          failover_on: [429, 5xx, timeout, connect, 401, 403]\n"
"""ngrok's narrowed example list (SPEC §12): a 400, 404 or other 4xx ends the route."""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the socket is: nothing listens there


@pytest.fixture(scope="module", params=["openai", "anthropic", "openai narrowed", "anthropic narrowed"])
def gw(request: pytest.FixtureRequest) -> Iterator[Any]:
    api, _, narrowed = request.param.partition(" ")
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.addHandler(handler)
    decisions.setLevel(logging.INFO)
    ups = [RawUpstream(_script(i)) for i in range(N)]
    for up in ups:
        up.__enter__()
    try:
        config = ("          per_request_timeout: 1s\n          total_timeout: 2500ms\n"
                  + (NARROWED if narrowed else ""))
        refused = f"http://127.0.0.1:{_closed_port()}"  # the plan's first candidate: connection refused
        route = routed_policy([refused] + [u.url for u in ups], config=config, api=api)
        policy = CAP + route.removeprefix("on_http_request:\n")
        with policy_gateway(policy, KEY) as server:
            server.api, server.narrowed, server.log = api, bool(narrowed), log  # type: ignore[attr-defined]
            yield server
    finally:
        for up in ups:
            up.__exit__(None, None, None)
        decisions.removeHandler(handler)


def _trigger(kind: str, narrowed: bool) -> bool:
    """Whether a failure of ``kind`` before any byte reached the client fails over."""
    if not narrowed or kind in TIMEOUTS + CONNECT or kind in MALFORMED:  # (`5xx` takes malformed)
        return True
    status = int(kind.split(" ")[0])
    return status in (429, 401, 403) or status >= 500


class Outcome:
    """What one gateway request does by the rules: the candidates it tries, who serves (None:
    an error answer), whether whole, and the status of an error answer (None: either the rule's
    status or the 504 of a total time-out that may come first on a loaded machine)."""

    def __init__(self, queues: list[list[str]], narrowed: bool) -> None:
        self.tried: list[int] = []
        self.who: int | None = None
        self.whole = False
        self.status: int | None = 503
        self.alternatives = {503}
        kinds = ["refused"] + [q.pop(0) if q else "ok" for q in queues]
        timeouts = 0
        for c, kind in enumerate(kinds):
            if timeouts == 2:  # two whole per-attempt time-outs leave half of one of the total
                self.alternatives.add(504)
                if kind in TIMEOUTS:
                    self.tried.append(c)
                    self.status, self.alternatives = 504, {504}
                    return
            self.tried.append(c)
            if kind == "ok" or kind in MIDSTREAM:
                self.who, self.whole, self.status = c, kind == "ok", None
                return
            timeouts += kind in TIMEOUTS
            if not _trigger(kind, narrowed):
                self.status = {**dict.fromkeys(TIMEOUTS, 504), **dict.fromkeys(CONNECT + MALFORMED, 502)}.get(
                    kind) or int(kind.split(" ")[0])
                self.alternatives.add(self.status)
                self.alternatives.discard(503)
                return
        self.alternatives.add(self.status)

    def retried(self, status: int) -> bool:
        """Whether the SDK sends the request again after this error answer."""
        return status in (408, 409, 429) or status >= 500


def _used(gw: Any) -> float:
    engine = gw.app.holder.current
    spec = engine.compiled.limits["tokens"][1].limit.spec
    return engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used


def _finals(gw: Any, since: int) -> list[dict[str, Any]]:
    lines = ledger_lines(gw.ledger)[since:]
    return [r for r in lines if r["aigw.verdict"] != "pending"]


def _wait_until(check: Any) -> bool:
    until = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > until:
            return False
        time.sleep(0.01)
    return True


def _ledger_lines(gw: Any) -> int:
    return len(ledger_lines(gw.ledger))


def _log_attempts(gw: Any, rid: str) -> list[dict[str, Any]]:
    until = time.monotonic() + WAIT
    while True:
        for line in gw.log.getvalue().splitlines():
            found = json.loads(line)
            if found.get("aigw.request.id") == rid:
                return found.get("aigw.route.attempts") or []
        assert time.monotonic() < until, f"no decision log line for {rid}"
        time.sleep(0.02)


def _call(gw: Any, stream: bool, retries: int) -> tuple[str, BaseException | None]:
    """The SDK's call: the text it got and the error it raised (None: it returned whole)."""
    got: list[str] = []
    messages = [{"role": "user", "content": "hi"}]
    try:
        if gw.api == "openai":
            client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=retries, timeout=WAIT)
            if not stream:
                made = client.chat.completions.create(model="gpt-4o", messages=messages)
                return made.choices[0].message.content, None
            for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True):
                got += [c.delta.content or "" for c in chunk.choices]
                if "".join(got):  # text read: the upstream's failure may come now (never an empty role chunk's)
                    UP.go.set()
            return "".join(got), None
        ant = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=retries, timeout=WAIT)
        if not stream:
            return ant.messages.create(model="claude-x", max_tokens=50, messages=messages).content[0].text, None
        with ant.messages.stream(model="claude-x", max_tokens=50, messages=messages) as events:
            for text in events.text_stream:
                got.append(text)
                UP.go.set()
            events.get_final_message()
        return "".join(got), None
    except Exception as error:  # noqa: BLE001 - checked by the caller: the SDK's own errors only
        return "".join(got), error


FAILURES = ([str(s) for s in STATUSES] + ["429 ra1", "503 ra1", "reset", "reset in head", "not json", "html"])


def _rows() -> list[Any]:
    rows = []
    for kind in FAILURES + list(TIMEOUTS) + list(MIDSTREAM):
        rows.append(pytest.param([[kind], [], []], 0, id=f"{kind}-then-ok"))
    rows += [
        pytest.param([["500"], ["429 ra1"], ["503"]], 0, id="all-failed"),
        pytest.param([["529"], ["400"], ["reset"]], 0, id="all-failed-mixed"),
        pytest.param([["stall"], ["slow head"], ["stall"]], 0, id="total-timeout"),
        pytest.param([["stall"], ["stall"], ["500"]], 0, id="two-timeouts-then-500"),
        pytest.param([["500"], ["503"], ["502"]], 2, id="sdk-retry-after-all-5xx"),
        pytest.param([["529", "529"], ["529", "529"], ["529"]], 2, id="sdk-retries-overloaded"),
        pytest.param([["429 ra1"], ["429 ra1"], ["429 ra1"]], 1, id="sdk-retry-after-all-429"),
        pytest.param([["404"], ["500"], ["reset"]], 2, id="sdk-retry-4xx-mixed"),
        pytest.param([["cut after"], [], []], 2, id="sdk-retries-on-cut-stream"),
        pytest.param([["stall", "stall"], ["stall", "stall"], ["stall"]], 1, id="sdk-retry-after-total-timeout"),
    ]
    return rows


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("plans, retries", _rows())
def test_an_sdk_session_meets_each_failure_as_the_spec_says(gw: Any, plans: list[list[str]], retries: int,
                                                             stream: bool) -> None:
    if not stream and any(k in MIDSTREAM for q in plans for k in q):
        pytest.skip("a failure once bytes are out is a stream's")
    UP.reset(gw.api, plans)
    gw.app.cooldowns.clear()  # each row is its own session: a 429 of an earlier row puts no key last
    before, lines = _used(gw), _ledger_lines(gw)
    queues = [list(p) for p in plans]
    expected: list[Outcome] = []
    text, error = _call(gw, stream, retries)
    requests = UP.order.count(0)  # every request the SDK made reached the first upstream once (after the refusal)
    assert _wait_until(lambda: len(_finals(gw, lines)) >= requests), "a final ledger record is missing"
    finals = _finals(gw, lines)
    assert len(finals) == requests, finals
    for final in finals:  # each gateway request the SDK made, in turn, against the model
        outcome = Outcome(queues, gw.narrowed)
        expected.append(outcome)
        assert final["aigw.attempts"] == len(outcome.tried), (plans, final)
        tried = [a["provider"] for a in _log_attempts(gw, final["aigw.request.id"])]
        assert tried == [f"p{c}" for c in outcome.tried], (plans, tried)
        if outcome.who is None:
            assert final["http.response.status_code"] in outcome.alternatives, (plans, final)
        else:
            assert final["aigw.route.key_id"] == f"k{outcome.who}", (plans, final)
    assert expected, "no final ledger record"
    # the upstreams saw the attempts the model says, in order (the refused one never arrives)
    assert UP.order == [c - 1 for o in expected for c in o.tried if c > 0], (plans, UP.order)
    # each attempt carries the SDK's own retry count of the request it is for, as the SDK sent it
    assert UP.retry_counts == [str(j) for j, o in enumerate(expected) for c in o.tried if c > 0], UP.retry_counts
    last = expected[-1]
    for outcome, final in zip(expected[:-1], finals[:-1]):  # the SDK retried only what it retries
        assert outcome.who is None and outcome.retried(final["http.response.status_code"]), (plans, finals)
    assert len(expected) <= retries + 1
    if last.who is not None and last.whole:
        assert error is None and text == _text(last.who - 1), (plans, text, error)
    elif last.who is not None:  # bytes went out: the stream ends with the provider's error, no failover
        assert isinstance(error, (openai.APIError, anthropic.APIError)), (plans, repr(error))
        assert text and _text(last.who - 1).startswith(text), (plans, text)
    else:
        assert isinstance(error, (openai.APIStatusError, anthropic.APIStatusError)), (plans, repr(error))
        assert error.status_code == finals[-1]["http.response.status_code"], (plans, repr(error))
        assert not last.retried(error.status_code) or len(expected) == retries + 1 or (
            error.response.headers.get("x-should-retry") == "false"), (plans, finals)
    # charged once: the store moved by what the ledger's final records say, nothing for an error
    charged = _used(gw) - before
    usage = sum((f["gen_ai.usage.input_tokens"] or 0) + (f["gen_ai.usage.output_tokens"] or 0)
                for f in finals if f["http.response.status_code"] < 400)  # an error's estimate is released
    assert charged == usage, (plans, charged, finals)
    if last.whole:
        assert usage == USAGE["total_tokens"], (plans, finals)
    elif last.who is not None:
        assert usage > 0, (plans, finals)  # what was streamed is charged, never lost
