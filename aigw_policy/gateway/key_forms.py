"""The spellings of the gateway key a client may re-send it in (serve28): as written, its
Latin-1 reading, percent-encoded (any characters of it, once or more), base64 (standard or
URL-safe alphabet, at any of the three alignments, so inside ``Basic base64(user:key)`` or a
token that wraps it too) and hex (lower or upper case). serve21 dropped a header or query parameter
that held the key as written; ``x-custom: <base64 of the key>`` still went upstream.

A base64 form is the run of characters that the key's bytes alone decide at its alignment
(no padding, no character shared with what comes before or after), so it is found wherever
the key sits in the encoded bytes.

>>> holds_key("Basic " + __import__("base64").b64encode(b"u:sk-abcdefgh").decode(), "sk-abcdefgh")
True
>>> holds_key("%73%6b%2d%61bcdefgh", "sk-abcdefgh"), holds_key("736B2D6162636465666768", "sk-abcdefgh")
(True, True)
>>> holds_key("sk-abcdefg", "sk-abcdefgh"), holds_key("*/*", "sk-abcdefgh")
(False, False)
"""

from __future__ import annotations

import base64
import functools
import re
from urllib.parse import unquote

from .scrub import MIN_SECRET

__all__ = ["body_holds_key", "holds_key", "key_forms"]

_DECODES = 3
"""Percent-decodings at most (a key encoded twice, ``%2573``, is one the upstream may decode twice)."""


@functools.lru_cache(maxsize=256)
def key_forms(secret: str) -> tuple[str, ...]:
    """The forms of ``secret`` looked for (module docstring), itself first."""
    raw = secret.encode("utf-8")
    forms = {secret, raw.decode("latin-1"), secret.encode("latin-1", "replace").decode("latin-1")}
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode("ascii")
        run = encoded[-(-8 * pad // 6):8 * (pad + len(raw)) // 6]
        forms |= {run, run.translate(_URL_SAFE)}
    forms |= {raw.hex(), raw.hex().upper()}
    forms.discard(secret)
    return (secret, *sorted(forms))


_URL_SAFE = str.maketrans("+/", "-_")


def holds_key(value: str, secret: str) -> bool:
    """Whether ``value`` (a header's value as Latin-1, a query string) holds ``secret`` in any
    of its forms, percent-decoded up to :data:`_DECODES` times. A substring search per form
    (~0.1 us each over an SDK's headers joined; one regular expression of them all took 5x)."""
    forms = key_forms(secret)
    for _ in range(_DECODES + 1):
        for form in forms:
            if form in value:
                return True
        if "%" not in value or (decoded := unquote(value, encoding="latin-1")) == value:
            return False
        value = decoded
    return False


@functools.lru_cache(maxsize=256)
def _body_forms(secret: str) -> tuple[bytes, ...]:
    """:func:`key_forms` as a body's bytes hold them (UTF-8), each once."""
    return tuple(dict.fromkeys(form.encode("utf-8") for form in key_forms(secret)))


def body_holds_key(body: bytes, secret: str | None, content_type: str) -> bool:
    """Whether a request ``body`` holds ``secret`` (the gateway key its client authenticated
    with; one shorter than :data:`~.scrub.MIN_SECRET` is no real key): any form of
    :func:`key_forms` as bytes (a ``bytes in`` search each, 6 for an ASCII key: ~3 us for 110 bytes, ~0.8 ms a MiB), and in a
    ``x-www-form-urlencoded`` body holding a ``%`` percent-encoded too, as its upstream decodes
    it. A body holding JSON's escape of an ASCII character (``\\u0073``) or of a slash (``\\/``,
    PHP's ``json_encode`` escapes every ``/`` of a base64 form) is searched once more with those
    undone (:func:`_unescaped`): the upstream's JSON parser undoes them, and the key went to the
    provider (serve30: it was left as "a client writing its own key so means to send it", but a
    serializer that escapes writes it so without anyone meaning to). Two more ``bytes in``
    searches per body; the second search only for a body holding such an escape (a Python SDK's
    ``ensure_ascii`` escapes only non-ASCII text).

    >>> body_holds_key(b'{"content": "my key sk-abcdefgh"}', "sk-abcdefgh", "application/json")
    True
    >>> body_holds_key(b"a=sk-%61bcdefgh", "sk-abcdefgh", "application/x-www-form-urlencoded")
    True
    >>> body_holds_key(b'{"content": "sk-%61bcdefgh"}', "sk-abcdefgh", "application/json")
    False
    >>> body_holds_key(b'{"content": "sk-\\\\u0061bcdefgh"}', "sk-abcdefgh", "application/json")
    True
    """
    if secret is None or len(secret) < MIN_SECRET:
        return False
    forms = _body_forms(secret)
    for form in forms:
        if form in body:
            return True
    if b"\\u00" in body or b"\\/" in body:
        unescaped = _unescaped(body)
        if any(form in unescaped for form in forms):
            return True
    return (b"%" in body and "x-www-form-urlencoded" in content_type.lower()
            and holds_key(body.decode("latin-1"), secret))


_ESCAPE = re.compile(rb"\\u00[0-7][0-9A-Fa-f]|\\/")
"""JSON's escape of an ASCII character, and of a slash. A key's non-ASCII characters escaped are
not looked for (a key travels in a header: ASCII; each form but the key itself is ASCII)."""


def _unescaped(body: bytes) -> bytes:
    """``body`` with :data:`_ESCAPE`'s escapes undone (a ``\\\\u0073``, an escaped backslash
    before ``u0073``, too: a body writing out the key's escape so is refused as well)."""
    return _ESCAPE.sub(lambda m: b"/" if m[0] == b"\\/" else bytes((int(m[0][2:], 16),)), body)
