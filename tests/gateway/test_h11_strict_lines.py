r"""gateway/h11_lines.py's StrictLines rests on h11's private API (``h11._receivebuffer.ReceiveBuffer``,
``Connection._receive_buffer``, the buffer's ``maybe_extract_lines`` / ``maybe_extract_next_line`` /
``_extract``). These rows pin it on a bare ``h11.Connection`` (no server): each refusal comes from
StrictLines (its own message), a plain head and a chunked body still pass, and an h11 that moved
the buffer or reads heads by another call fails loudly (``strict`` and the import-time self-check
raise) instead of serving without the refusals (review30)."""

from __future__ import annotations

from typing import Any

import h11
import pytest
from h11._receivebuffer import ReceiveBuffer

from aigw_policy.gateway import h11_lines
from aigw_policy.gateway.h11_lines import BARE_LF, CHUNK_SIZE, CONTROL, FOLDED, LENGTHS, StrictLines, strict

HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
CHUNKED = HEAD + b"transfer-encoding: chunked\r\n\r\n"
ROWS = {  # name: (bytes, the message StrictLines refuses them with)
    "bare-lf": (HEAD + b"x-a: 1\ncontent-length: 0\r\n\r\n", BARE_LF),
    "bare-lf-first": (b"\nGET / HTTP/1.1\r\nhost: gw\r\n\r\n", BARE_LF),
    "fold": (HEAD + b"x-a: 1\r\n 2\r\ncontent-length: 0\r\n\r\n", FOLDED),
    "control": (HEAD + b"x-a: 1\x01\r\ncontent-length: 0\r\n\r\n", CONTROL),
    "two-lengths": (HEAD + b"content-length: 0\r\nContent-Length: 0\r\n\r\n", LENGTHS),
    "length-list": (HEAD + b"content-length: 0, 0\r\n\r\n", LENGTHS),
    "chunk-size-space": (CHUNKED + b"1 \r\na\r\n0\r\n\r\n", CHUNK_SIZE),
    "trailer-fold": (CHUNKED + b"1\r\na\r\n0\r\nx-t: a\r\n b\r\n\r\n", FOLDED),
}


def _events(data: bytes) -> list[Any]:
    conn = h11.Connection(h11.SERVER)
    strict(conn)
    conn.receive_data(data)
    out = []
    while (event := conn.next_event()) is not h11.NEED_DATA and not isinstance(event, h11.EndOfMessage):
        out.append(event)
    return [*out, event]


@pytest.mark.parametrize("name", list(ROWS))
def test_each_refusal_is_strict_lines_own(name: str) -> None:
    data, message = ROWS[name]
    with pytest.raises(h11.RemoteProtocolError) as caught:
        _events(data)
    assert str(caught.value) == message  # StrictLines's text: not h11 refusing it by itself


def test_a_plain_head_and_a_chunked_body_pass() -> None:
    assert isinstance(_events(HEAD + b"x-a: a\tb\r\ncontent-length: 1\r\n\r\nz")[0], h11.Request)
    events = _events(CHUNKED + b"1;a=b\r\nz\r\n0\r\nx-t: 1\r\n\r\n")
    assert isinstance(events[0], h11.Request) and isinstance(events[-1], h11.EndOfMessage)
    assert bytes(events[1].data) == b"z"


def test_h11_keeps_the_buffer_strict_replaces() -> None:
    conn = h11.Connection(h11.SERVER)
    assert type(conn._receive_buffer) is ReceiveBuffer
    strict(conn)
    assert type(conn._receive_buffer) is StrictLines


def test_an_h11_that_moved_its_buffer_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    class Moved:  # an h11 whose Connection keeps its buffer under another name
        pass

    with pytest.raises(RuntimeError, match="_receive_buffer"):
        strict(Moved())  # type: ignore[arg-type]
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET")
    with pytest.raises(RuntimeError):
        strict(conn)  # (bytes already read: replacing the buffer would lose them)
    # an h11 that reads a head by a call StrictLines does not override: the self-check refuses it
    monkeypatch.setattr(StrictLines, "maybe_extract_lines", ReceiveBuffer.maybe_extract_lines)
    with pytest.raises(RuntimeError, match="StrictLines"):
        h11_lines._self_check()
