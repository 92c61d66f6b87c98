"""The base protocol's framing under what a broken client (or a broken pipe) sends: every
malformed header block, a wrong Content-Length, a body cut short, garbage between messages, a
charset, a message split across reads. Each is answered or skipped, and the next message is
always served; a flood is held in bounded memory (``Framer`` keeps at most a body's bytes)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.lsp.framing import MAX_BODY, MAX_LINE, Body, Framer, Skipped

from .client import LspClient


def frame(body: bytes, *headers: bytes) -> bytes:
    return b"".join(h + b"\r\n" for h in headers or (b"Content-Length: %d" % len(body),)) + b"\r\n" + body


_ids = itertools.count(10_000)
BODY = b'{"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {"textDocument": {"uri": "file:///x.aigw"}, "position": {"line": 0, "character": 0}}}'
L = len(BODY)

# (name, bytes sent before a good request). Each must leave the next message served.
BROKEN: list[tuple[str, bytes]] = [
    ("non-numeric Content-Length", frame(BODY, b"Content-Length: abc")),
    ("negative Content-Length", frame(BODY, b"Content-Length: -%d" % L)),
    ("missing Content-Length", frame(BODY, b"Content-Type: application/vscode-jsonrpc; charset=utf-8")),
    ("empty Content-Length", frame(BODY, b"Content-Length:")),
    ("Content-Length with a fraction", frame(BODY, b"Content-Length: %d.0" % L)),
    ("two different Content-Lengths", frame(BODY, b"Content-Length: %d" % L, b"Content-Length: 3")),
    ("Content-Length too small", frame(BODY, b"Content-Length: %d" % (L - 10))),
    ("Content-Length too large (body cut short)", frame(BODY, b"Content-Length: %d" % (L + 500))),
    ("Content-Length larger than any body", frame(BODY, b"Content-Length: 99999999999999")),
    ("Content-Length zero", frame(BODY, b"Content-Length: 0")),
    ("a header line that is no header", frame(BODY, b"Content-Length: %d" % L, b"this is no header")),
    ("garbage between messages", b"garbage\r\n\x00\xff{}\r\n"),
    ("garbage without a line break", b"}}}garbage"),
    ("a header line longer than any", b"X" * (3 * MAX_LINE)),
    ("a charset no one has", frame(BODY, b"Content-Length: %d" % L, b"Content-Type: application/vscode-jsonrpc; charset=klingon")),
    ("a body that is no JSON", frame(b"{" * 50)),
    ("a body nested without end", frame(b"[" * 200_000)),
    ("a body that is not utf-8", frame(b'{"jsonrpc": "2.0", "method": "\xff\xfe"}')),
    ("blank lines between messages", b"\r\n\r\n\n"),
]


@pytest.mark.parametrize("sent", [b[1] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_after_a_broken_message_the_next_is_served(server: LspClient, sent: bytes) -> None:
    server.send_bytes(sent)
    id = next(_ids)
    body = json.dumps({"jsonrpc": "2.0", "id": id, "method": "shutdown-not", "params": {}}).encode()
    server.send_bytes(frame(body))
    with pytest.raises(Exception) as error:  # an unknown method: answered -32601
        server.answer(id)
    assert getattr(error.value, "code", None) == -32601


# Header forms a client may rightly send: each message is answered.
GOOD: list[tuple[str, list[bytes]]] = [
    ("lower-case name", [b"content-length: %d"]),
    ("no space after the colon", [b"Content-Length:%d"]),
    ("spaces around the value", [b"Content-Length:   %d  "]),
    ("Content-Type first", [b"Content-Type: application/vscode-jsonrpc; charset=utf-8", b"Content-Length: %d"]),
    ("charset utf8 (the old spelling)", [b"Content-Length: %d", b"Content-Type: application/vscode-jsonrpc; charset=utf8"]),
    ("charset in quotes, upper case", [b"Content-Length: %d", b'Content-Type: application/vscode-jsonrpc; charset="UTF-8"']),
]


@pytest.mark.parametrize("headers", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_a_well_formed_header_block_is_answered(server: LspClient, headers: list[bytes]) -> None:
    id = next(_ids)
    body = json.dumps({"jsonrpc": "2.0", "id": id, "method": "textDocument/documentSymbol",
                       "params": {"textDocument": {"uri": "file:///tmp/never.aigw"}}}).encode()
    server.send_bytes(frame(body, *[h % len(body) if b"%d" in h else h for h in headers]))
    assert server.answer(id) == []


def test_a_message_split_byte_by_byte_is_answered(server: LspClient) -> None:
    id = next(_ids)
    body = json.dumps({"jsonrpc": "2.0", "id": id, "method": "textDocument/documentSymbol",
                       "params": {"textDocument": {"uri": "file:///tmp/é.aigw"}}}, ensure_ascii=False).encode()
    for byte in frame(body):
        server.send_bytes(bytes([byte]))
    assert server.answer(id) == []


# -- the framer alone: properties -------------------------------------------------------------
_bodies = st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b'{"b": "%s"}' % b.hex().encode()), min_size=1, max_size=6)
_garbage = st.binary(max_size=60).filter(lambda b: b"\n" not in b or b":" not in b)


def _feed(stream: bytes, cuts: list[int]) -> list[Body | Skipped]:
    framer, found, last = Framer(), [], 0
    for cut in sorted(set(c % (len(stream) + 1) for c in cuts)) + [len(stream)]:
        found += framer.feed(stream[last:cut])
        last = cut
    return found


@settings(max_examples=150, deadline=None)
@given(_bodies, st.lists(st.integers(min_value=0), max_size=12))
def test_any_split_of_good_messages_gives_every_body(bodies: list[bytes], cuts: list[int]) -> None:
    found = _feed(b"".join(frame(b) for b in bodies), cuts)
    assert [f.data for f in found if isinstance(f, Body)] == bodies
    assert not [f for f in found if isinstance(f, Skipped)]


@settings(max_examples=150, deadline=None)
@given(_bodies, st.lists(_garbage, min_size=1, max_size=6), st.lists(st.integers(min_value=0), max_size=12))
def test_garbage_before_a_message_costs_no_good_one(bodies: list[bytes], garbage: list[bytes], cuts: list[int]) -> None:
    """Garbage (and frames whose body is cut short) before each good message, each written
    whole, the good ones split anywhere: every good message still comes out. (A cut body that
    is complete when a read ends inside the next header is read as it is: it has its bytes.)"""
    junk = [g if i % 2 else frame(g, b"Content-Length: %d" % (len(g) + 7)) for i, g in enumerate(garbage)]
    framer, found = Framer(), []
    for j, body in zip(itertools.cycle(junk), bodies):
        found += framer.feed(j)
        good, last = frame(body), 0
        for cut in sorted(set(c % (len(good) + 1) for c in cuts)) + [len(good)]:
            found += framer.feed(good[last:cut])
            last = cut
    assert [f.data for f in found if isinstance(f, Body) and f.data in bodies] == bodies


def test_a_flood_is_held_in_bounded_memory() -> None:
    framer, most = Framer(), 0
    chunk = b"x" * 65536
    for _ in range(200):  # 13 MB of a header line that never ends
        framer.feed(chunk)
        most = max(most, len(framer.buffer))
    assert most <= MAX_LINE + len(chunk)
    framer.feed(b"\r\n" + frame(b"{}", b"Content-Length: %d" % (MAX_BODY + 1)))
    for _ in range(200):  # a body larger than any read: skipped as it streams by
        framer.feed(chunk)
        most = max(most, len(framer.buffer))
    assert most <= MAX_LINE + len(chunk)
    assert [f.data for f in framer.feed(frame(b"{}")) if isinstance(f, Body)] == [b"{}"]
