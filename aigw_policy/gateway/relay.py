"""How an upstream's answer is passed on once it is served, the one way the router's served
attempt (:func:`~aigw_policy.gateway.routing.served_app`) and the single-upstream proxy
(:class:`~aigw_policy.gateway.proxy.UpstreamProxy`) pass it on: through the key scrubbers, a
stream a whole event at a time (:class:`Framer`), and a stream that the upstream cuts or lets go
quiet after its first byte ends with an error event in the provider's own stream format
(:func:`end_cut`), which the SDKs raise as their documented API error, the connection then
closed without the body's end. Before, the proxy's stream ended with the cut alone: the OpenAI
and Anthropic SDKs raised ``APIConnectionError`` ("Connection error.", as if the gateway could
not be reached), genai ``httpx.RemoteProtocolError``, outside its documented errors; a routed
stream said what happened.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..providers.errors import ProviderError
from ..providers.framing import JSONArrayParser
from .captured import EVENT_STREAM
from .errors import stream_error_event
from .http_client import UpstreamError
from .scrub import Scrubber
from .server import leave_unfinished
from .stream_end import StreamCheck

__all__ = ["CUTS", "MAX_EVENT", "Framer", "NotJSONEvent", "Unfinished", "end_cut", "relay"]

_log = logging.getLogger("aigw_policy.gateway")

class NotJSONEvent(UpstreamError):
    """A served stream of a known API sent an event whose data is not JSON
    (:meth:`~.stream_end.StreamCheck.feed`): it ends there, as a cut one does."""


class Unfinished(UpstreamError):
    """A served stream of a known API ended cleanly before the event that ends it
    (:mod:`.stream_end`): a short answer, ended as a cut one is."""


CUTS = (UpstreamError, TimeoutError, ProviderError)
"""What an answer's body raises when the upstream cut it, went quiet, or sent what does not decode."""


class Framer:
    """Holds back the unfinished event at the end of a stream's chunk until it is whole, so
    that the client only ever receives whole events (SSE: up to a blank line; NDJSON: up to
    a newline), and a stream cut mid-event ends cleanly with the error event. An event
    longer than :data:`MAX_EVENT` is passed on as it is."""

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.ctype = ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"").lower()
        self.sse = b"event-stream" in ctype
        self.binary = EVENT_STREAM.encode() in ctype  # AWS's event stream: messages of a length their prelude says
        # Gemini's stream without alt=sse: a JSON array, its objects not a line each
        self.array = JSONArrayParser() if b"application/json" in ctype else None
        self.comma = False  # what was passed on of the array ends with an element: the next needs a comma
        self.ends = (b"\n\n", b"\r\n\r\n") if self.sse else (b"\n",)
        self.pending = bytearray()  # held back: no whole event in it

    def feed(self, chunk: bytes) -> bytes:
        if self.binary:
            return self._messages(chunk)
        if self.array is not None:
            return self._objects(chunk)
        buf = self.pending
        if not buf:
            cut = max((i + len(end) for end in self.ends if (i := chunk.rfind(end)) >= 0), default=0)
            if len(chunk) - cut > MAX_EVENT:
                return chunk
            buf += memoryview(chunk)[cut:]
            return chunk[:cut] if cut < len(chunk) else chunk
        # what is held has no end in it: look in the new bytes only, and the 3 before them (an
        # end cut in two), so that an event trickled in small chunks is not searched and copied
        # again with each one (a 1 MiB event in 64-byte chunks: ~8 GB copied, minutes of CPU)
        start = max(0, len(buf) - 3)
        buf += chunk
        cut = max((i + len(end) for end in self.ends if (i := buf.rfind(end, start)) >= 0), default=0)
        if len(buf) - cut > MAX_EVENT:
            cut = len(buf)
        if not cut:
            return b""
        out = bytes(buf[:cut])
        del buf[:cut]
        return out

    def _objects(self, chunk: bytes) -> bytes:
        """A JSON array's bytes up to the end of its last whole object (one longer than
        :data:`MAX_EVENT` is passed on as it comes)."""
        buf = self.pending
        buf += chunk
        self.array.feed(chunk)  # type: ignore[union-attr]
        held = self.array.held  # type: ignore[union-attr]
        cut = len(buf) - held if held <= MAX_EVENT else len(buf)
        out = bytes(buf[:cut])
        del buf[:cut]
        if last := out.rstrip():
            self.comma = last.endswith(b"}")
        return out

    def _messages(self, chunk: bytes) -> bytes:
        """The whole event-stream messages so far (a message's first 4 bytes are its length,
        big-endian); one longer than :data:`MAX_EVENT` is passed on as it comes."""
        buf = self.pending
        buf += chunk
        cut = 0
        while len(buf) - cut >= 4:
            total = int.from_bytes(buf[cut:cut + 4], "big")
            if total > MAX_EVENT or total < 16:  # too long to hold, or no message: passed on as it is
                cut = len(buf)
                break
            if len(buf) - cut < total:
                break
            cut += total
        out = bytes(buf[:cut])
        del buf[:cut]
        return out

    def flush(self) -> bytes:
        out = bytes(self.pending)
        self.pending.clear()
        return out


