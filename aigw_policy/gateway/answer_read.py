"""An upstream's answer read up to where it can be judged, the one way the router
(:class:`~aigw_policy.gateway.routing.Router`, each attempt) and the single-upstream proxy
(:class:`~aigw_policy.gateway.proxy.UpstreamProxy`) read it, so that both judge the same
answers malformed (:mod:`.malformed`): a stream (by its type, or Gemini's
``:streamGenerateContent`` by its path) up to its first event (:mod:`.first_event`); an error
(4xx, 5xx), a JSON or HTML answer, whole (up to a limit); any other answer (audio, a file) not
at all, passed on as it comes.

An answer is also judged against what the request asked for (:func:`wants_stream`): a whole
JSON answer to ``stream: true`` (the SDK reads events and finds none: the OpenAI SDK returns an
empty stream, Anthropic's and genai's raise outside their documented errors) and a stream
answering a request for one JSON body (the SDK fails to parse it) are malformed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..providers.encoding import StreamDecoder
from .api_shape import empty_stream, foreign_stream, known
from .captured import streamed
from .first_event import framing_of, opening
from .http_client import Response
from .malformed import malformed, malformed_stream, mismatched
from .stream_end import not_json, unfinished

__all__ = ["ERROR_BODY_LIMIT", "Judged", "decoded_chunks", "judge", "read_upto", "wants_stream"]

ERROR_BODY_LIMIT = 1024 * 1024
"""Bytes of an error answer kept (for the usage it reports and the error it says)."""


@dataclass
class Judged:
    """An answer as far as it was read: ``prefix`` (the whole body, a stream's opening, or
    nothing), ``rest`` (the chunks still to come, None when read whole), whether it is a
    ``streaming`` one and in which ``framing``, and ``why`` it cannot be the API's answer
    (None: it can)."""

    streaming: bool
    framing: str
    prefix: bytes
    rest: AsyncIterator[bytes] | None
    why: str | None


def wants_stream(decision: Any, body: Any) -> bool | None:
    """Whether the request of ``decision`` (its parsed ``body``) asked for a stream, as the
    engine classified it (``ai.stream``: the body's ``stream``, Gemini's and Bedrock's path);
    None when the request leaves it to the server (Ollama's native API without ``stream``:
    Ollama streams, servers that speak its API need not) or says nothing of the answer's
    form (no classified request, an operation that is no inference call the gateway knows:
    a read, a file, speech)."""
    ai = getattr(decision, "ai", None)
    if not isinstance(ai, Mapping) or ai.get("operation") in (None, "other"):
        return None
    if getattr(decision, "api", None) == "ollama" and not (isinstance(body, Mapping) and "stream" in body):
        return None
    return bool(ai.get("stream"))


async def decoded_chunks(response: Response, decoder: StreamDecoder | None) -> AsyncIterator[bytes]:
    """The answer's body as it arrives, decoded by ``decoder`` if any (empty pieces skipped)."""
    while chunk := await response.chunk():
        if decoder is not None:
            chunk = decoder.decode(chunk)
        if chunk:
            yield chunk
    if decoder is not None:
        rest = decoder.flush()
        if rest:
            yield rest


async def read_upto(chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, AsyncIterator[bytes] | None]:
    """The body up to ``limit`` bytes; the iterator of the rest when it is longer."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            return bytes(buf), chunks
    return bytes(buf), None


_NO_CONTENT = frozenset({204, 205, 304})
"""Successes (and a 304) that carry no content by definition (RFC 9110 §15.3.5, §15.3.6, §15.4.5)."""


class _Watched:
    """``chunks`` as they come, and whether they ``ended`` (the upstream's body is whole)."""

    __slots__ = ("chunks", "ended")

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.ended = False

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.chunks.__anext__()
        except StopAsyncIteration:
            self.ended = True
            raise


async def judge(chunks: AsyncIterator[bytes], status: int, ctype: str, url: str, wants: bool | None, *,
                limit: int, opaque: bool = False, shape: bool = False,
                arrived: Callable[[], bool] | None = None,
                whole: Callable[[int], bytes | None] | None = None) -> Judged:
    """Read ``chunks`` (an answer of ``status`` and ``ctype``, lower case, to ``url``) as far as
    needed to judge it (the module's docstring); ``wants``: :func:`wants_stream`; ``limit``:
    bytes of a success read whole at most (past them it is served unjudged); ``opaque``: a
    body that cannot be read (a ``HEAD``'s answer has none; one in a content coding the
    gateway does not decode, passed on to a client that accepts it): not judged; ``shape``: a
    success that is not of the API ``url`` calls (:mod:`.api_shape`) is malformed too (a
    routed attempt's: another candidate can answer; the single upstream's proxy passes it on);
    ``arrived``: whether the rest of the body has come already (the upstream's answer is at
    its end): a stream that has is read whole and judged whole, its end included
    (:func:`~.stream_end.unfinished`: a short stream fails over before a byte of it is out);
    ``whole(n)``: the body ``chunks`` would give, when all of it has come and it is at most
    ``n`` bytes, else None (nothing taken): a JSON answer that came whole is read without
    the two async iterators (~10,000 instructions an answer)."""
    if opaque:
        return Judged(False, "", b"", chunks, None)
    if status in _NO_CONTENT and shape and wants is not None and known(url):
        # an inference call answered "no content" (or "not modified", to a POST): the OpenAI SDK
        # raised json.JSONDecodeError, or iterated an empty stream with no error
        return Judged(False, "", b"", chunks, f"a {status} answer with no content, where the API answers one")
    if status < 400 and streamed(ctype, status, url):
        framing = framing_of(ctype)
        watched = _Watched(chunks)
        prefix = await opening(watched, framing)
        why = malformed_stream(status, ctype, framing, prefix) or mismatched(wants, True, status, prefix, url) \
            or (foreign_stream(status, url, framing, prefix) if shape else None) \
            or (empty_stream(status, url, framing, prefix) if shape and watched.ended else None)
        if why is None and shape and arrived is not None and not watched.ended and arrived():
            # the rest has come already (a short stream, whole in the first reads; at most what
            # the client buffers, HIGH_WATER): judged whole, its end included
            prefix += b"".join([chunk async for chunk in watched])
        if why is None and shape:
            # every event held before a byte goes out is judged, not the first alone: one that
            # is not JSON would end the served stream there (the relay's), a failure known now
            why = not_json(status, url, framing, prefix)
        if why is None and shape and watched.ended:
            why = unfinished(status, url, framing, prefix)
        return Judged(True, framing, prefix, chunks, why)
    if status < 400 and "json" not in ctype and "html" not in ctype:
        return Judged(False, "", b"", chunks, None)  # audio, a transcript as text, a file: as it comes
    upto = ERROR_BODY_LIMIT if status >= 400 else limit
    came = whole(upto) if whole is not None else None
    prefix, rest = (came, None) if came is not None else await read_upto(chunks, upto)
    why = None if rest is not None else malformed(status, ctype, prefix, url if shape else "") \
        or mismatched(wants, False, status, prefix, url)
    return Judged(False, "", prefix, rest, why)
