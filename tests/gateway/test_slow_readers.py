"""A client that stops reading its answer (a slow-read attack, or a client stuck) is cut once
its connection's write buffer has been full for ``write_timeout`` seconds: the request ends as
one whose client left (the upstream stream cancelled, the usage settled once, in the store
and the ledger: memory and Redis). Before, nothing bounded it: the gateway waited on the
client forever, holding the upstream stream and one of the upstream client's 512 connections;
a few hundred such clients starved every other request. A client that keeps reading, however
slowly, is never cut: the timer runs only while the buffer is full."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import WAIT, ServerThread, ledger_records, lifespan

KEY = "sk-gw-slow-reader"
EVENT = b"data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                                 "choices": [{"index": 0, "delta": {"content": "x" * 1000},
                                              "finish_reason": None}]}).encode() + b"\n\n"


class Firehose:
    """An upstream streaming ``events`` events as fast as it may; ``left`` is set when the
    gateway closes the stream before its end."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.left = threading.Event()
        self.finished = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        gone = asyncio.ensure_future(receive())  # http.disconnect once the gateway lets go
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for _ in range(self.events):
            if gone.done():
                self.left.set()
                return
            await send({"type": "http.response.body", "body": EVENT, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
        self.finished.set()


CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 100000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""


@pytest.fixture(params=[("httptools", "memory"), ("h11", "memory"), ("httptools", "redis")],
                ids=["httptools", "h11", "httptools-redis"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Firehose, Path]]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    from limits.conftest import fresh_redis  # tests/ is on the path (as for standalone_redis)

    parser, kind = request.param
    store: Any = fresh_redis() if kind == "redis" else "memory:"
    up = Firehose(events=200_000)  # 200 MB: far more than any socket buffer holds
    (tmp_path / "p.yaml").write_text(CAP)
    (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-slow}}\n")
    with ServerThread(up) as upstream:
        app = Gateway(policy=tmp_path / "p.yaml", upstream=upstream.url, keys=load_keys(tmp_path / "keys.yaml"),
                      ledger=f"jsonl:{tmp_path / 'usage.jsonl'}", store=store, watch=0)
        make = header_timeout_protocol if parser == "httptools" else _h11_protocol
        with ServerThread(app, http=make(10.0, app.server_event, 0.5)) as gw:
            gw.app = app  # type: ignore[attr-defined]
            yield gw, up, tmp_path / "usage.jsonl"


def test_a_client_that_reads_nothing_is_cut_and_its_upstream_let_go(served: tuple[Any, Firehose, Path]) -> None:
    gw, up, ledger = served
    body = json.dumps({"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
        s.connect(("127.0.0.1", gw.port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
                  + b"\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
        # and nothing is read: the gateway lets the upstream go, as for a client that left
        assert up.left.wait(WAIT), "the gateway still holds the upstream stream for a client that reads nothing"
    assert not up.finished.is_set()
    deadline = time.monotonic() + WAIT
    while not (final := [r for r in ledger_records(ledger, timeout=0) if r["aigw.verdict"] != "pending"]):
        assert time.monotonic() < deadline, "the request was never settled"
        time.sleep(0.05)
    [record] = final
    # the store holds what was settled, nothing reserved: the record's tokens, once
    from aigw_policy.limits.model import Charge

    engine = gw.app.holder.current
    spec = engine.compiled.limits["tokens"][1].limit.spec
    while (used := engine.store.check([Charge(spec, "k-slow", 0)], time.time())[0].used) != record[
            "aigw.usage.total_tokens"]:
        assert time.monotonic() < deadline, f"the store holds {used}, the ledger {record['aigw.usage.total_tokens']}"
        time.sleep(0.05)


def test_a_client_that_reads_slowly_is_served_whole(tmp_path: Path) -> None:
    """Reading a little at a time (each pause shorter than write_timeout) is no slow-read attack."""
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    up = Firehose(events=3000)  # 3 MB
    (tmp_path / "p.aigw").write_text('policy "s" { default allow }')
    (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-slow}}\n")
    with ServerThread(up) as upstream:
        app = Gateway(policy=tmp_path / "p.aigw", upstream=upstream.url, keys=load_keys(tmp_path / "keys.yaml"),
                      watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0, None, 2.0)) as gw:
            body = json.dumps({"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]})
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", gw.port))
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nconnection: close\r\nauthorization: "
                          b"Bearer " + KEY.encode() + b"\r\ncontent-type: application/json\r\ncontent-length: %d"
                          b"\r\n\r\n" % len(body) + body.encode())
                got = 0
                s.settimeout(WAIT)
                while chunk := s.recv(65536):
                    got += len(chunk)
                    time.sleep(0.001)
    assert up.finished.is_set() and got > 3000 * len(EVENT)
