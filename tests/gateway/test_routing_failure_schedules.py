"""Failover through ``serve`` under random failure schedules (hypothesis): for each of three
candidates, which failure its attempt meets and at which byte (or event) of its answer, and
whether the failure comes while the gateway still holds the answer or only once the client has
read bytes of it.

Whatever the schedule, the client sees either one whole valid answer (one candidate's, from its
first byte to its end) or one provider-shaped error: an error answer in OpenAI's shape, or a
stream of one candidate's events that ends with exactly one error event and no ``[DONE]``. No
attempt is made after the client got bytes of one; the candidates are tried in plan order,
each at most once; the ledger has one final record whose attempt count is what the upstreams
saw, and the decision log lists each attempt; the limit store is charged exactly once, with
the usage the ledger records (nothing when the client got an error answer).

The upstreams are raw sockets run by the schedule; the only waits are the gateway's own
time-outs (``per_request_timeout: 1s``, for the schedules that stall) and the client reading
the bytes of an answer before an upstream sends its failure (an event, never a duration).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.limits.model import Charge

from .conftest import WAIT, policy_gateway, record_of, routed_policy, ledger_lines
from .raw_upstream import Peer, RawUpstream, chunked
from .test_routing_stream_end import _policy as _gemini_policy

KEY = "sk-gw-schedules"
N = 3
USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
BASE = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}


def _event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _text(i: int) -> str:
    return f"p{i}-a p{i}-b p{i}-c"


def _events(i: int) -> list[bytes]:
    """Candidate ``i``'s whole stream, an event each: its role, three pieces of text, the
    finish, the usage, ``[DONE]``."""
    pieces = [{"role": "assistant", "content": ""}] + [{"content": p} for p in (f"p{i}-a ", f"p{i}-b ", f"p{i}-c")]
    base = {**BASE, "id": f"c{i}"}  # whose answer it is, in every chunk
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in pieces]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": USAGE})
    return [_event(c) for c in chunks] + [b"data: [DONE]\n\n"]


def _completion(i: int) -> bytes:
    return json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o", "usage": USAGE,
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": _text(i)}}]}).encode()


def _ant_events(i: int) -> list[bytes]:
    """Candidate ``i``'s whole Anthropic stream: ``message_start``, a text block in three
    deltas, ``message_delta`` (its stop reason and usage), ``message_stop``."""
    start = {"type": "message_start", "message": {
        "id": f"msg_{i}", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
        "stop_reason": None, "usage": {"input_tokens": USAGE["prompt_tokens"], "output_tokens": 1}}}
    events: list[dict[str, Any]] = [start, {"type": "content_block_start", "index": 0,
                                            "content_block": {"type": "text", "text": ""}}]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
               for p in (f"p{i}-a ", f"p{i}-b ", f"p{i}-c")]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": USAGE["completion_tokens"]}}, {"type": "message_stop"}]
    return [b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in events]


def _ant_message(i: int) -> bytes:
    return json.dumps({"id": f"msg_{i}", "type": "message", "role": "assistant", "model": "claude-x",
                       "content": [{"type": "text", "text": _text(i)}], "stop_reason": "end_turn",
                       "usage": {"input_tokens": USAGE["prompt_tokens"],
                                 "output_tokens": USAGE["completion_tokens"]}}).encode()


def _gem_element(i: int, text: str, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    out: dict[str, Any] = {"candidates": [{**candidate, "finishReason": "STOP"} if finish else candidate],
                           "responseId": f"r{i}"}
    if finish:
        out["usageMetadata"] = {"promptTokenCount": USAGE["prompt_tokens"],
                                "candidatesTokenCount": USAGE["completion_tokens"], "totalTokenCount": 12}
    return out


def _gem_events(i: int) -> list[bytes]:
    """Candidate ``i``'s whole Gemini stream without ``alt=sse``: one JSON array, a piece per
    element (``[`` with the first, a comma before each next, ``]`` alone at the end)."""
    elements = [_gem_element(i, p, False) for p in (f"p{i}-a ", f"p{i}-b ")] + [_gem_element(i, f"p{i}-c", True)]
    return ([b"[" + json.dumps(elements[0]).encode()] + [b",\r\n" + json.dumps(e).encode() for e in elements[1:]]
            + [b"]"])


def _gem_whole(i: int) -> bytes:
    whole = _gem_element(i, _text(i), True)
    return json.dumps(whole).encode()


# api -> (its stream's events, its whole answer, the first event a failure may follow (the
# first of content: an opening is read on), the events before its end (a failure's place is
# among them: a stream cut after its finish is whole by the lenient rule, docs/routing.md),
# its error event mid-stream)
FORMATS: dict[str, tuple[Any, Any, int, int, bytes]] = {
    "openai": (_events, _completion, 1, 4,
               b'data: {"error": {"message": "overloaded", "type": "server_error", "code": 503}}\n\n'),
    "anthropic": (_ant_events, _ant_message, 2, 6,
                  b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
                  b'"message": "Overloaded"}}\n\n'),
    "gemini": (_gem_events, _gem_whole, 1, 2,
               b',\r\n{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}]'),
}

# kind -> weight; the stream-only kinds are turned into whole-answer kinds for a JSON request
WHOLE_KINDS = ["ok", "ok", "ok", "reset", "429", "500", "200 error", "html", "cut", "stall"]
STREAM_KINDS = ["short", "cut", "error event", "not json", "stall mid", "error first", "kept alive"]
NEVER_SERVED = ("error first", "kept alive")
"""Streams that fail before their first event of content (an error event after the opening,
keep-alives and then silence): nothing of them can reach the client."""


@st.composite
def failures(draw: Any) -> tuple[str, int, bool]:
    """One attempt's fate: its kind, where (an event index, or a byte fraction in 1/64ths), and
    whether the failure comes only once the client read bytes (``out``)."""
    kind = draw(st.sampled_from(WHOLE_KINDS + STREAM_KINDS))
    return kind, draw(st.integers(1, 63)), draw(st.booleans())


class Schedule:
    """What the upstreams do in the current example, and what they saw."""

    def __init__(self) -> None:
        self.api = "openai"
        self.plan: list[tuple[str, int, bool]] = [("ok", 1, False)] * N
        self.seen = [0] * N
        self.order: list[int] = []
        self.go = threading.Event()  # the client read bytes of the answer

    def reset(self, api: str, plan: list[tuple[str, int, bool]]) -> None:
        self.api, self.plan, self.seen, self.order = api, plan, [0] * N, []
        self.go.clear()


STATE = Schedule()


def _head(status: int, ctype: str, length: int | None, extra: str = "") -> bytes:
    framing = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    return f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\n{framing}\r\n{extra}\r\n".encode()


def _whole(status: int, ctype: str, body: bytes, extra: str = "") -> bytes:
    return _head(status, ctype, len(body), extra) + body


def _script(i: int) -> Any:
    async def script(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            STATE.seen[i] += 1
            STATE.order.append(i)
            kind, at, out = STATE.plan[i]
            stream = b'"stream":true' in request.replace(b" ", b"") or b":streamGenerateContent" in request
            if not await _answer(peer, i, kind, at, out, stream):
                return

    return script


async def _answer(peer: Peer, i: int, kind: str, at: int, out: bool, stream: bool) -> bool:
    """Answer one request as the schedule says; whether the connection may serve another."""
    stream_of, whole_of, lo, finish, error_event = FORMATS[STATE.api]
    gemini = STATE.api == "gemini"
    ctype = "text/event-stream" if stream and not gemini else "application/json"
    crlf = at % 3 == 0 and not gemini
    lines = (lambda e: e.replace(b"\n", b"\r\n")) if crlf else (lambda e: e)  # SSE's CRLF, a third of the time
    good = b"".join(lines(e) for e in stream_of(i)) if stream else whole_of(i)
    if kind == "ok":
        await peer.send(_whole(200, ctype, good))
        return True
    if kind == "reset":
        peer.abort()
        return False
    if kind == "stall":  # no head until the gateway gives up (its per-request time-out)
        await peer.wait_eof()
        return False
    if kind in ("429", "500"):
        body = json.dumps({"error": {"message": f"said {kind}", "type": "x", "code": None}}).encode()
        await peer.send(_whole(int(kind), "application/json", body, "retry-after: 1\r\n" if kind == "429" else ""))
        return True
    if kind == "200 error":
        await peer.send(_whole(200, "application/json", b'{"error": {"message": "down", "code": 503}}'))
        return True
    if kind == "html":
        await peer.send(_whole(200, "text/html", b"<html><body>welcome</body></html>"))
        return True
    if not stream:  # cut (the stream-only kinds are cuts of a JSON answer): its length said, fewer bytes sent
        await peer.send(_head(200, ctype, len(good)) + good[:max(1, len(good) * at // 64)])
        peer.abort()
        return False
    events = [lines(e) for e in stream_of(i)]
    place = lo + at % (finish - lo + 1)  # events [0, place) come before the failure: content, not the finish
    before = b"".join(events[:place])
    await peer.send(_head(200, ctype, None))
    if kind in NEVER_SERVED:
        if gemini:  # blank lines keep an array alive; its first element the error
            opening = b"\r\n\r\n" + (b"[" + error_event.removeprefix(b",\r\n") if kind == "error first" else b"")
        else:
            opening = (b": keep-alive\n\n" + b"".join(events[:lo - 1])
                       + (error_event if kind == "error first" else b""))
        await peer.send(b"%x\r\n%s\r\n" % (len(opening), opening))
        if kind == "kept alive":
            await peer.wait_eof()
            return False
        await peer.send(b"0\r\n\r\n")
        return True
    if kind == "cut" or kind == "short":  # some bytes into the event at `place`
        tail = events[place][: max(1, len(events[place]) * at // 64)] if at % 2 else b""
        first, failing = before, tail
    elif kind == "error event":
        first, failing = before, error_event
    elif kind == "not json":
        first, failing = before, (b",\r\n{not json}" if gemini else b"data: {not json}\n\n") + b"".join(events[place:])
    else:  # stall mid: the first events, then nothing until the gateway gives up
        first, failing = before, b""
    if out:  # the failure only once the client read bytes of the answer
        await peer.send(b"%x\r\n%s\r\n" % (len(first), first))
        await asyncio.to_thread(STATE.go.wait, WAIT)
        if failing:
            await peer.send(b"%x\r\n%s\r\n" % (len(failing), failing))
    else:
        await peer.send(chunked([first + failing])[:-5])  # the pieces, not yet the last chunk
    if kind == "cut":
        peer.abort()
        return False
    if kind == "stall mid":
        await peer.wait_eof()
        return False
    await peer.send(b"0\r\n\r\n")
    return True


CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 100000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""


NARROWED = "          failover_on: [429, 500, 503, timeout, connect]\n"
"""Triggers without ``malformed`` (nor ``5xx``, which takes it, nor 529): a malformed answer,
or Anthropic's overloaded event, ends the route."""
TRIGGERED = {"reset", "stall", "429", "500", "200 error", "kept alive"}
"""The kinds that fail over under :data:`NARROWED` (OpenAI's error events say 503 too)."""


