"""ngrok's Traffic Policy macros (https://ngrok.com/docs/traffic-policy/macros/).

Functions that read the request or response (``getReqHeader``, ``getReqCookie``, ...)
take the activation as their first argument; :data:`ACTIVATION_FUNCTIONS` lists them.
The rest are pure. Receiver-style functions (``'x'.sha256()``) are keyed ``.name`` as in
:mod:`.stdlib`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import random
import re
import struct
import urllib.parse
import zlib
from collections.abc import Mapping
from decimal import Decimal

from ..cel.runtime import stdlib
from ..cel.runtime.network import unmapped
from ..cel.runtime.checks import no_overload
from ..cel.runtime.values import CelError, Duration, Timestamp, utf8
from .url_parts import decoded_path, parse_query

__all__ = ["FUNCTIONS", "ACTIVATION_FUNCTIONS", "lookup"]

_MISSING = object()


def lookup(act: Mapping, name: str) -> object:
    """A policy variable from the activation: a flat dotted key, else nested mappings."""
    try:
        return act[name]
    except (KeyError, TypeError):
        pass
    cur: object = act
    for part in name.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


# -- request and response ---------------------------------------------------------------
def _values(m: object, name: object, fn: str) -> list:
    if type(name) is not str:
        raise no_overload(fn, name)
    if not isinstance(m, Mapping):
        return []
    v = m.get(name.lower(), _MISSING)
    if v is _MISSING:
        v = m.get(name, _MISSING)
    if v is _MISSING or v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def get_req_header(act: Mapping, name: object) -> list:
    return _values(lookup(act, "req.headers"), name, "getReqHeader")


def has_req_header(act: Mapping, name: object) -> bool:
    return bool(get_req_header(act, name))


def _response(act: Mapping, var: str) -> object:
    """``res.headers`` or ``res.cookies`` for the ``*Res*`` macros, which ngrok has in
    ``on_http_response`` only: where the activation has no response (the request phase), a
    call fails as reading the variable does (``no such attribute``), not ``false`` or ``[]``:
    ``hasResHeader('x')`` and ``'x' in res.headers`` fail alike, closed by ``on_error``."""
    m = lookup(act, var)
    if m is _MISSING:
        raise CelError(f"no such attribute: '{var}' (there is no response in the request phase)",
                       "unknown_variable")
    return m


def get_res_header(act: Mapping, name: object) -> list:
    if type(name) is not str:
        raise no_overload("getResHeader", name)
    return _values(_response(act, "res.headers"), name, "getResHeader")


def has_res_header(act: Mapping, name: object) -> bool:
    return bool(get_res_header(act, name))


def get_query_param(act: Mapping, name: object) -> list:
    m = lookup(act, "req.url.query_params")
    if type(name) is not str:
        raise no_overload("getQueryParam", name)
    if not isinstance(m, Mapping) or name not in m:
        return []
    v = m[name]
    return list(v) if isinstance(v, (list, tuple)) else [v]


def has_query_param(act: Mapping, name: object) -> bool:
    m = lookup(act, "req.url.query_params")
    if type(name) is not str:
        raise no_overload("hasQueryParam", name)
    return isinstance(m, Mapping) and name in m


def _cookie(act: Mapping, var: str, name: object, fn: str) -> object:
    if type(name) is not str:
        raise no_overload(fn, name)
    m = lookup(act, var) if var.startswith("req.") else _response(act, var)
    found = m.get(name) if isinstance(m, Mapping) else None
    if isinstance(found, (list, tuple)):
        found = found[0] if found else None
    if found is None:
        raise CelError(f"no such cookie: '{name}'", "no_such_key")
    return found


def get_req_cookie(act: Mapping, name: object) -> object:
    return _cookie(act, "req.cookies", name, "getReqCookie")


def has_req_cookie(act: Mapping, name: object) -> bool:
    if type(name) is not str:
        raise no_overload("hasReqCookie", name)
    m = lookup(act, "req.cookies")
    return isinstance(m, Mapping) and bool(m.get(name))


def get_res_cookie(act: Mapping, name: object) -> object:
    return _cookie(act, "res.cookies", name, "getResCookie")


def has_res_cookie(act: Mapping, name: object) -> bool:
    if type(name) is not str:
        raise no_overload("hasResCookie", name)
    m = _response(act, "res.cookies")
    return isinstance(m, Mapping) and bool(m.get(name))


def secrets_get(act: Mapping, vault: object, name: object) -> str:
    if type(vault) is not str or type(name) is not str:
        raise no_overload("secrets.get", vault, name)
    m = lookup(act, "secrets")
    v = m.get(vault) if isinstance(m, Mapping) else None
    v = v.get(name) if isinstance(v, Mapping) else None
    if type(v) is not str:
        raise CelError(f"no such secret: '{vault}/{name}'", "no_such_key")
    return v


ACTIVATION_FUNCTIONS = {
    "getReqHeader": get_req_header,
    "hasReqHeader": has_req_header,
    "getResHeader": get_res_header,
    "hasResHeader": has_res_header,
    "getQueryParam": get_query_param,
    "hasQueryParam": has_query_param,
    "getReqCookie": get_req_cookie,
    "hasReqCookie": has_req_cookie,
    "getResCookie": get_res_cookie,
    "hasResCookie": has_res_cookie,
    "secrets.get": secrets_get,
}


# -- hashes -----------------------------------------------------------------------------
def _crc64_table() -> list[int]:
    poly = 0xD800000000000000  # ISO 3309, reflected
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64 = _crc64_table()
_M64 = (1 << 64) - 1


def _crc64(data: bytes) -> bytes:
    crc = _M64
    for b in data:
        crc = _CRC64[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return struct.pack(">Q", crc ^ _M64)


_P1, _P2, _P3, _P4, _P5 = (
    11400714785074694791, 14029467366897019727, 1609587929392839161,
    9650029242287828579, 2870177450012600261,
)  # fmt: skip


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M64, 31) * _P1) & _M64


def _xxh64(data: bytes, seed: int = 0) -> bytes:
    n = len(data)
    i = 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M64, (seed + _P2) & _M64, seed, (seed - _P1) & _M64]
        while i + 32 <= n:
            lanes = struct.unpack_from("<4Q", data, i)
            v = [_round(a, b) for a, b in zip(v, lanes)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M64
        for a in v:
            h = ((h ^ _round(0, a)) * _P1 + _P4) & _M64
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while i + 8 <= n:
        (lane,) = struct.unpack_from("<Q", data, i)
        h = (_rotl(h ^ _round(0, lane), 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        (lane,) = struct.unpack_from("<I", data, i)
        h = (_rotl(h ^ (lane * _P1) & _M64, 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h = (_rotl(h ^ (data[i] * _P5) & _M64, 11) * _P1) & _M64
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M64
    h ^= h >> 29
    h = (h * _P3) & _M64
    h ^= h >> 32
    return struct.pack(">Q", h)


_DIGESTS = {
    "md5": lambda d: hashlib.md5(d).digest(),  # noqa: S324 - ngrok's macro, not for security
    "sha1": lambda d: hashlib.sha1(d).digest(),  # noqa: S324
    "sha256": lambda d: hashlib.sha256(d).digest(),
    "sha512": lambda d: hashlib.sha512(d).digest(),
    "crc32": lambda d: struct.pack(">I", zlib.crc32(d)),
    "crc64": _crc64,
    "xxhash64": _xxh64,
}


def _hasher(name: str):  # type: ignore[no-untyped-def]
    digest = _DIGESTS[name]

    def f(s: object, fmt: object = "hex") -> str:
        if type(s) is not str or type(fmt) is not str:
            raise no_overload(name, s, fmt)
        d = digest(utf8(s))
        if fmt == "hex":
            return d.hex()
        if fmt == "base64":
            return base64.b64encode(d).decode("ascii")
        raise CelError(f"unknown hash format '{fmt}' (hex or base64)", "invalid_argument")

    return f


# -- JSON, URLs, query strings -----------------------------------------------------------
def _to_json(v: object) -> object:
    if v is None or type(v) in (bool, str, float):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        out: dict[str, object] = {}
        for k, x in v.items():
            name = _json_name(k)
            if name in out:  # {1: a, '1': b}, {true: a, 'true': b}: one JSON name, two keys
                raise CelError(f"cannot encode as JSON: two keys are named {name!r}", "invalid_argument")
            out[name] = _to_json(x)
        return out
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, (Timestamp, Duration)):
        from ..cel.runtime.values import go_text

        return go_text(v)  # cel-go's JSON text of a time value (its string conversion)
    raise CelError(f"cannot encode a value of type {type(v).__name__} as JSON", "invalid_argument")


def _json_name(k: object) -> str:
    if type(k) is str:
        return k  # type: ignore[return-value]
    if type(k) is bool:
        return "true" if k else "false"
    return str(int(k))  # type: ignore[call-overload]


def _json_int(text: str) -> int | float:
    """A JSON integer: a CEL int when it fits in 64 bits, else the double JSON means."""
    n = int(text)
    return n if -(1 << 63) <= n < (1 << 63) else float(text)


def _json_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def json_encode(v: object) -> str:
    """``json.encode`` / ``encodeJson`` as Go's ``encoding/json.Marshal`` writes the value
    (ngrok's: its page prints ``json.decode``'s result as Go's ``map[a:b]``): keys sorted,
    ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, other characters as they are, a double in
    Go's shortest form (``1``, not ``1.0``; ``1e+21``; ``1e-7``)."""
    out: list[str] = []
    _go_json(_to_json(v), out)
    return "".join(out)


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPED = re.compile("[<>&\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_json(v: object, out: list[str]) -> None:
    if v is None or type(v) is bool:
        out.append("null" if v is None else "true" if v else "false")
    elif type(v) is int:
        out.append(str(v))
    elif type(v) is float:
        out.append(_go_float(v))
    elif type(v) is str:
        text = json.dumps(_SURROGATE.sub("\ufffd", v), ensure_ascii=False)
        out.append(_GO_ESCAPED.sub(lambda m: _GO_ESCAPES[m.group()], text))
    elif type(v) is list:
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _go_json(x, out)
        out.append("]")
    else:  # a dict of str keys (_to_json's)
        out.append("{")
        for i, k in enumerate(sorted(v)):  # type: ignore[call-overload]
            if i:
                out.append(",")
            _go_json(k, out)
            out.append(":")
            _go_json(v[k], out)  # type: ignore[index]
        out.append("}")


def _go_float(f: float) -> str:
    """Go's ``encoding/json`` float: fixed notation, but exponent form below 1e-6 and from
    1e21, with the shortest digits that read back (``strconv.AppendFloat(f, fmt, -1, 64)``)."""
    if not math.isfinite(f):
        raise CelError(f"cannot encode as JSON: unsupported value {f}", "invalid_argument")
    if f != 0 and (abs(f) < 1e-6 or abs(f) >= 1e21):
        return re.sub(r"e-0(\d)$", r"e-\1", repr(f))  # Go cleans e-07 to e-7
    return format(Decimal(repr(f)).normalize(), "f")


def json_decode(s: object) -> object:
    if type(s) is not str:
        raise no_overload("json.decode", s)
    try:
        return json.loads(s, parse_int=_json_int, parse_constant=_json_constant)
    except (ValueError, RecursionError) as e:
        raise CelError(f"invalid JSON: {e}", "invalid_argument") from None


def is_json(s: object) -> bool:
    if type(s) is not str:
        raise no_overload("isJson", s)
    try:
        json.loads(s, parse_int=_json_int, parse_constant=_json_constant)
    except (ValueError, RecursionError):
        return False
    return True


def url_escape(s: object) -> str:
    """Go's ``url.QueryEscape``, as ngrok's page shows it (``i;md/r/$y`` is
    ``i%3Bmd%2Fr%2F%24y``: the `$` escaped, which ``PathEscape`` keeps): all but letters,
    digits and ``-_.~`` escaped, a space as ``+``."""
    if type(s) is not str:
        raise no_overload("url.escape", s)
    return urllib.parse.quote_plus(utf8(s), safe="")


def url_unescape(s: object) -> str:
    """Go's ``url.QueryUnescape``, ``url.escape``'s inverse: ``+`` is a space; a ``%`` that
    starts no escape is an error, as are escapes that are no UTF-8 text."""
    if type(s) is not str:
        raise no_overload("url.unescape", s)
    if _BAD_ESCAPE.search(s):
        raise CelError("url.unescape: a `%` not followed by two hex digits", "invalid_argument")
    try:
        return urllib.parse.unquote_plus(s, errors="strict")
    except UnicodeDecodeError:
        raise CelError("url.unescape: the escapes do not decode as UTF-8", "invalid_argument") from None


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def url_parse(s: object) -> dict:
    if type(s) is not str:
        raise no_overload("url.parse", s)
    try:
        u = urllib.parse.urlsplit(s)
        port = u.port
    except ValueError as e:
        raise CelError(f"invalid URL: {e}", "invalid_argument") from None
    out: dict[str, object] = {
        "scheme": u.scheme, "host": u.hostname or "", "path": decoded_path(u.path), "raw_query": u.query,
        "fragment": u.fragment, "user": u.username or "", "query": query_decode(u.query),
    }  # fmt: skip
    if port is not None:
        out["port"] = port
    return out


def is_url(s: object) -> bool:
    if type(s) is not str:
        raise no_overload("isURL", s)
    try:
        u = urllib.parse.urlsplit(s)
    except ValueError:
        return False
    return bool(u.scheme) and bool(u.netloc)


def query_decode(s: object) -> dict:
    if type(s) is not str:
        raise no_overload("queryString.decode", s)
    return parse_query(s)


def query_encode(m: object) -> str:
    if not isinstance(m, dict):
        raise no_overload("queryString.encode", m)
    pairs = []
    for k, v in sorted(((_json_name(k), v) for k, v in m.items()), key=lambda kv: kv[0]):
        for x in v if isinstance(v, (list, tuple)) else [v]:
            pairs.append((utf8(k), utf8(x if type(x) is str else json_encode(x))))
    return urllib.parse.urlencode(pairs)


def is_query_string(s: object) -> bool:
    if type(s) is not str:
        raise no_overload("isQueryString", s)
    try:
        urllib.parse.parse_qsl(s, strict_parsing=True)
    except ValueError:
        return False
    return True


# -- strings, numbers --------------------------------------------------------------------
def basic_auth_encode(user: object, password: object) -> str:
    if type(user) is not str or type(password) is not str:
        raise no_overload("basic_auth.encode", user, password)
    return "Basic " + base64.b64encode(utf8(f"{user}:{password}")).decode("ascii")


def encode_base64(s: object) -> str:
    if type(s) is not str:
        raise no_overload("encodeBase64", s)
    return base64.b64encode(utf8(s)).decode("ascii")


def decode_base64(s: object) -> str:
    """Padded base64, or the same without padding, read by the rule of CEL's
    ``base64.decode`` (Go's ``StdEncoding``, then ``RawStdEncoding``): a partial padding
    (``'YQ='``) is neither, an error; the bytes must be UTF-8 text. Its padding is ``=`` only
    (Go's), where ``base64.decode`` also takes cel-cpp's ``.``."""
    if type(s) is not str:
        raise no_overload("decodeBase64", s)
    try:
        if "." in s:
            raise CelError("invalid base64", "invalid_argument")
        decoded: bytes = stdlib.b64decode(s)
        return decoded.decode("utf-8")
    except CelError:
        raise CelError("invalid base64", "invalid_argument") from None
    except UnicodeDecodeError:
        raise CelError("decodeBase64: the decoded bytes are not UTF-8 text", "invalid_argument") from None


_GO_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
"""Unicode's White_Space characters, Go's ``unicode.IsSpace`` (Python's ``str.split()`` also
splits at U+001C..U+001F, which are not white space)."""


_NONE = object()


def split(s: object, sep: object = _NONE, n: object = _NONE) -> list[str]:
    """ngrok's ``split``: with no separator, the words between runs of white space (its
    documented ``'hello mellow'.split()`` is ``['hello', 'mellow']``, Go's ``strings.Fields``);
    with one, CEL's strings extension; with a count ``n`` too, the first ``n`` parts
    (ngrok's ``'hello,mellow,hi'.split(',', 2)`` is ``['hello', 'mellow']``, and its
    multiplexing example reads a subdomain as ``host.split('.', 1)[0]``), all of them when
    ``n`` is negative."""
    if sep is not _NONE:
        parts: list[str] = stdlib.split(s, sep)
        if n is _NONE:
            return parts
        if type(n) is not int:
            raise no_overload("split", s, sep, n)
        return parts if n < 0 else parts[:n]
    if type(s) is not str:
        raise no_overload("split", s)
    return [w for w in _GO_SPACE.split(s) if w]


def is_private_ip(s: object) -> bool:
    if type(s) is not str:
        raise no_overload("isPrivateIp", s)
    try:
        a = unmapped(ipaddress.ip_address(s))
    except ValueError:
        return False
    if a.version == 4:
        return any(a in n for n in _RFC1918)
    return a in _ULA


_RFC1918 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
_ULA = ipaddress.ip_network("fc00::/7")


def _lower(s: object) -> str:
    if type(s) is not str:
        raise no_overload("lower", s)
    return s.lower() if s.isascii() else "".join(map(_lower_char, s))


def _upper(s: object) -> str:
    if type(s) is not str:
        raise no_overload("upper", s)
    return s.upper() if s.isascii() else "".join(map(_upper_char, s))


# ngrok (Go's strings.ToLower/ToUpper) maps each character alone, by Unicode's simple case
# mapping: one character in, one out, no context. Python's str.lower/upper apply the full
# mapping (U+0130 `İ` -> `i̇`, `ß` -> `SS`) and the final-sigma rule, so they map per character
# and keep only one-character results.
def _lower_char(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else low[0]  # only U+0130 lowers to two: simply `i`


def _upper_char(c: str) -> str:
    up = c.upper()
    if len(up) == 1:
        return up
    title = c.title()  # the simple upper mapping where one exists (`ᾳ` -> `ᾼ`)
    return title if len(title) == 1 else c


def rand_double() -> float:
    return random.random()  # noqa: S311 - ngrok's macro, not for security


def rand_int(lo: object = 0, hi: object = 1) -> int:
    if type(lo) is not int or type(hi) is not int:
        raise no_overload("rand.int", lo, hi)
    if lo < 0 or hi < lo:
        raise CelError("rand.int needs 0 <= min <= max", "invalid_argument")
    return random.randint(lo, hi)  # noqa: S311


FUNCTIONS: dict[str, object] = {
    "basic_auth.encode": basic_auth_encode,
    "json.encode": json_encode, ".encodeJson": json_encode,
    "json.decode": json_decode, ".decodeJson": json_decode, ".isJson": is_json,
    "url.escape": url_escape, ".escapeUrl": url_escape,
    "url.unescape": url_unescape, ".unescapeUrl": url_unescape,
    "url.parse": url_parse, ".parseUrl": url_parse, ".isURL": is_url,
    "queryString.decode": query_decode, ".decodeQueryString": query_decode,
    "queryString.encode": query_encode, ".encodeQueryString": query_encode,
    ".isQueryString": is_query_string,
    "isQueryString": is_query_string, "isJson": is_json, "isUrl": is_url,
    ".encodeBase64": encode_base64, ".decodeBase64": decode_base64, ".split": split,
    "b64.encode": encode_base64, "b64.decode": decode_base64,
    ".isPrivateIp": is_private_ip, ".lower": _lower, ".upper": _upper,
    "rand.double": rand_double, "rand.int": rand_int,
}  # fmt: skip
for _name in _DIGESTS:
    FUNCTIONS["hash." + _name] = FUNCTIONS["." + _name] = _hasher(_name)

