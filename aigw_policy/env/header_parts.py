"""ngrok's variables that are a header read apart (https://ngrok.com/docs/traffic-policy/variables/):
``req.cookies`` (the ``Cookie`` header), ``res.cookies`` (each ``Set-Cookie``),
``{req,res}.content_type.parameters``, ``{req,res}.content_encoding`` and
``{req,res}.location``. Without its header each has its empty value (``""``, ``{}``, ``[]``),
as Go's header reads give ngrok: ngrok's A/B example sends a request without a cookie to its
control group through ``'ab_test' in req.cookies && ...``. A value the request gives itself
(REQUEST.json's ``req``/``res`` objects) is applied after these.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

from ..cel.runtime.values import Duration, Timestamp

__all__ = ["content_entries", "header_parts", "parse_cookie", "parse_set_cookie"]

_NS = 1_000_000_000
_SECONDS = re.compile(r"-?[0-9]{1,12}")
_DIGITS = re.compile(r"[0-9]{1,18}")


def content_entries(prefix: str, headers: dict[str, list[str]], act: dict[str, Any]) -> None:
    """``{prefix}.content_type`` (and ``.raw``) and ``{prefix}.content_length`` from lower-cased
    ``headers``: the type empty without its header, the length only when its header is there
    (ASCII digits only: ``int`` takes ``²`` and ``１``). The media type is lower-cased, as Go's
    ``mime.ParseMediaType`` gives it to ngrok (media types are case-insensitive, RFC 9110
    §8.3.1): ``Application/JSON`` is ``application/json``, ngrok's example value; ``.raw`` is
    the header as sent."""
    ctype = headers.get("content-type")
    raw = ctype[0] if ctype else ""
    act[prefix + ".content_type"] = raw.split(";", 1)[0].strip().lower()
    act[prefix + ".content_type.raw"] = raw
    length = headers.get("content-length")
    if length and _DIGITS.fullmatch(length[0].strip()):
        act[prefix + ".content_length"] = int(length[0])


def header_parts(prefix: str, headers: dict[str, list[str]], act: dict[str, Any]) -> None:
    """The entries of ``prefix`` (``req`` or ``res``) read from lower-cased ``headers``."""
    ctype = headers.get("content-type")
    act[prefix + ".content_type.parameters"] = _parameters(ctype[0]) if ctype else {}
    encoding = headers.get("content-encoding") or ()
    act[prefix + ".content_encoding"] = [e.strip() for v in encoding for e in v.split(",") if e.strip()]
    location = headers.get("location")
    act[prefix + ".location"] = location[0] if location else ""
    if prefix == "req":
        cookie = headers.get("cookie")
        act["req.cookies"] = parse_cookie(cookie) if cookie else {}
        # none have arrived when the request phase runs (they follow the body), so ngrok's map
        # is empty; an embedder that has them gives them (REQUEST.json `req.trailers`)
        act["req.trailers"] = {}
    else:
        set_cookie = headers.get("set-cookie")
        act["res.cookies"] = parse_set_cookie(set_cookie) if set_cookie else {}


def _parameters(value: str) -> dict[str, str]:
    """``text/html; charset=UTF-8`` -> ``{"charset": "UTF-8"}`` (names lower-cased, quotes off)."""
    out: dict[str, str] = {}
    for part in value.split(";")[1:]:
        name, eq, val = part.partition("=")
        name = name.strip().lower()
        if name and eq:
            out[name] = _unquote(val.strip())
    return out


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_COOKIE_VALUE = re.compile(r"[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*")
"""The bytes Go's ``validCookieValueByte`` takes: printable ASCII and space, but ``"``, ``;``
and a backslash."""


def _cookie_value(raw: str) -> str | None:
    """Go's ``parseCookieValue``: the surrounding double quotes off; ``None`` (the cookie is
    dropped) for a value with a byte Go's ``validCookieValueByte`` refuses (a ``"`` inside, a
    ``\\``, a control or non-ASCII character)."""
    if len(raw) > 1 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    return raw if _COOKIE_VALUE.fullmatch(raw) else None


def parse_cookie(values: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The ``Cookie`` header(s): name -> its cookies (``{name, value}``) in header order, as Go's
    ``net/http`` reads them (ngrok's): a pair without ``=`` is a cookie with the value ``""``;
    one whose name is no token, or whose value has a byte a cookie may not hold, is dropped."""
    out: dict[str, list[dict[str, Any]]] = {}
    for header in values:
        for pair in header.split(";"):
            name, _, raw = pair.strip(" \t").partition("=")
            name = name.strip(" \t")
            value = _cookie_value(raw) if _TOKEN.fullmatch(name) else None
            if value is not None:
                out.setdefault(name, []).append({"name": name, "value": value})
    return out


def parse_set_cookie(values: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each ``Set-Cookie`` header: name -> its cookies, with ngrok's fields (``path``,
    ``domain``, ``expires`` a timestamp, ``max_age`` a duration, ``secure``, ``http_only``,
    ``same_site``, and ``unparsed_attributes`` for the rest)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for header in values:
        first, *attributes = header.split(";")
        name, eq, raw = first.strip(" \t").partition("=")
        name = name.strip(" \t")
        value = _cookie_value(raw) if eq and _TOKEN.fullmatch(name) else None
        if value is None:  # Go's readSetCookies drops it
            continue
        cookie: dict[str, Any] = {"name": name, "value": value, "path": "", "domain": "",
                                  "secure": False, "http_only": False, "same_site": "",
                                  "unparsed_attributes": {}}
        for attribute in attributes:
            key, _, val = attribute.strip().partition("=")
            _attribute(cookie, key.strip(), val.strip())
        out.setdefault(name, []).append(cookie)
    return out


def _attribute(cookie: dict[str, Any], key: str, value: str) -> None:
    low = key.lower()
    if low in ("path", "domain"):
        cookie[low] = value
    elif low in ("secure", "httponly"):
        cookie["secure" if low == "secure" else "http_only"] = True
    elif low == "samesite":
        cookie["same_site"] = value
    elif low == "max-age" and _SECONDS.fullmatch(value):
        cookie["max_age"] = Duration(int(value) * _NS)
    elif low == "expires" and (when := _http_date(value)) is not None:
        cookie["expires"] = when
    elif key:
        cookie["unparsed_attributes"][key] = value


def _http_date(value: str) -> Timestamp | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return Timestamp(int(when.timestamp()) * _NS)