@pytest.fixture(scope="module", params=["anthropic", "gemini", "openai", "openai narrowed"])
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
        config = "          per_request_timeout: 1s\n" + (NARROWED if narrowed else "")
        if api == "gemini":
            route = _gemini_policy([u.url for u in ups], "gemini", "gemini-x").replace(
                "          providers:", config + "          providers:")
        else:
            route = routed_policy([u.url for u in ups], config=config, api=api)
        policy = CAP + route.removeprefix("on_http_request:\n")
        with policy_gateway(policy, KEY) as server:
            server.api = api  # type: ignore[attr-defined]
            server.narrowed = bool(narrowed)  # type: ignore[attr-defined]
            server.log = log  # type: ignore[attr-defined]
            server.ups = ups  # type: ignore[attr-defined]
            yield server
    finally:
        for up in ups:
            up.__exit__(None, None, None)
        decisions.removeHandler(handler)


def _used(gw: Any) -> float:
    engine = gw.app.holder.current
    spec = engine.compiled.limits["tokens"][1].limit.spec
    return engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used


def _log_line(gw: Any, rid: str) -> dict[str, Any]:
    until = time.monotonic() + WAIT
    while True:
        for line in gw.log.getvalue().splitlines():
            found = json.loads(line)
            if found.get("aigw.request.id") == rid:
                return found
        assert time.monotonic() < until, f"no decision log line for {rid}"
        time.sleep(0.02)


