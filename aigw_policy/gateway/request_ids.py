"""Request ids: the one id of a request (``req-`` and 20 hex digits) that its decision, its
ledger record, its decision log line and every answer the gateway makes carry, and the
header fields an answer carries it in (docs/gateway.md, "Request ids").

>>> id_headers("req-1")
[(b'x-request-id', b'req-1'), (b'request-id', b'req-1')]
>>> id_headers("req-1", [(b"X-Request-Id", b"mine")])
[(b'request-id', b'req-1')]
"""

from __future__ import annotations

import os
import threading

__all__ = ["DECISION_HEADER", "REQUEST_ID_HEADERS", "id_headers", "request_id"]

DECISION_HEADER = "x-aigw-decision-id"
"""On every answer, the gateway's or the upstream's: the request's id."""

REQUEST_ID_HEADERS = (b"x-request-id", b"request-id")
"""Where the SDKs read an answer's request id (``err.request_id``, ``response._request_id``):
OpenAI's ``x-request-id``, Anthropic's ``request-id``. An answer the gateway makes itself
carries its own request id in both; a forwarded answer carries the provider's as it came."""


def id_headers(request_id: str, headers: list[tuple[bytes, bytes]] | None = None) -> list[tuple[bytes, bytes]]:
    """The request-id fields of an answer the gateway makes (:data:`REQUEST_ID_HEADERS`, each
    ``request_id``), but those ``headers`` already has (a ``custom-response`` that sets its own)."""
    rid = request_id.encode("ascii")
    if not headers:
        return [(name, rid) for name in REQUEST_ID_HEADERS]
    have = {k.lower() for k, _ in headers}
    return [(name, rid) for name in REQUEST_ID_HEADERS if name not in have]


_ID_BYTES = 10  # 80 bits: the decision id a client sees and its ledger record's key, unguessable
_ID_POOL = _ID_BYTES * 400
_ids = threading.local()  # per thread: two threads never take the same bytes


def request_id() -> str:
    """``req-`` and 20 hex digits: 80 bits from the OS's CSPRNG (``os.urandom``), read
    4,000 bytes at a time rather than 10 (one ``getrandom`` call per 400 requests instead
    of one each: ~12 us a request in the live process on the reference machine). Each
    thread has its own pool, and a forked process reads its own (never its parent's bytes:
    the fork forgets the pool, :func:`os.register_at_fork`, rather than each id asking
    ``getpid``, a system call)."""
    ids = _ids
    at = getattr(ids, "at", _ID_POOL)
    if at >= _ID_POOL:
        ids.pool, at = os.urandom(_ID_POOL), 0
    ids.at = at + _ID_BYTES
    return f"req-{ids.pool[at:at + _ID_BYTES].hex()}"


def _forget_ids() -> None:  # in a forked child (whose only thread forked): the pool is the parent's
    _ids.at = _ID_POOL


os.register_at_fork(after_in_child=_forget_ids)
