"""The request target, made canonical once: what the policy decides on is what the upstream gets.

>>> canonical_path("/v1/x/../chat//completions")
('/v1/chat/completions', '/v1/chat/completions')
>>> canonical_path("/v1/models/caf%C3%A9:generateContent")
('/v1/models/café:generateContent', '/v1/models/caf%C3%A9:generateContent')
>>> canonical_path("/v1/%2e%2e/admin")
Traceback (most recent call last):
...
aigw_policy.gateway.paths.PathError: the path has an encoded `.` (%2E)

The rules (docs/gateway.md, "Hostile input"): dot segments are removed (RFC 3986 §5.2.4) and
empty segments collapsed (``//``, as nginx's ``merge_slashes``); percent-escapes of
unreserved and other characters are decoded; a path whose meaning depends on who decodes it
is refused: an encoded ``/ \\ . % ? # ;``, a backslash or ``;`` anywhere, a control
character (NUL, CR, LF, ...) raw or encoded, a ``%`` that is not followed by two hex digits,
bytes that are not UTF-8. The forwarded form is the canonical path percent-encoded again,
so the upstream decodes exactly the path the policy saw.

The ``Host`` header joins the path in the URL the policy reads (``req.url.*``), so it must be
a host and nothing more (:func:`valid_host`): ``Host: x/v1/chat#`` would otherwise move the
path the policy sees.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

__all__ = ["PathError", "canonical_path", "canonical_scope", "encode_path", "encode_segment", "valid_host"]

_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?")

# pchar (RFC 3986 §3.3) without `;` (a parameter separator to some servers) and `%`
_SAFE = "/:@!$&'()*+,=-._~"
_HEX = frozenset(b"0123456789abcdefABCDEF")
_PLAIN = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9:@!$&'()*+,=._~-]+)+/?")
"""A path that is canonical as it stands: segments of unreserved characters (nothing encoded,
no `.` or `..` segment, no empty one), an optional trailing `/`."""
_ENCODED = {ord("/"): "/", ord("\\"): "\\", ord("."): ".", ord("%"): "%", ord("?"): "?", ord("#"): "#",
            ord(";"): ";"}


class PathError(ValueError):
    """A request path the gateway refuses (answered with 400)."""


def encode_path(path: str) -> str:
    """A decoded canonical path, percent-encoded for the wire."""
    return quote(path, safe=_SAFE)


def encode_segment(text: str) -> str:
    """One path segment, percent-encoded for the wire (a `/` in it is encoded)."""
    return quote(text, safe=_SAFE.replace("/", ""))


def canonical_path(raw: str) -> tuple[str, str]:
    """``(decoded, encoded)`` canonical forms of a raw (still percent-encoded) path, or
    :class:`PathError` saying what makes it ambiguous."""
    if _PLAIN.fullmatch(raw):  # the usual API path: nothing to decode or resolve
        return raw, raw
    if not raw.startswith("/"):
        raise PathError("the request target must be a path starting with `/`")
    out = bytearray()
    data = raw.encode("utf-8")
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x25:  # %
            if i + 2 >= n or data[i + 1] not in _HEX or data[i + 2] not in _HEX:
                raise PathError("the path has a `%` that is not followed by two hex digits")
            b = int(data[i + 1:i + 3], 16)
            if b in _ENCODED:
                raise PathError(f"the path has an encoded `{_ENCODED[b]}` (%{b:02X})")
            i += 3
        else:
            if b in (0x5C, 0x3B):
                raise PathError(f"the path has a `{chr(b)}`")
            i += 1
        if b < 0x20 or b == 0x7F:
            raise PathError(f"the path has a control character (0x{b:02X})")
        out.append(b)
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise PathError("the path is not UTF-8 once decoded") from None
    segments: list[str] = []
    parts = text.split("/")[1:]
    for part in parts:
        if part == "..":
            if segments:
                segments.pop()
        elif part not in (".", ""):
            segments.append(part)
    last = parts[-1] if parts else ""
    trailing = bool(segments) and last in ("", ".", "..")
    decoded = "/" + "/".join(segments) + ("/" if trailing else "")
    return decoded, encode_path(decoded)


def valid_host(host: str) -> bool:
    """Whether a ``Host`` header is a host name or address with an optional port."""
    m = _HOST.fullmatch(host)
    return m is not None and (m.group(1) is None or int(m.group(1)) <= 65535)


_KNOWN: dict[bytes, tuple[str, bytes]] = {}
"""Raw paths seen (up to :data:`_KNOWN_LEN` bytes) -> their canonical ``(path, raw_path)``:
an API gateway sees a handful of paths, and the dict lookup is ~1/30 of making one
canonical on the live process (a regex match, two codec calls; docs/gateway.md, "Seventh
pass"). Paths that fail are not kept; the whole dict is dropped once it holds
:data:`_KNOWN_MAX` (a client sending ever new paths costs what it cost before)."""
_KNOWN_MAX = 1024
_KNOWN_LEN = 256


def canonical_scope(scope: dict[str, Any]) -> dict[str, Any]:
    """``scope`` with its path made canonical (:func:`canonical_path`): the policy
    decides on ``path`` and the app forwards ``raw_path``, the same path encoded."""
    raw = scope.get("raw_path")
    known = _KNOWN.get(raw) if type(raw) is bytes else None
    if known is None:
        try:
            text = raw.decode("ascii") if raw is not None else encode_path(scope["path"])
        except UnicodeDecodeError:
            raise PathError("the path has a byte that is not ASCII") from None
        decoded, encoded = canonical_path(text)
        known = (decoded, encoded.encode("ascii"))
        if type(raw) is bytes and len(raw) <= _KNOWN_LEN:
            if len(_KNOWN) >= _KNOWN_MAX:
                _KNOWN.clear()
            _KNOWN[raw] = known
    if known[0] == scope["path"] and raw == known[1]:
        return scope
    return {**scope, "path": known[0], "raw_path": known[1]}