def _finals(gw: Any, rid: str) -> list[dict[str, Any]]:
    return [r for r in ledger_lines(gw.ledger)
            if r["aigw.request.id"] == rid and r["aigw.verdict"] != "pending"]


def _request(gw: Any, stream: bool) -> tuple[int, bytes, str]:
    """The client's request: its status, the bytes it got (up to where the gateway closed the
    connection) and the decision id."""
    messages = [{"role": "user", "content": "hi"}]
    path, body = (("/v1/chat/completions", {"model": "gpt-4o", "messages": messages}) if gw.api == "openai" else
                  ("/v1/messages", {"model": "claude-x", "max_tokens": 50, "messages": messages}))
    body = {**body, "stream": stream}
    if gw.api == "gemini":
        path = "/v1beta/models/gemini-x:" + ("streamGenerateContent" if stream else "generateContent")
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    content = bytearray()
    with httpx.stream("POST", gw.url + path, json=body, timeout=WAIT,
                      headers={"authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}) as got:
        try:
            for chunk in got.iter_raw():
                content += chunk
                STATE.go.set()
        except httpx.RemoteProtocolError:  # closed without the body's end: after an error event (checked)
            pass
        return got.status_code, bytes(content), got.headers["x-aigw-decision-id"]


def _served_by(api: str, status: int, content: bytes, stream: bool) -> tuple[int | None, bool]:
    """Which candidate's answer the client got (None: an error answer) and whether it is whole;
    fails when it is neither one whole valid answer nor one provider-shaped error."""
    if status != 200:
        answer = json.loads(content)
        error = answer["error"]
        assert isinstance(error["message"], str) and error["message"], content
        assert api != "anthropic" or answer["type"] == "error" and isinstance(error["type"], str), content
        assert api != "gemini" or error["code"] == status and isinstance(error["status"], str), content
        assert status in (429, 502, 503, 504), (status, content)
        return None, False
    content = content.replace(b"\r\n", b"\n")  # (a third of the upstreams end their lines so)
    if api == "anthropic":
        return _anthropic(content, stream)
    if api == "gemini":
        return _gemini(content, stream)
    if not stream:
        message = json.loads(content)["choices"][0]["message"]["content"]
        who = int(message[1])
        assert message == _text(who), content
        return who, True
    assert content.endswith(b"\n\n"), content  # whole events only
    datas = [e.removeprefix(b"data: ") for e in content.split(b"\n\n") if e.strip()]
    assert all(not e.startswith(b":") for e in datas), content
    errors = [d for d in datas if d.startswith(b'{"error"')]
    chunks = [json.loads(d) for d in datas if d.startswith(b"{") and not d.startswith(b'{"error"')]
    assert len({c["id"] for c in chunks}) <= 1, content  # one candidate's answer, never two mixed
    who = int(chunks[0]["id"][1:]) if chunks else None
    text = "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk["choices"])
    if errors:  # one provider-shaped error, at the end, after one candidate's events
        assert len(errors) == 1 and datas[-1] == errors[0] and b"[DONE]" not in datas, content
        assert isinstance(json.loads(errors[0])["error"]["message"], str)
        assert who is not None and _text(who).startswith(text), content
        return who, False
    assert datas[-1] == b"[DONE]" and who is not None and text == _text(who), content
    return who, True


def _gemini(content: bytes, stream: bool) -> tuple[int | None, bool]:
    answer = json.loads(content)  # a stream too: one JSON array, whole, whatever happened
    elements = answer if stream else [answer]
    assert isinstance(elements, list) and elements, content
    errors = [e for e in elements if "error" in e]
    chunks = [e for e in elements if "error" not in e]
    assert len({c["responseId"] for c in chunks}) <= 1, content
    who = int(chunks[0]["responseId"][1:]) if chunks else None
    text = "".join(p["text"] for c in chunks for cand in c["candidates"] for p in cand["content"]["parts"])
    if errors:
        assert stream and len(errors) == 1 and elements[-1] is errors[0], content
        assert isinstance(errors[0]["error"]["message"], str) and who is not None and _text(who).startswith(text)
        return who, False
    assert who is not None and text == _text(who) and chunks[-1]["candidates"][0]["finishReason"] == "STOP", content
    return who, True


def _anthropic(content: bytes, stream: bool) -> tuple[int | None, bool]:
    if not stream:
        message = json.loads(content)
        who = int(message["id"].removeprefix("msg_"))
        assert message["content"][0]["text"] == _text(who), content
        return who, True
    assert content.endswith(b"\n\n"), content  # whole events only
    events = []
    for raw in (e for e in content.split(b"\n\n") if e.strip()):
        name, data = raw.split(b"\n")
        assert name.startswith(b"event: ") and data.startswith(b"data: "), content
        events.append(json.loads(data.removeprefix(b"data: ")))
    assert events[0]["type"] == "message_start", content  # one message: one start
    assert [e["type"] for e in events].count("message_start") == 1, content
    who = int(events[0]["message"]["id"].removeprefix("msg_"))
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    errors = [e for e in events if e["type"] == "error"]
    if errors:
        assert len(errors) == 1 and events[-1] is errors[0] and events[-2]["type"] != "message_stop", content
        assert isinstance(errors[0]["error"]["message"], str) and _text(who).startswith(text), content
        return who, False
    assert events[-1]["type"] == "message_stop" and text == _text(who), content
    return who, True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.lists(failures(), min_size=N, max_size=N), st.booleans())
def test_any_failure_schedule_ends_in_one_whole_answer_or_one_error_charged_once(
        gw: Any, plan: list[tuple[str, int, bool]], stream: bool) -> None:
    STATE.reset(gw.api, plan)
    gw.app.cooldowns.clear()  # each schedule is one request's: a 429 of an earlier example puts no key last
    before = _used(gw)
    status, content, rid = _request(gw, stream)
    who, whole = _served_by(gw.api, status, content, stream)
    # tried in plan order, each once; none after the one whose bytes the client got (nor after
    # one whose failure is no trigger)
    last = len(STATE.order) - 1 if who is None else who
    assert STATE.order == list(range(last + 1)), (STATE.order, plan, content)
    assert who is not None or gw.narrowed or last == N - 1, (plan, content)
    if who is not None:
        kind, _, out = plan[who]
        assert whole == (kind == "ok"), (plan, content)  # a failure is never served as a whole answer
        assert not (stream and kind in NEVER_SERVED and not gw.narrowed), (plan, content)
    # every candidate before it failed; the first one that served whole (or failed only once
    # bytes were out) is never passed over, nor one whose failure is no trigger
    passed_over = plan[:last]
    assert all(k != "ok" for k, _, _ in passed_over), (plan, content)
    assert not any(stream and k not in NEVER_SERVED and (out and k in STREAM_KINDS or k == "stall mid")
                   for k, _, out in passed_over), (plan, content)
    if gw.narrowed:  # (OpenAI's error events say 503: a trigger)
        assert all(k in TRIGGERED or stream and k in ("error first", "error event") for k, _, _ in passed_over), (
            plan, content)
    finals = _finals(gw, rid)
    assert len(finals) == 1, finals
    rec = finals[0]
    assert rec["aigw.attempts"] == last + 1
    attempts = _log_line(gw, rid)["aigw.route.attempts"]
    assert [a["provider"] for a in attempts] == [f"p{i}" for i in range(last + 1)]
    charged = _used(gw) - before
    if who is None:
        assert charged == 0, (plan, charged)
        return
    in_, out_ = rec["gen_ai.usage.input_tokens"] or 0, rec["gen_ai.usage.output_tokens"] or 0
    assert charged == in_ + out_, (plan, rec)  # once, as the ledger says
    if whole:
        assert (in_, out_) == (USAGE["prompt_tokens"], USAGE["completion_tokens"])
