"""Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection and are never
forwarded, in either direction; nor is any field that a ``Connection`` header names.

>>> sorted(hop_by_hop([(b"Connection", b"close, X-Secret")]) - HOP_BY_HOP)
['x-secret']
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["HOP_BY_HOP", "hop_by_hop"]

HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"})
"""The fixed set (with ``Proxy-Connection``, which some clients still send)."""


def hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[str]:
    """The lower-cased names not to forward from ``headers`` (an ASGI header list):
    :data:`HOP_BY_HOP` itself, no copy, when no ``Connection`` header names more (most
    requests and answers; three calls per exchange)."""
    names: set[str] | None = None
    for k, v in headers:
        if k.lower() == b"connection":
            if names is None:
                names = set(HOP_BY_HOP)
            names.update(t.strip().lower() for t in v.decode("latin-1").split(",") if t.strip())
    return HOP_BY_HOP if names is None else frozenset(names)
