"""serve23: the open client connections of ``serve`` are capped (``--max-connections``).

Nothing capped them: ~20,000 idle keep-alive connections (this machine's ``ulimit -n``) used
every file descriptor and ``accept`` failed for everyone else while they lasted. Past the cap,
a new connection takes the place of the longest-idle one (opened or kept alive, no byte of a
request read); with every connection busy, it is answered 503 ``too_many_connections`` with
``Retry-After`` and closed, and no request in progress is ever cut. Counted, not timed: each
test fills the cap with connections in a known state and counts what happens to the next one.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from aigw_policy.gateway import conn_cap
from aigw_policy.gateway.conn_cap import RESERVED_FILES, fitting_cap

from .conftest import WAIT, ServerThread

CAP = 4
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % len(CHAT))


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    d = tmp_path_factory.mktemp("cap")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    app = Gateway(policy=d / "policy.yaml", upstream=stub.url, watch=0)
    protocol = (header_timeout_protocol(30.0, max_connections=CAP) if request.param == "httptools"
                else _h11_protocol(30.0, cap=CAP))
    with ServerThread(app, http=protocol, timeout_keep_alive=60) as server:
        yield server


def _open(server: Any) -> int:
    """How many client connections the server holds now."""
    return len(server.server.server_state.connections)


def _until(server: Any, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while _open(server) != count:
        assert time.monotonic() < deadline, f"{_open(server)} connections open, not {count}"
        time.sleep(0.01)


def _connect(server: Any) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(WAIT)
    return s


def _answer(s: socket.socket) -> bytes:
    """One whole answer (its head and its content-length's body), or what came before EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def _served(s: socket.socket) -> bytes:
    s.sendall(HEAD + CHAT)
    return _answer(s)


def test_a_connection_past_the_cap_takes_the_longest_idle_ones_place(gw: Any) -> None:
    _until(gw, 0)
    idle = [_connect(gw) for _ in range(CAP)]
    _until(gw, CAP)
    for s in idle[2:]:  # two fresh, two kept alive after an answer: each idles
        assert _served(s).startswith(b"HTTP/1.1 200")
    newcomer = _connect(gw)
    assert _served(newcomer).startswith(b"HTTP/1.1 200")
    assert _closed(idle[0])  # the longest idle
    for s in idle[1:]:  # the rest still serve
        assert _served(s).startswith(b"HTTP/1.1 200")
    assert _open(gw) == CAP
    for s in [*idle, newcomer]:
        s.close()


def test_with_every_connection_busy_the_next_is_refused_and_none_is_cut(gw: Any) -> None:
    _until(gw, 0)
    busy = [_connect(gw) for _ in range(CAP)]
    for s in busy:
        s.sendall(HEAD + CHAT[:10])  # a request in progress: its body not whole yet
    _until(gw, CAP)
    time.sleep(0.05)  # (each head read: a connection is busy from its first byte anyway)
    late = _connect(gw)
    answer = _answer(late)
    head = answer.split(b"\r\n\r\n")[0].lower()
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    assert b"retry-after: 1" in head and b"connection: close" in head
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "too_many_connections"
    assert _closed(late)
    for s in busy:  # every request in progress ends as it would have
        s.sendall(CHAT[10:])
        assert _answer(s).startswith(b"HTTP/1.1 200")
    again = _connect(gw)  # now they idle: one gives way
    assert _served(again).startswith(b"HTTP/1.1 200")
    for s in [*busy, late, again]:
        s.close()


ROWS = [
    # (soft, hard, wanted) -> (cap, soft after, lowered)
    ("room enough", (20_000, 20_000), 10_000, (10_000, 20_000, False)),
    ("soft raised to what is needed", (1024, 1_048_576), 10_000, (10_000, 10_000 + RESERVED_FILES, False)),
    ("soft raised to the hard limit, short", (1024, 4096), 10_000, (4096 - RESERVED_FILES, 4096, True)),
    ("no room to raise", (1024, 1024), 10_000, (512, 1024, True)),
    ("a small cap asked", (1024, 1024), 8, (8, 1024, False)),
]


@pytest.mark.parametrize(("limits", "wanted", "outcome"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_cap_fits_the_open_file_limit(monkeypatch: pytest.MonkeyPatch, limits: tuple[int, int], wanted: int,
                                          outcome: tuple[int, int, bool]) -> None:
    now = list(limits)

    def setrlimit(which: int, values: tuple[int, int]) -> None:
        if values[0] > now[1]:
            raise ValueError("not allowed to raise maximum limit")
        now[:] = values

    monkeypatch.setattr(conn_cap.resource, "getrlimit", lambda which: tuple(now))
    monkeypatch.setattr(conn_cap.resource, "setrlimit", setrlimit)
    cap, note = fitting_cap(wanted)
    assert (cap, now[0], note is not None) == outcome
    if note is not None:
        assert f"lowered to {cap}" in note
