"""Token counting before the request: a protocol, a fast deterministic default, tiktoken.

The default never touches the network or the disk. :func:`tiktoken_counter` returns a
tiktoken-backed counter only when tiktoken is installed *and* the encoding file is already
present locally (a verified cache entry or an explicit file); otherwise ``None``. It never
downloads anything at run time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a piece of text for a model (``model`` may be ``None``)."""

    name: str

    def count(self, text: str, model: str | None = None) -> int: ...


class HeuristicCounter:
    """Deterministic estimate: about four bytes of UTF-8 per token, at least one per word.

    Within roughly 15% of BPE tokenizers for English prose and code; cheap (one encode and one
    split). It is an *estimate* for reservations, never billed usage.
    """

    name = "heuristic"

    def __init__(self, bytes_per_token: float = 4.0) -> None:
        if bytes_per_token <= 0:
            raise ValueError("bytes_per_token must be positive")
        self.bytes_per_token = bytes_per_token

    def count(self, text: str, model: str | None = None) -> int:
        if not text:
            return 0
        # ASCII: a byte a character (encoding it is a copy)
        data = text.encode("ascii") if text.isascii() else text.encode("utf-8", "replace")
        by_bytes = int(len(data) / self.bytes_per_token + 0.999)
        # words <= whitespace characters + 1, and each whitespace character has one byte that
        # can be counted without splitting: when that bound is within `by_bytes`, the words
        # cannot win (prose: ~6 bytes a word). Splitting a 50 KB prompt into its words cost
        # ~300 us (a string a word); counting those bytes costs a third of it.
        if len(data.translate(None, _NOT_SPACE)) < by_bytes:
            return max(by_bytes, 1)
        if len(data) == len(text):  # ASCII: a word starts where a non-space byte follows a space one
            marks = data.translate(_WORD_MARKS)
            words = marks.count(b" x") + (marks[:1] == b"x")
        else:
            words = len(text.split())
        return max(by_bytes, words, 1)


_SPACE = bytes([9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3])
"""The bytes of UTF-8 text that can be (or begin) a character ``str.split`` splits on: the
ASCII whitespace (``\\x1c``-``\\x1f`` included) and the lead bytes of the others (U+0085 and
U+00A0: C2; U+1680: E1; U+2000-U+200A, U+2028, U+2029, U+202F, U+205F: E2; U+3000: E3).
tests/providers/test_classify_fast.py checks the list against ``str.isspace`` over all of Unicode."""
_NOT_SPACE = bytes(b for b in range(256) if b not in _SPACE)
_WORD_MARKS = bytes(32 if b < 128 and chr(b).isspace() else 120 for b in range(256))
"""ASCII bytes as ``b" "`` (what ``str.split`` splits on) or ``b"x"``: counting ``b" x"`` in an
ASCII text so marked counts its words but the first, without a string per word (a 60 KB
prompt of code: ~40 us instead of ~270)."""

DEFAULT_COUNTER: TokenCounter = HeuristicCounter()

# Encoding files as tiktoken publishes them, with their sha256 (copied from tiktoken_ext).
_ENCODINGS: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def _tiktoken_cache_path(blob_url: str) -> str | None:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":
        return None
    return os.path.join(cache_dir, hashlib.sha1(blob_url.encode()).hexdigest())


class TiktokenCounter:
    """A counter backed by a loaded ``tiktoken.Encoding``."""

    def __init__(self, encoding: object) -> None:
        self._encoding = encoding
        self.name = f"tiktoken:{getattr(encoding, 'name', '?')}"

    def count(self, text: str, model: str | None = None) -> int:
        if not text:
            return 0
        return len(self._encoding.encode(text, disallowed_special=()))  # type: ignore[attr-defined]


def tiktoken_counter(encoding: str = "o200k_base") -> TiktokenCounter | None:
    """A tiktoken counter if tiktoken and a verified local copy of ``encoding`` exist, else None.

    The cache file is checked against tiktoken's published sha256 *before* tiktoken is asked
    for the encoding, so tiktoken finds a valid cache entry and never fetches.
    """
    known = _ENCODINGS.get(encoding)
    if known is None:
        return None
    try:
        import tiktoken  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    url, sha = known
    path = _tiktoken_cache_path(url)
    if path is None or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha:
        return None
    try:
        return TiktokenCounter(tiktoken.get_encoding(encoding))
    except Exception:  # noqa: BLE001 - any failure means "not available offline"
        return None


def best_counter(encoding: str = "o200k_base") -> TokenCounter:
    """tiktoken when available offline, else the heuristic default."""
    return tiktoken_counter(encoding) or DEFAULT_COUNTER
