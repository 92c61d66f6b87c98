"""A chunked request's trailer section bounded as a head is (a mixin of ``serve``'s httptools
protocol).

The trailer fields after a chunked body's last chunk are parsed by llhttp and dropped
(``server``: they are no headers of the request), but nothing bounded them: a head is refused
past 64 KiB or 100 fields before the parser sees it, a body past ``--max-body`` once it is
counted, and the trailers, which are neither, were read for as long as the body timeout let
them come. One field's value is joined piece by piece in Python (httptools), so ~95 MB of one
trailer cost ~9 s of the event loop's CPU (every other request waited), and 20,000 fields were
20,000 calls into Python. Past the head's bounds, the request is answered 431 and the
connection closed.

The trailers are what llhttp reads after a chunk header that no body and no chunk end
followed: the last chunk's (size 0). A chunk whose data has not come yet looks the same until
its first byte does, which resets the count. llhttp tells no offsets, so the read in which
that chunk header was parsed is not counted (most of it may be the body before it: counting
it refused a 60 KiB trailer, and could refuse a plain chunked body whose read ended just
after a chunk header): the bytes of the reads after it are. The bound is then 64 KiB past one
read (the event loop reads at most 256 KiB at a time), which still ends an endless trailer.
"""

from __future__ import annotations

__all__ = ["BoundedTrailers"]


class BoundedTrailers:
    """Counts the bytes of each read parsed since the last chunk header with no body after it,
    and the trailer fields (uvicorn appends them to ``headers``, a list of their own once the
    head is read), with llhttp's chunk callbacks (uvicorn defines neither). The protocol class
    sets the bounds."""

    headers: list[tuple[bytes, bytes]]
    max_trailer_bytes = 0
    max_trailer_fields = 0
    _in_chunk = False  # a chunk header was parsed; no body byte and no chunk end since
    _counting = False  # a read after the one that held that chunk header was parsed
    _trailing = 0
    _too_many = False  # the trailers that ended the body in one read held too many fields

    def on_chunk_header(self) -> None:
        self._in_chunk = True
        self._counting = False
        self._trailing = 0

    def on_chunk_complete(self) -> None:
        if self._in_chunk and len(self.headers) > self.max_trailer_fields:
            self._too_many = True
        self._in_chunk = False
        self._trailing = 0

    def on_body(self, body: bytes) -> None:
        self._in_chunk = False
        self._trailing = 0
        super().on_body(body)  # type: ignore[misc]

    def trailers_over(self, read: int) -> bool:
        """Whether the trailers pass the bounds, ``read`` more bytes of them parsed (called
        after each read was parsed, while :attr:`_in_chunk` or :attr:`_too_many`)."""
        if self._too_many:
            return True
        if self._counting:
            self._trailing += read
        else:  # the read that held the chunk header: what in it came before is not known
            self._counting = True
        return self._trailing > self.max_trailer_bytes or len(self.headers) > self.max_trailer_fields
