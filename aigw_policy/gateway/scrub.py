"""The gateway's own credential out of what an upstream answers (SPEC §12: a provider key is
never shown to a client). An upstream may quote the key it was sent: an error body naming the
refused key, a redirect's ``Location`` with ``?key=``, a test server that echoes its request.
The gateway knows that key (it added it), so it replaces it by ``***`` in the answer's header
values and body, as the answer streams through.

>>> s = Scrubber(b"sk-secret-1")
>>> s.feed(b"your key sk-sec") + s.feed(b"ret-1 was refused") + s.flush()
b'your key *** was refused'
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["MASK", "MIN_SECRET", "AccountIds", "Scrubber", "url_secrets"]


class Scrubber:
    """Replaces a secret by ``***`` in a byte stream: the longest tail of a chunk that could
    begin the secret is held back until the next chunk shows whether it does (or the end), so
    a secret split across chunks is caught too; nothing else is ever held. A secret shorter
    than :data:`MIN_SECRET` bytes is no real key: scrubbing it would mangle answers."""

    __slots__ = ("pending", "secret")

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.pending = b""

    @classmethod
    def of(cls, secret: str | bytes | None) -> Scrubber | None:
        """The scrubber of ``secret`` (text: as UTF-8), None when there is none worth one."""
        if secret is None or len(secret) < MIN_SECRET:
            return None
        return cls(secret.encode("utf-8") if isinstance(secret, str) else secret)

    def whole(self, data: bytes) -> bytes:
        """``data`` scrubbed, as a whole (a header value, a body read to its end)."""
        return data.replace(self.secret, MASK)

    def feed(self, chunk: bytes) -> bytes:
        secret = self.secret
        data = (self.pending + chunk).replace(secret, MASK)
        # the leftmost place in the last len(secret) - 1 bytes from which the rest begins the secret
        i = data.find(secret[:1], max(0, len(data) - len(secret) + 1))
        while i >= 0 and not secret.startswith(data[i:]):
            i = data.find(secret[:1], i + 1)
        if i < 0:
            self.pending = b""
            return data
        self.pending = data[i:]
        return data[:i]

    def flush(self) -> bytes:
        out, self.pending = self.pending, b""
        return out


@lru_cache(maxsize=256)
def url_secrets(url: str) -> tuple[str, ...]:
    """What an upstream URL the operator wrote holds that an answer must not quote: its
    password (as written and decoded), the ``Basic`` value sent of its userinfo
    (:class:`~.http_wire.Origin`) and its credential-like query values (as written and decoded;
    :func:`~aigw_policy.redact.redact` hides the same names in logs). Cached: a routed
    provider's ``base_url`` is asked for each attempt.

    >>> url_secrets("http://u:pw-123456@h/b/?key=AIza%2D1234&v=1")
    ('pw-123456', 'AIza%2D1234', 'AIza-1234', 'dTpwdy0xMjM0NTY=')
    """
    import base64
    from urllib.parse import unquote, urlsplit

    from ..redact import url_secrets as written

    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:  # the client refuses it when used (its message holds no userinfo)
        return ()
    found = [form for secret in written(url) for form in dict.fromkeys((secret, unquote(secret)))]
    if user is not None:
        found.append(base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode()).decode())
    return tuple(found)


MIN_SECRET = 8
"""Bytes of a key below which it is not scrubbed from answers (see :class:`Scrubber`)."""
MASK = b"***"


class AccountIds:
    """An error answer to the gateway's key, without the ids of the account it belongs to that
    the provider's message quotes (:func:`~aigw_policy.redact.account_ids`: "Rate limit
    reached for gpt-4o in organization org-..."), as it streams through: a chunk's last word
    (after its last space, quote or comma: an id has none) is held back until the next chunk
    or the end, so an id split across chunks is caught too; at most :data:`HELD` bytes."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = b""

    def whole(self, data: bytes) -> bytes:
        from ..redact import account_ids

        return account_ids(data)  # type: ignore[return-value]

    def feed(self, chunk: bytes) -> bytes:
        data = self.pending + chunk
        cut = max(data.rfind(b" "), data.rfind(b'"'), data.rfind(b","), data.rfind(b"'"), data.rfind(b"\n")) + 1
        if len(data) - cut > HELD:
            cut = len(data)
        self.pending = data[cut:]
        return self.whole(data[:cut])

    def flush(self) -> bytes:
        out, self.pending = self.whole(self.pending), b""
        return out


HELD = 256
"""Bytes of a chunk's last word :class:`AccountIds` holds back at most."""
