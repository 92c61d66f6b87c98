"""An answer of unknown length to an HTTP/1.0 request, delimited by the connection's close.

RFC 9112 §6.1: a server does not send ``Transfer-Encoding`` in answer to an HTTP/1.0 request
(such a client cannot read chunks: their sizes become part of the body it reads). uvicorn's
llhttp protocol chunked every answer without a ``Content-Length`` whatever the request's
version, so an HTTP/1.0 client (``curl --http1.0``, a proxy speaking HTTP/1.0 upstream) read an
SSE stream with hexadecimal sizes between its events. h11 already delimits such an answer by
the close; this gives the llhttp protocol's request cycle the same: its bytes are written as
they come and the connection (never kept for HTTP/1.0 by uvicorn) closes after the last.
"""

from __future__ import annotations

from typing import Any

__all__ = ["close_delimited"]

_UNBOUNDED = 1 << 62
"""The length uvicorn's cycle is told to expect of a close-delimited answer until its last
piece (no answer comes near it): it then counts the bytes down as of a ``Content-Length``."""


def _framed(message: dict[str, Any], method: str) -> bool:
    """Whether an answer's head frames its body itself (a length), or it has none."""
    status = message["status"]
    return (method == "HEAD" or status in (204, 304) or status < 200
            or any(name.lower() == b"content-length" for name, _ in message.get("headers", ())))


def close_delimited(cycle: Any) -> None:
    """Have uvicorn's httptools ``cycle`` (of an HTTP/1.0 request) write an answer without a
    length unchunked, ended by the close; called before its app runs."""
    send = cycle.send

    async def delimited(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not _framed(message, cycle.scope["method"]):
            cycle.chunked_encoding, cycle.expected_content_length, cycle.keep_alive = False, _UNBOUNDED, False
        elif kind == "http.response.body" and not message.get("more_body") and cycle.chunked_encoding is False \
                and cycle.expected_content_length > _UNBOUNDED // 2:  # the last piece of a delimited answer
            cycle.expected_content_length = len(message.get("body", b""))
        await send(message)

    cycle.send = delimited
