"""The routed stream's framer (gateway/relay.py ``Framer``) gives, chunk by chunk, what the
first one did (held back until an event is whole; an event over ``MAX_EVENT`` passed on as
it is), while looking only at the new bytes: a long event trickled in small chunks is no
longer searched and copied again with each chunk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.gateway import relay as routing
from aigw_policy.gateway.relay import Framer

SSE = [(b"content-type", b"text/event-stream; charset=utf-8")]
NDJSON = [(b"content-type", b"application/x-ndjson")]


class Reference:
    """The framer as first written: the held bytes and the chunk searched whole each time."""

    def __init__(self, sse: bool) -> None:
        self.ends = (b"\n\n", b"\r\n\r\n") if sse else (b"\n",)
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.pending + chunk
        cut = max((i + len(end) for end in self.ends if (i := data.rfind(end)) >= 0), default=0)
        if len(data) - cut > routing.MAX_EVENT:
            cut = len(data)
        self.pending = data[cut:]
        return data[:cut]


pieces = st.lists(st.sampled_from([b"data: {}", b"\n", b"\r\n", b"\n\n", b"\r\n\r\n", b"event: x", b"\r", b"abc" * 7]),
                  max_size=40)


@settings(max_examples=400)
@given(pieces, st.lists(st.integers(1, 12), min_size=1, max_size=60), st.booleans(), st.sampled_from([8, 64, 1 << 20]))
def test_the_same_pieces_as_before(parts: list[bytes], cuts: list[int], sse: bool, most: int) -> None:
    data = b"".join(parts)
    old = routing.MAX_EVENT
    routing.MAX_EVENT = most  # a small bound: the passthrough of a long event, often
    try:
        framer, ref = Framer(SSE if sse else NDJSON), Reference(sse)
        at, k = 0, 0
        while at < len(data):
            chunk = data[at:at + cuts[k % len(cuts)]]
            at += len(chunk)
            k += 1
            assert framer.feed(chunk) == ref.feed(chunk)
        assert framer.flush() == ref.pending
        assert framer.flush() == b""
    finally:
        routing.MAX_EVENT = old


def test_a_trickled_event_is_held_then_given_whole() -> None:
    framer = Framer(SSE)
    event = b"data: " + b"x" * 5000 + b"\n\n"
    got = [framer.feed(event[i:i + 7]) for i in range(0, len(event), 7)]
    assert b"".join(got) == event and got[-1] == event and not any(got[:-1])
    assert framer.flush() == b""
