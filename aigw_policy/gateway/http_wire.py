"""What the gateway's HTTP/1.1 client writes: the origin a URL names (the pool's key, the
socket's address, TLS, the ``host`` header) and the request's line and header block, every
name and value checked before a byte is sent (no header injection, no second framing)."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote, urlsplit

from .._version import __version__
from .http_answer import UpstreamError

__all__ = ["Origin", "request_head", "split_url"]

_USER_AGENT = f"aigw-policy/{__version__}".encode()
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_NAMES = re.compile(_TOKEN + rb"(?:\n" + _TOKEN + rb")*")
_METHOD = re.compile(_TOKEN)
_VALUE_BAD = re.compile(rb"[\x00\r]")
_TARGET_BAD = re.compile(rb"[\x00-\x20\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_ORIGINS = 1024


class Origin:
    """Where a URL's requests go: the pool key, the socket's address, TLS, the ``host`` header."""

    __slots__ = ("key", "host", "port", "tls", "host_header", "auth")

    def __init__(self, scheme: str, authority: str) -> None:
        shown = f"{scheme}://{authority.rpartition('@')[2]}"  # never the userinfo's password in an error
        try:
            parts = urlsplit(f"{scheme}://{authority}")
        except ValueError as error:  # `[::1` (urllib's message holds no userinfo)
            raise UpstreamError(f"not an http(s) URL: `{shown}` ({error})") from None
        if scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"not an http(s) URL: `{shown}`")
        try:
            port = parts.port
        except ValueError as error:
            raise UpstreamError(f"not an http(s) URL: {error}") from None
        self.tls = scheme == "https"
        self.host = parts.hostname
        default = 443 if self.tls else 80
        self.port = port if port is not None else default
        self.key = (scheme, self.host, self.port)
        host = f"[{self.host}]" if ":" in self.host else self.host
        if port is not None and port != default:
            host = f"{host}:{port}"
        self.host_header = host.encode("idna") if not host.isascii() else host.encode()
        self.auth = None
        if parts.username is not None:  # http://user:pass@host: Basic credentials, as aiohttp sends them
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.auth = b"Basic " + base64.b64encode(pair)



def split_url(url: str, origins: dict[str, Origin]) -> tuple[Origin, bytes]:
    """The origin ``url`` names (kept in ``origins``, at most 1024 of them) and its target
    as it goes on the wire."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        first, slash, rest = url[:200].partition("/")
        raise UpstreamError(f"not an absolute URL: `{first.rpartition('@')[2]}{slash}{rest}`")
    cut = len(rest)
    for mark in "/?#":
        i = rest.find(mark)
        if 0 <= i < cut:
            cut = i
    authority, target = rest[:cut], rest[cut:]
    if target.startswith("#"):
        target = ""
    target = target.partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    origin = origins.get(scheme + "://" + authority)
    if origin is None:
        origin = Origin(scheme.lower(), authority)
        if len(origins) >= _MAX_ORIGINS:
            origins.clear()
        origins[scheme + "://" + authority] = origin
    try:  # a raw path read as latin-1 goes out as it came
        raw = target.encode("latin-1")
    except UnicodeEncodeError:
        raw = target.encode("utf-8")
    if _TARGET_BAD.search(raw):
        raise ValueError("the request target has a space or a control character")
    return origin, raw


def request_head(method: str, target: bytes, origin: Origin, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """The request's line and header block, every name and value checked."""
    names = b"\n".join([k for k, _ in headers])
    if headers and (not _NAMES.fullmatch(names) or names.count(b"\n") != len(headers) - 1):
        raise ValueError("a request header's name is not an HTTP token")
    values = b"\n".join([v for _, v in headers])
    if _VALUE_BAD.search(values) or values.count(b"\n") != max(len(headers) - 1, 0):
        raise ValueError("a request header's value has CR, LF or NUL")
    if not _METHOD.fullmatch(method.encode("latin-1", "replace")):
        raise ValueError(f"not an HTTP method: `{method[:40]}`")
    lines = [b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (method.encode(), target, origin.host_header)]
    lower = b"\n" + names.lower() + b"\n"
    if b"\nhost\n" in lower or b"\ncontent-length\n" in lower or b"\ntransfer-encoding\n" in lower:
        raise ValueError("`host`, `content-length` and `transfer-encoding` are the client's to write")
    lines += [k + b": " + v + b"\r\n" for k, v in headers]
    if b"\nuser-agent\n" not in lower:
        lines.append(b"user-agent: " + _USER_AGENT + b"\r\n")
    if origin.auth is not None and b"\nauthorization\n" not in lower:
        lines.append(b"authorization: " + origin.auth + b"\r\n")
    if body or method in _BODY_METHODS:
        lines.append(b"content-length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    return b"".join(lines)
