"""``serve``'s protocols tell a request that its client went away through
``scope["extensions"]["aigw.client_gone"]`` (:class:`~aigw_policy.gateway.server.ClientGone`),
and :class:`~aigw_policy.gateway.proxy.UpstreamProxy` then cancels the upstream call by that
word instead of a task waiting on ``receive`` (issue #15, the disconnect watch). Checked
against the plain way: the word comes exactly when ``receive`` says ``http.disconnect``, and
a client that leaves mid-stream or before the answer still stops the upstream call."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest

from aigw_policy.gateway import proxy as proxy_module
from aigw_policy.gateway.server import CLIENT_GONE, ClientGone, header_timeout_protocol

from .conftest import WAIT, ServerThread, ledger_records, lifespan, team_used


class Watcher:
    """For each request: waits (at most ``WAIT`` s) for its client to leave, heard both ways
    (a task on ``receive``, the ClientGone), and records which said so; ``/answer`` answers at
    once, ``/late`` watches only after a pause (the client may be gone by then)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool, bool]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        gone: ClientGone = scope["extensions"][CLIENT_GONE]
        if scope["path"] == "/answer":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            self.seen.append((scope["path"], gone.gone, False))
            return
        if scope["path"] == "/late":
            await asyncio.sleep(0.2)
        heard = asyncio.get_running_loop().create_future()
        gone.watch(lambda: heard.done() or heard.set_result(True))
        plain = asyncio.ensure_future(receive())
        await asyncio.wait([plain, heard], timeout=WAIT, return_when=asyncio.ALL_COMPLETED)
        plain.cancel()
        said = plain.done() and not plain.cancelled() and plain.result()["type"] == "http.disconnect"
        self.seen.append((scope["path"], heard.done(), said))
        gone.watch(None)


def _leave_after_request(port: int, raw: bytes, read_first: bool = False) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        if read_first:
            s.recv(65536)


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_client_gone_says_what_receive_says(http: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if http == "httptools":
        pytest.importorskip("httptools")
    else:  # the h11 protocol, as serve uses it when httptools is not installed
        import uvicorn.protocols.http.httptools_impl as impl

        monkeypatch.delattr(impl, "HttpToolsProtocol")
    app = Watcher()
    with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
        _leave_after_request(server.port, b"POST /wait HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi")
        _leave_after_request(server.port, b"GET /late HTTP/1.1\r\nhost: x\r\n\r\n")
        _leave_after_request(server.port, b"GET /answer HTTP/1.1\r\nhost: x\r\n\r\n", read_first=True)
        deadline = time.monotonic() + WAIT
        while len(app.seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    # the client left while /wait and /late waited: both ways heard it (/late after the
    # fact); /answer was answered whole before its client left: never gone
    assert sorted(app.seen) == [("/answer", False, False), ("/late", True, True), ("/wait", True, True)]


@pytest.fixture(scope="module")
def served(stub: Any, gateway_files: dict[str, Any]) -> Any:
    import os

    from aigw_policy.gateway import Gateway, load_keys

    os.environ["AIGW_TEST_UPSTREAM_KEY"] = "upstream-secret"  # as conftest's `gateway`
    app = Gateway(policy=gateway_files["policy"], upstream=stub.url, keys=load_keys(gateway_files["keys"]),
                  store="memory:", ledger=f"jsonl:{gateway_files['ledger']}", timeout=1.0, watch=0)
    with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def no_watch_task(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the task watches made (none when the server gives its word)."""
    made: list[int] = []
    plain = proxy_module._ClientWatch

    def counting(receive: Any) -> Any:
        made.append(1)
        return plain(receive)

    monkeypatch.setattr(proxy_module, "_ClientWatch", counting)
    return made


def test_leaving_mid_stream_stops_the_upstream_by_the_servers_word(served: Any, stub: Any,
                                                                     gateway_files: Any, no_watch_task: list[int]) -> None:
    cancelled = stub.app.cancelled
    body = {"model": "long-1", "stream": True, "messages": [{"role": "user", "content": "tell me a long story"}]}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body,
                      headers={"authorization": "Bearer sk-gw-ops"}, timeout=10) as r:
        rid = r.headers["x-aigw-decision-id"]
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data:")
            if seen == 20:
                break
    deadline = time.monotonic() + WAIT
    while stub.app.cancelled == cancelled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stub.app.cancelled > cancelled  # the gateway stopped reading the upstream
    rec = next(r for r in ledger_records(gateway_files["ledger"], rid) if r["aigw.request.id"] == rid
               and r["aigw.verdict"] != "pending")
    assert rec["aigw.usage.source"] == "estimate"
    assert no_watch_task == []


def test_leaving_before_the_answer_is_a_499_by_the_servers_word(served: Any, gateway_files: Any,
                                                                  no_watch_task: list[int]) -> None:
    before = team_used(served, "slow")
    body = {"model": "slow-3", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{served.url}/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-gw-slow"},
                   timeout=httpx.Timeout(10, read=0.3))
    deadline = time.monotonic() + WAIT
    rec = None
    while rec is None and time.monotonic() < deadline:
        rec = next((r for r in ledger_records(gateway_files["ledger"], timeout=0)
                    if r.get("gen_ai.request.model") == "slow-3" and r.get("aigw.verdict") != "pending"), None)
        time.sleep(0.05)
    assert rec is not None
    assert rec["http.response.status_code"] == 499  # cancelled when the client left, not answered 200 later
    assert team_used(served, "slow") == before
    assert no_watch_task == []
