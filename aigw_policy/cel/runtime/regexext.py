"""The regex extension (``doc/cel-go-extensions.md``, "Regex"): ``regex.replace``,
``regex.extract`` and ``regex.extractAll``, on RE2 as ``matches`` is.

Matches are found as cel-cpp and Go find every match (``regexp.allMatches``): after an empty
match the search moves one code point on, and an empty match that abuts the previous match
is skipped (``regex.replace('abc', 'b*', 'x')`` is ``'xaxcx'``). The text is encoded to UTF-8
once and searched by byte offsets, so a call is linear in the text however many matches it
has (the Python wrapper's ``search(text, pos)`` encodes the whole text on every call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .checks import no_overload
from .ops import MAX_GROWTH
from .regexes import RE_ENGINE, regex
from .registry import registrar
from .values import NONE, CelError, Optional, utf8

__all__ = ["FUNCTIONS", "check_rewrite"]

FUNCTIONS: dict[str, Callable[..., object]] = {}
fn = registrar(FUNCTIONS)


def _compiled(pattern: str):  # type: ignore[no-untyped-def]
    """``(raw RE2, number of capturing groups)``; a bad pattern is the CelError of ``regex``."""
    r = regex(pattern)
    raw = getattr(r, "_regexp", None)
    if RE_ENGINE != "re2" or raw is None:  # pragma: no cover - google-re2 is a dependency
        raise CelError("the regex extension needs RE2 (google-re2)", "invalid_argument")
    return raw, r.groups  # type: ignore[attr-defined]


def _spans(raw, text: bytes) -> Iterator[list[tuple[int, int]]]:  # type: ignore[no-untyped-def]
    """Every match's group spans (byte offsets; ``(-1, -1)`` for a group that took no part)."""
    unanchored = type(raw).Anchor.UNANCHORED
    end = len(text)
    pos, prev_end = 0, -1
    while pos <= end:
        spans = raw.Match(unanchored, text, pos, end)
        start, stop = spans[0]
        if start < 0:
            return
        accept = True
        if stop == pos:  # empty: skipped right after a match; the search moves one code point on
            accept = start != prev_end
            pos += 1
            while pos < end and text[pos] & 0xC0 == 0x80:
                pos += 1
        else:
            pos = stop
        prev_end = stop
        if accept:
            yield spans


def _text(text: bytes, span: tuple[int, int]) -> str:
    return "" if span[0] < 0 else _decoded(text[span[0]:span[1]])


def _decoded(piece: bytes) -> str:
    """A match as text. RE2's ``\\C`` (any one byte) can cut a character in two, and a CEL
    string holds whole characters: such a piece is an error (cel-cpp hands out the stray
    bytes; cel-go's RE2 dialect has no ``\\C``), not an internal one."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        raise CelError("regex: a match cuts a UTF-8 character in two (`\\C` matches one byte)",
                       "invalid_argument") from None


def check_rewrite(replacement: str, groups: int) -> list[str | int]:
    """RE2's rewrite string: ``\\N`` is group N (one digit), ``\\\\`` a backslash, any other
    backslash an error, as is a group the pattern does not have."""
    parts: list[str | int] = []
    literal: list[str] = []
    i, n = 0, len(replacement)
    while i < n:
        ch = replacement[i]
        i += 1
        if ch != "\\":
            literal.append(ch)
            continue
        if i == n:
            raise CelError("invalid replacement string: '\\' not allowed at end", "invalid_argument")
        nxt = replacement[i]
        i += 1
        if nxt == "\\":
            literal.append("\\")
        elif "0" <= nxt <= "9":
            if int(nxt) > groups:
                raise CelError(f"invalid replacement string: \\{nxt} asks for group {nxt}, but the "
                               f"pattern has {groups} capturing groups", "invalid_argument")
            parts.append("".join(literal))
            literal = []
            parts.append(int(nxt))
        else:
            raise CelError("invalid replacement string: '\\' must be followed by a digit or '\\'",
                           "invalid_argument")
    parts.append("".join(literal))
    return parts


_ALL: Any = object()
"""No count given: every match (CEL's ``null`` is ``None``, which has no overload)."""


@fn("regex.replace")
def replace(target, pattern, replacement, count=_ALL):  # type: ignore[no-untyped-def]
    given = (target, pattern, replacement) + (() if count is _ALL else (count,))
    if type(target) is not str or type(pattern) is not str or type(replacement) is not str or (
            count is not _ALL and type(count) is not int):
        raise no_overload("regex.replace", *given)
    if count == 0:
        return target
    left = -1 if count is _ALL or count < 0 else count
    raw, groups = _compiled(pattern)
    parts = check_rewrite(replacement, groups)
    text = utf8(target)
    try:
        return "".join(_replaced(raw, text, parts, left, bytes.decode, str))
    except UnicodeDecodeError:  # a `\C` match cut a character: join the bytes, then decode
        pass
    return _decoded(b"".join(_replaced(raw, text, [utf8(p) if type(p) is str else p for p in parts], left,
                                       lambda b: b, bytes)))


def _replaced(raw, text: bytes, parts: list, left: int, piece_of, kind) -> list:  # type: ignore[no-untyped-def]
    """The pieces of ``regex.replace``'s result, as ``str``, or as ``bytes`` when a match cuts a
    character (`\\C`): they may rejoin into whole characters, cel-cpp's result then (the
    bound is then on bytes, at least as many as characters)."""
    out = []
    last = size = 0
    for spans in _spans(raw, text):
        piece = piece_of(text[last:spans[0][0]]) + kind().join(
            p if type(p) is kind else piece_of(_span(text, spans[p])) for p in parts)
        size += len(piece)
        if size > MAX_GROWTH:
            raise CelError(f"regex.replace would build a string over {MAX_GROWTH} characters", "resource_exhausted")
        out.append(piece)
        last = spans[0][1]
        left -= 1
        if left == 0:
            break
    out.append(piece_of(text[last:]))
    return out


def _span(text: bytes, span: tuple[int, int]) -> bytes:
    return b"" if span[0] < 0 else text[span[0]:span[1]]


def _one_group(name: str, target: object, pattern: object):  # type: ignore[no-untyped-def]
    if type(target) is not str or type(pattern) is not str:
        raise no_overload(name, target, pattern)
    raw, groups = _compiled(pattern)
    if groups > 1:
        raise CelError(f"regular expression has more than one capturing group: {pattern}", "invalid_argument")
    return raw, groups, utf8(target)


@fn("regex.extract")
def extract(target, pattern):  # type: ignore[no-untyped-def]
    """The first match (its one group, when the pattern has one), or none."""
    raw, groups, text = _one_group("regex.extract", target, pattern)
    for spans in _spans(raw, text):
        return Optional(_text(text, spans[groups]), True)
    return NONE


@fn("regex.extractAll")
def extract_all(target, pattern):  # type: ignore[no-untyped-def]
    """Every match (its one group, when the pattern has one) that is not empty."""
    raw, groups, text = _one_group("regex.extractAll", target, pattern)
    return [s for s in (_text(text, spans[groups]) for spans in _spans(raw, text)) if s]
