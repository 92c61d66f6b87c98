"""HTTP content codings (RFC 9110 §8.4) of provider answers: which ones can be decoded here,
a bounded one-shot decoder for reading usage out of a compressed body, and a streaming
decoder for passing an answer on as it arrives (:class:`StreamDecoder`).

``gzip`` and ``deflate`` need nothing; ``br`` needs ``brotli`` (or ``brotlicffi``) and
``zstd`` needs ``zstandard``, the libraries httpx decodes them with (``httpx[brotli,zstd]``).

>>> import gzip
>>> decode_body(gzip.compress(b'{"usage": 1}'), "gzip")
b'{"usage": 1}'
>>> codings("gzip, br") == ["gzip", "br"]
True
"""

from __future__ import annotations

import importlib.util
import zlib
from typing import Any

from .errors import ProviderError

__all__ = ["MAX_DECODED_BYTES", "SUPPORTED", "StreamDecoder", "codings", "decodable", "decode_body"]

MAX_DECODED_BYTES = 64 * 1024 * 1024  # a decoded body larger than this is refused (compression bombs)


def _have(*modules: str) -> bool:
    return any(importlib.util.find_spec(m) is not None for m in modules)


#: The content codings this process can decode, in the order they are offered upstream.
SUPPORTED: tuple[str, ...] = tuple(
    name for name, ok in (("gzip", True), ("deflate", True), ("br", _have("brotli", "brotlicffi")),
                          ("zstd", _have("zstandard")))
    if ok)


def codings(header: str | None) -> list[str]:
    """The codings of a ``Content-Encoding`` value, in the order they were applied
    (``identity`` and empty entries dropped; ``x-gzip`` is ``gzip``)."""
    out = []
    for part in (header or "").split(","):
        name = part.strip().lower()
        if name and name != "identity":
            out.append("gzip" if name == "x-gzip" else name)
    return out


def decodable(header: str | None) -> bool:
    """Whether every coding of a ``Content-Encoding`` value can be decoded here."""
    return all(c in SUPPORTED for c in codings(header))


def decode_body(data: bytes, header: str | None, *, limit: int = MAX_DECODED_BYTES) -> bytes:
    """``data`` with every coding of ``header`` undone (the last applied first).

    Raises :class:`ProviderError` (``bad-response``) for an unknown coding, corrupt data, or
    a result over ``limit`` bytes (decoding stops there: a small bomb costs little).
    """
    for name in reversed(codings(header)):
        if name not in SUPPORTED:
            raise ProviderError("bad-response", f"content-encoding `{name}` cannot be decoded here")
        try:
            data = _DECODERS[name](data, limit + 1)
        except ProviderError:
            raise
        except Exception as error:  # noqa: BLE001 - each library has its own error type
            raise ProviderError("bad-response", f"corrupt `{name}` body ({type(error).__name__})") from None
        if len(data) > limit:
            raise ProviderError("bad-response", f"the decoded body is larger than {limit} bytes")
    return data


def _zlib(data: bytes, most: int, name: str) -> bytes:
    # the streaming stage, whole: a gzip body's every member, and bytes after the end refused
    # (RFC 9110 "deflate" is the zlib format; some servers send raw deflate: both are taken)
    stage = _Stage(name, most - 1)
    return stage.decode(data) + stage.flush()


def _gzip(data: bytes, most: int) -> bytes:
    return _zlib(data, most, "gzip")


def _deflate(data: bytes, most: int) -> bytes:
    return _zlib(data, most, "deflate")


def _br(data: bytes, most: int) -> bytes:
    try:
        import brotli
    except ImportError:  # pragma: no cover - SUPPORTED says which one is there
        import brotlicffi as brotli
    d = brotli.Decompressor()
    out = d.process(data, output_buffer_limit=most)
    if len(out) < most and not d.is_finished():
        raise ProviderError("bad-response", "truncated compressed body")
    return out


def _zstd(data: bytes, most: int) -> bytes:
    import zstandard

    with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
        out = bytearray()
        while len(out) < most:
            piece = reader.read(most - len(out))
            if not piece:
                break
            out += piece
    return bytes(out)


_DECODERS = {"gzip": _gzip, "deflate": _deflate, "br": _br, "zstd": _zstd}