MAX_EVENT = 1024 * 1024
"""Bytes of one stream event held back at most while it is incomplete."""


async def relay(prefix: bytes, rest: AsyncIterator[bytes] | None, send: Any, scrubs: Sequence[Scrubber],
                frames: Framer | None, *, check: StreamCheck | None = None) -> None:
    """Send ``prefix`` then ``rest`` (the body's chunks still to come) to the client as ASGI
    body messages (``more_body``; the end is the caller's): through each of ``scrubs`` in turn,
    then ``frames`` (a stream's, else None). Raises what reading ``rest`` raises (:data:`CUTS`);
    ``check``: a stream of an API whose events are JSON (:mod:`.stream_end`), which ends, after
    the events before it, at one that is not (:class:`NotJSONEvent`), and whose clean end
    before the event that ends it is no end (:class:`Unfinished`, once what came went out)."""
    if frames is None:
        check = None

    async def framed(chunk: bytes) -> None:
        comma = frames.comma if frames is not None else False
        whole = frames.feed(chunk) if frames is not None else chunk
        if check is not None and whole and (bad := check.feed(whole)) >= 0:
            if bad:
                await send({"type": "http.response.body", "body": whole[:bad], "more_body": True})
            if frames is not None and (sent := whole[:bad].rstrip()):  # a JSON array's error element
                comma = sent.endswith(b"}")  # follows what went out: after an element, a comma
            if frames is not None:
                frames.comma = comma
            raise NotJSONEvent("the upstream sent a stream event that is not JSON")
        if whole:
            await send({"type": "http.response.body", "body": whole, "more_body": True})

    async def out(chunk: bytes) -> None:
        for scrub in scrubs:
            chunk = scrub.feed(chunk)
        await framed(chunk)

    await out(prefix)
    if rest is not None:
        async for chunk in rest:
            await out(chunk)
    held = b""
    for scrub in scrubs:  # the end: what each held back was no key (through the next ones)
        held = scrub.feed(held) + scrub.flush()
    if frames is not None:
        await framed(held)
        held = frames.flush()  # an unfinished event: no blank line (nor newline, nor `}`) after it
    if check is not None:
        check.finish(held)
        if check.unfinished:  # the unfinished event never goes out, as at a cut: the error event
            # that ends the stream then starts an event of its own (after `da`, `dadata: {"error"
            # ...` was a line of no field, which the SDKs skip: the text cut short, no error)
            raise Unfinished(f"the upstream ended the stream before its end ({check.name})")
    if held:  # read as the SDKs read it at the end, as an event (`data: [DONE]` with no blank line)
        await send({"type": "http.response.body", "body": held, "more_body": True})


async def end_cut(error: BaseException, api: str, frames: Framer | None, send: Any, ctx: Any) -> None:
    """End an answer whose upstream failed after its head went out (``error``, one of
    :data:`CUTS`): a stream (``frames``) with an error event in the client's wire format ``api``
    and the stream's framing; then the connection is closed without the body's end (as nginx
    does), so the client never takes a short answer for a whole one. ``ctx``: the request's
    context (``upstream_error`` set), or None."""
    timeout = isinstance(error, TimeoutError)
    if ctx is not None:
        ctx.upstream_error = "timeout" if timeout else "malformed" if isinstance(error, NotJSONEvent) \
            else "unfinished" if isinstance(error, Unfinished) else "broken"
    _log.warning("the upstream's answer was cut: %s", error if not timeout else "it went quiet")
    if frames is not None:  # bytes are out: no failover, the client is told in its stream
        why = "the upstream went quiet" if timeout else "the upstream sent an event that is not JSON" \
            if isinstance(error, NotJSONEvent) else "the upstream ended the stream before its end" \
            if isinstance(error, Unfinished) else "the upstream cut the stream"
        await send({"type": "http.response.body", "more_body": True,
                    "body": stream_error_event(api, f"{why}; the answer is incomplete", frames.ctype,
                                               comma=frames.comma)})
    leave_unfinished()
