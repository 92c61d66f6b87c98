"""Decoding CEL literal tokens (numbers, strings, bytes) exactly as langdef.md says.

Each decoder takes the token text as written and returns the value, or raises
:class:`LiteralError` with the offending range relative to the start of the token.
"""

from __future__ import annotations

__all__ = ["INT64_MAX", "INT64_MIN", "UINT64_MAX", "LiteralError", "decode_bytes",
           "decode_int", "decode_string", "decode_uint"]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1

_SIMPLE = {
    "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11,
    "\\": 92, "?": 63, '"': 34, "'": 39, "`": 96,
}
_HEX = frozenset("0123456789abcdefABCDEF")


class LiteralError(ValueError):
    """An invalid literal; ``start``/``end`` are offsets inside the token text."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


def _shown(text: str) -> str:
    return text if len(text) <= 32 else text[:29] + "..."


def _digits_value(digits: str) -> int | None:
    """The value of decimal or ``0x`` hex digits, or None when far past 64 bits (Python
    refuses to convert very long digit strings, and there is no point in trying)."""
    if digits[:2] == "0X":
        raise LiteralError("a hex literal starts with a lower-case `0x`", 0, 2)
    hex_ = digits[:2] == "0x"
    body = (digits[2:] if hex_ else digits).lstrip("0")
    if len(body) > (17 if hex_ else 21):
        return None
    return int(body or "0", 16 if hex_ else 10)


def decode_int(text: str, negative: bool = False) -> int:
    """An int64 literal (decimal or ``0x`` hex), negated when written with a ``-``."""
    value = _digits_value(text)
    if value is not None:
        value = -value if negative else value
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise LiteralError(f"integer literal `{'-' if negative else ''}{_shown(text)}` "
                           "does not fit in 64 bits", 0, len(text))
    return value


def decode_uint(text: str) -> int:
    """A uint64 literal such as ``42u`` or ``0xFFU``."""
    value = _digits_value(text[:-1])
    if value is None or value > UINT64_MAX:
        raise LiteralError(f"unsigned literal `{_shown(text)}` does not fit in 64 bits",
                           0, len(text))
    return value


def _split(text: str) -> tuple[bool, int, int]:
    """(raw, body start, body end) of a string token without its ``b`` prefix."""
    raw = text[:1] in ("r", "R")
    start = 1 if raw else 0
    quote = text[start:start + 3]
    width = 3 if quote in ('"""', "'''") and len(text) - start >= 6 else 1
    return raw, start + width, len(text) - width


def _lf(text: str) -> str:
    """A line break written in a literal is ``\\n`` whatever the file's line endings (CR LF or
    CR), raw or not, as cel-go's ``unescape`` and cel-cpp read it (the escape ``\\r`` stays)."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def decode_string(text: str) -> str:
    """The value of a string literal token (with its quotes and optional ``r`` prefix)."""
    raw, start, end = _split(text)
    if raw:
        return _lf(text[start:end])
    return "".join(_units(text, start, end, is_bytes=False))  # type: ignore[arg-type]


def decode_bytes(text: str) -> bytes:
    """The value of a bytes literal token (``b'...'``, ``br'...'``, ...)."""
    raw, start, end = _split(text[1:])
    if raw:
        return _lf(text[1 + start:1 + end]).encode("utf-8")
    out = bytearray()
    for unit in _units(text, start + 1, end + 1, is_bytes=True):
        if isinstance(unit, int):
            out.append(unit)
        else:
            out += unit.encode("utf-8")
    return bytes(out)


def _units(text: str, start: int, end: int, *, is_bytes: bool):
    """Yield str pieces (and, for bytes, octet ints for numeric escapes)."""
    i = start
    plain = start
    while i < end:
        if text[i] != "\\":
            i += 1
            continue
        if plain < i:
            yield _lf(text[plain:i])
        value, i = _escape(text, i, end, is_bytes=is_bytes)
        yield value
        plain = i
    if plain < end:
        yield _lf(text[plain:end])


def _escape(text: str, i: int, end: int, *, is_bytes: bool) -> tuple[str | int, int]:
    """Decode the escape at ``text[i] == '\\'``; return (piece, next index)."""
    c = text[i + 1] if i + 1 < end else ""
    if c in _SIMPLE and c:
        return chr(_SIMPLE[c]), i + 2
    if c in ("x", "X"):
        digits = text[i + 2:i + 4]
        if len(digits) != 2 or not set(digits) <= _HEX:
            raise LiteralError("`\\x` must be followed by two hex digits", i, i + 2)
        code = int(digits, 16)
        return (code if is_bytes else chr(code)), i + 4
    if c in "0123":
        digits = text[i + 1:i + 4]
        if len(digits) != 3 or not set(digits) <= set("01234567"):
            raise LiteralError("an octal escape needs three digits from `\\000` to `\\377`",
                               i, i + 2)
        code = int(digits, 8)
        return (code if is_bytes else chr(code)), i + 4
    if c in ("u", "U"):
        width = 4 if c == "u" else 8
        if is_bytes:
            raise LiteralError(f"`\\{c}` escapes are not allowed in bytes literals", i, i + 2)
        digits = text[i + 2:i + 2 + width]
        if len(digits) != width or not set(digits) <= _HEX:
            raise LiteralError(f"`\\{c}` must be followed by {width} hex digits", i, i + 2)
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDFFF:
            raise LiteralError(f"`\\{c}{digits}` is a surrogate, not a code point", i,
                               i + 2 + width)
        if code > 0x10FFFF:
            raise LiteralError(f"`\\{c}{digits}` is not a Unicode code point", i, i + 2 + width)
        return chr(code), i + 2 + width
    shown = c if c and c.isprintable() else repr(c)[1:-1]
    raise LiteralError(f"invalid escape `\\{shown}`", i, min(i + 2, end))