class StreamDecoder:
    """Undo a ``Content-Encoding`` chunk by chunk: ``decode(chunk)`` for each chunk as it
    arrives, then ``flush()`` at the end (which also finds a truncated body). Corrupt data
    raises :class:`ProviderError` (``bad-response``), and so does an answer that decodes to
    more than ``limit`` bytes at any stage: decoding stops there, so a compression bomb (a
    few hundred bytes of ``gzip, gzip`` that decode to gigabytes) costs at most about
    ``limit`` bytes of memory, never what it claims. Every coding must be in
    :data:`SUPPORTED` (:func:`decodable`).

    >>> import gzip
    >>> d = StreamDecoder("gzip"); z = gzip.compress(b"hello")
    >>> d.decode(z[:5]) + d.decode(z[5:]) + d.flush()
    b'hello'
    """

    def __init__(self, header: str | None, *, limit: int = MAX_DECODED_BYTES) -> None:
        self._stages = [_Stage(name, limit) for name in reversed(codings(header))]

    def decode(self, chunk: bytes) -> bytes:
        for stage in self._stages:
            chunk = stage.decode(chunk)
        return chunk

    def flush(self) -> bytes:
        out = b""
        for stage in self._stages:
            out = stage.decode(out) + stage.flush()
        return out


_ZSTD_SLICE = 256
"""zstd's incremental decompressor has no output bound: it is fed this many bytes at a time
(at ~32,000:1, the most one slice can decode to is ~8 MB past the limit)."""


class _Stage:
    """One coding's incremental decompressor, which refuses to produce more than ``limit``
    bytes in all (zlib and brotli are asked for at most what is left; zstd is fed in slices)."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.left = limit
        self.first = True
        self.d: Any
        if name == "gzip":
            self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif name == "deflate":
            self.d = zlib.decompressobj(zlib.MAX_WBITS)
        elif name == "br":
            try:
                import brotli
            except ImportError:  # pragma: no cover - SUPPORTED says which one is there
                import brotlicffi as brotli
            self.d = brotli.Decompressor()
        elif name == "zstd":
            import zstandard

            self.d = zstandard.ZstdDecompressor().decompressobj()
        else:
            raise ProviderError("bad-response", f"content-encoding `{name}` cannot be decoded here")

    def _took(self, out: bytes) -> bytes:
        self.left -= len(out)
        if self.left < 0:
            raise ProviderError("bad-response", f"the decoded answer is larger than {self.limit} bytes "
                                f"(`{self.name}`: a compression bomb?)")
        return out

    def decode(self, data: bytes) -> bytes:
        if not data:
            return b""
        first, self.first = self.first, False
        try:
            if self.name == "br":
                if hasattr(self.d, "process"):
                    return self._took(bytes(self.d.process(data, output_buffer_limit=self.left + 1)))
                return self._took(bytes(self.d.decompress(data)))  # pragma: no cover - brotlicffi
            if self.name == "zstd":
                out = bytearray()
                for at in range(0, len(data), _ZSTD_SLICE):
                    out += self._zstd(data[at:at + _ZSTD_SLICE])
                    if len(out) > self.left:
                        break
                return self._took(bytes(out))
            return self._zlib_rest(self._took(self.d.decompress(data, self.left + 1)))
        except zlib.error:
            if self.name == "deflate" and first:  # raw deflate, as some servers send
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data)
            raise ProviderError("bad-response", f"corrupt `{self.name}` body") from None
        except ProviderError:
            raise
        except Exception as error:  # noqa: BLE001 - each library has its own error type
            raise ProviderError("bad-response", f"corrupt `{self.name}` body ({type(error).__name__})") from None

    def _zlib_rest(self, out: bytes) -> bytes:
        """What follows the end of a zlib stream: a gzip body's next member (RFC 1952 §2.2, as
        ``gzip -c a b`` and a server that compresses each write make them) is decoded in turn;
        any other byte but NUL padding is a corrupt body, never dropped in silence (serve25: a
        two-member answer was served cut after its first member, as if whole)."""
        while self.d.eof and (rest := self.d.unused_data):
            if self.name != "gzip" or not rest.startswith(b"\x1f\x8b"[:len(rest)]):
                if rest.strip(b"\x00"):
                    raise ProviderError("bad-response", f"bytes after the end of the `{self.name}` body")
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)  # padding: nothing more is taken
                self.d.decompress(b"\x03\x00")  # an empty final block: eof, no output
                break
            self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._took(self.d.decompress(rest, self.left + 1))
        return out

    def _zstd(self, data: bytes) -> bytes:
        out = self.d.decompress(data)
        while self.d.eof and self.d.unused_data:  # another frame follows
            import zstandard

            rest = self.d.unused_data
            self.d = zstandard.ZstdDecompressor().decompressobj()
            out += self.d.decompress(rest)
        return bytes(out)

    def flush(self) -> bytes:
        if self.first:
            return b""  # no data: nothing to finish
        if self.name in ("gzip", "deflate"):
            out = self._took(self.d.flush())
            if not self.d.eof:
                raise ProviderError("bad-response", "truncated compressed body")
            return out
        if self.name == "br" and not self.d.is_finished():
            raise ProviderError("bad-response", "truncated compressed body")
        if self.name == "zstd" and not self.d.eof:
            raise ProviderError("bad-response", "truncated compressed body")
        return b""
