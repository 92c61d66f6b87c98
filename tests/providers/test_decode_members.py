"""serve25: a compressed answer is decoded to its end, or refused; never cut in silence.

A gzip body may be several members one after the other (RFC 1952 §2.2: ``gzip -c a b``, a
server that compresses each write). The decoders stopped at the end of the first member and
dropped the rest without a word: a two-member JSON answer was served (and read for usage) cut
after its first member, as if whole. Bytes after the end of a deflate stream, or after a gzip
member that are not another member, were dropped the same way. Now every member is decoded in
turn, NUL padding is taken, and anything else after the end is a corrupt body (a failed
attempt, a 502), whether it comes in one piece or split anywhere.
"""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers.encoding import StreamDecoder, decode_body
from aigw_policy.providers.errors import ProviderError

BODY = b'{"id":"x","usage":{"prompt_tokens":7,"completion_tokens":9}}'
ROWS = [
    ("gzip", gzip.compress(BODY[:20]) + gzip.compress(BODY[20:]), BODY),
    ("gzip", b"".join(gzip.compress(BODY[i:i + 5]) for i in range(0, len(BODY), 5)), BODY),
    ("gzip", gzip.compress(BODY) + gzip.compress(b""), BODY),
    ("gzip", gzip.compress(BODY) + b"\0\0\0\0", BODY),  # padding, as gzip(1) takes it
    ("gzip", gzip.compress(BODY) + b"GARBAGE", None),
    ("gzip", gzip.compress(BODY) + b"\x1f\x8bzzzzzzzzzz", None),
    ("gzip", gzip.compress(BODY) + gzip.compress(BODY)[:12], None),  # a second member cut short
    ("deflate", zlib.compress(BODY) + b"GARBAGE", None),
    ("deflate", zlib.compress(BODY) + zlib.compress(BODY), None),  # deflate has no members
    ("deflate", zlib.compress(BODY), BODY),
]


def _stream(coding: str, data: bytes, piece: int) -> bytes:
    d = StreamDecoder(coding)
    return b"".join(d.decode(data[i:i + piece]) for i in range(0, len(data), piece)) + d.flush()


@pytest.mark.parametrize(("coding", "data", "expected"), ROWS)
@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_a_body_is_decoded_to_its_end_or_refused(coding: str, data: bytes, expected: bytes | None,
                                                  piece: int) -> None:
    if expected is None:
        with pytest.raises(ProviderError):
            _stream(coding, data, piece)
        with pytest.raises(ProviderError):
            decode_body(data, coding)
    else:
        assert _stream(coding, data, piece) == expected
        assert decode_body(data, coding) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=6), st.integers(1, 200))
def test_members_decode_to_their_concatenation(parts: list[bytes], piece: int) -> None:
    data = b"".join(gzip.compress(p) for p in parts)
    assert _stream("gzip", data, piece) == b"".join(parts)
    assert decode_body(data, "gzip") == b"".join(parts)


def test_members_count_against_one_limit() -> None:
    """Many small members are one body: their sum is bounded, not each one."""
    member = gzip.compress(b"\0" * 4000)
    d = StreamDecoder("gzip", limit=10_000)
    with pytest.raises(ProviderError, match="larger than"):
        for _ in range(4):
            d.decode(member)
