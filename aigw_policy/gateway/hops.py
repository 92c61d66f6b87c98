"""Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection and are never
forwarded, in either direction; nor is any field that a ``Connection`` header names.

>>> sorted(hop_by_hop([(b"Connection", b"close, X-Secret")]) - HOP_BY_HOP)  # (a field named `close` too)
['close', 'x-secret']
"""

from __future__ import annotations

from collections.abc import Iterable


__all__ = ["CLIENT_SAYS", "HOP_BY_HOP", "SAYS_PREFIXES", "hop_by_hop", "union_once"]

HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"})
"""The fixed set (with ``Proxy-Connection``, which some clients still send)."""


CLIENT_SAYS = frozenset({
    # who the client is, where it connected to, by what scheme: the address the policy decided
    # on is the gateway's to state (the socket's, or one a proxy --forwarded-allow-ips names gave)
    "forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip", "fastly-client-ip",
    "x-cluster-client-ip", "x-original-forwarded-for", "client-ip", "x-proxyuser-ip", "via",
    # of this connection only: the body is whole before it goes, and the upstream hop is HTTP/1.1
    "expect", "http2-settings",
    # another method or target than the request line's, which some servers act on (Google's APIs,
    # ASP.NET and Express take X-HTTP-Method-Override; Symfony took X-Original-URL / X-Rewrite-URL):
    # the upstream would serve a request the policy never judged (a `GET`, not charged, as a `POST`)
    "x-http-method-override", "x-http-method", "x-method-override", "x-original-url", "x-rewrite-url",
})
"""Request fields of the client's never forwarded upstream besides the hop-by-hop ones, with
every ``x-forwarded-*`` and ``proxy-*`` field (:data:`SAYS_PREFIXES`). The policy's own
``add-headers`` may still send any of them: the operator's word, not the client's."""


SAYS_PREFIXES = ("x-forwarded-", "proxy-")
"""The prefixes of the request fields of the client's never forwarded besides :data:`CLIENT_SAYS`."""


def hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[str]:
    """The lower-cased names not to forward from ``headers`` (an ASGI header list):
    :data:`HOP_BY_HOP` itself, no copy, when no ``Connection`` header names more; the set of
    a lone short ``Connection`` value remembered (``keep-alive``, which httpx and the SDKs
    built on it send with every request, or ``close``: one set made per value, not per call,
    three calls per exchange)."""
    values: tuple[bytes, ...] | None = None
    for k, v in headers:
        if k.lower() == b"connection":
            values = (v,) if values is None else (*values, v)
    if values is None:
        return HOP_BY_HOP
    found = _NAMED.get(values)
    if found is None:
        names = set(HOP_BY_HOP)
        for v in values:
            names.update(t.strip().lower() for t in v.decode("latin-1").split(",") if t.strip())
        found = frozenset(names)
        if len(values) == 1 and len(values[0]) <= _NAMED_LEN:
            if len(_NAMED) >= _NAMED_MAX:
                _NAMED.clear()
            _NAMED[values] = found
    return found


_NAMED: dict[tuple[bytes, ...], frozenset[str]] = {}
_NAMED_LEN = 64  # bytes of a Connection value remembered at most
_NAMED_MAX = 64  # values remembered at most (then forgotten all at once: a client sending many is odd)


_unions: dict[tuple[frozenset[str], frozenset[str] | bool], frozenset[str]] = {}


def union_once(a: frozenset[str], b: frozenset[str], key: frozenset[str] | bool) -> frozenset[str]:
    """``a | b``, made once per ``(a, key)`` (``key`` says what ``b`` is: the same ``key``, the
    same ``b``) rather than per request: the exchange filters each request's headers by such
    unions of a few values (:func:`hop_by_hop`'s sets, the gateway key's holders), remembered
    at most 64, then forgotten all at once."""
    found = _unions.get((a, key))
    if found is None:
        if len(_unions) >= 64:
            _unions.clear()
        found = _unions[(a, key)] = a | b
    return found
