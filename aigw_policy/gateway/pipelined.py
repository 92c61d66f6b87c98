"""Pipelined requests queued to a bound (a mixin of ``serve``'s httptools protocol).

uvicorn's httptools protocol hands a read to llhttp whole: every request in it is parsed, and
each one that arrives while an answer is in progress is queued (a request cycle with its scope
and headers, ~2 KB). It pauses reading then, but each answer finished resumes it, and the next
read's requests are queued in turn: 1 MB of pipelined ``GET /healthz`` held ~64 MB, bounded by
nothing (each head is small). nginx and Go's net/http parse the next request only once the
current one is answered; here a connection queues at most :data:`MAX_PIPELINED` requests behind
the one being answered, parses nothing after them, and closes once their answers are out (the
last says ``connection: close``): RFC 9112 §9.3.2 has a client that pipelines retry what a
closed connection left unanswered.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_PIPELINED", "Pipelined"]

MAX_PIPELINED = 32
"""Requests a connection may have queued behind the one being answered (~64 KB of them)."""


class Pipelined:
    """The bound, on uvicorn's ``HttpToolsProtocol`` (its ``pipeline``, ``cycle`` and llhttp
    callbacks). Once it is reached, what follows in the read is parsed (llhttp goes on) and not
    kept: no request begins, its target and body go nowhere, and :attr:`flooded` tells
    ``data_received`` to parse nothing more. Its header fields are left to uvicorn's
    ``on_header``, which appends them to a list no request reads (at most the read's own
    bytes): a method of ours there would cost every request's every field a call (~8,000
    instructions a request)."""

    pipeline: Any
    cycle: Any
    flooded = False

    def on_message_begin(self) -> None:
        if not self.flooded:
            super().on_message_begin()  # type: ignore[misc]

    def on_url(self, url: bytes) -> None:
        if not self.flooded:
            super().on_url(url)  # type: ignore[misc]

    def on_body(self, body: bytes) -> None:
        if not self.flooded:
            super().on_body(body)  # type: ignore[misc]

    def on_message_complete(self) -> None:
        if self.flooded:
            return
        super().on_message_complete()  # type: ignore[misc]
        if len(self.pipeline) >= MAX_PIPELINED:
            self.flooded = True
            self.cycle.keep_alive = False  # the connection's last answer
