"""What the server protocol answers a request its parser refused (uvicorn's
``send_400_response``, called inside the ``except`` that caught the parser's error).

llhttp calls back into Python for each part of a request; an exception raised in a callback
(uvicorn's own ``on_headers_complete`` included) reaches the protocol as llhttp's
``HttpParserCallbackError``, whose text is "User callback error" whatever happened. The
exception itself is its ``__context__``:

- a request target ``httptools.parse_url`` cannot read (``CONNECT host:443``'s authority
  form, ``http:///x``, ``http://h:99999/``, ``http://[::1/``), or one with no path
  (``http://gw``: ``targets.PathlessTarget``, serve29; uvicorn's protocol failed on it with a
  traceback): a ``CONNECT`` is the 405
  ``method_not_allowed`` its path form already got (the gateway is no tunnel), any other
  method a 400 ``invalid_path``;
- anything else is a fault of the gateway's own code: logged with its traceback (it was
  silent), and the client told only that its request could not be read (400
  ``invalid_http``), as before.

llhttp's pause on an HTTP/2 connection preface (``PRI * HTTP/2.0``: a client speaking HTTP/2
with prior knowledge) is the 505 ``http_version_not_supported`` a request line of HTTP/2.0
already gets. Every other refusal keeps llhttp's or h11's own short text.

A refused request's target is logged (the decision log's ``url.path``) without its query (a
``key=``) and without the userinfo of an absolute or authority form
(``http://alice:PASSWORD@host/...``): uvicorn keeps only the path of a target it parsed, but a
refusal before that logged the target as sent, the client's password with it (serve26).
"""

from __future__ import annotations

import logging
import re
import sys

_log = logging.getLogger("aigw_policy.gateway")

_QUOTED = re.compile(r"""(?:bytearray\()?b['"]""")
_H2_PREFACE = "Pause on PRI/Upgrade"  # llhttp's HPE_PAUSED_H2_UPGRADE


def parser_refusal(method: str | None) -> tuple[int, str, str]:
    """The status, message and code for the parser error being handled, of a request whose
    method (when its head was read) is ``method``."""
    error = sys.exc_info()[1]
    cause = error.__context__ if error is not None and type(error).__name__ == "HttpParserCallbackError" else None
    if cause is not None:
        if type(cause).__name__ in ("HttpParserInvalidURLError", "PathlessTarget"):  # (targets.py)
            if method == "CONNECT":
                return 405, "CONNECT is not served: the gateway forwards API requests only", "method_not_allowed"
            return 400, "invalid request path: the request target is neither a path nor a URL", "invalid_path"
        _log.error("the server protocol failed on a request head", exc_info=cause)
        return 400, "the request is not valid HTTP/1.1: its head could not be read", "invalid_http"
    text = str(error) if error is not None else ""
    if text == _H2_PREFACE:
        return (505, "HTTP/2 is not served: the gateway speaks HTTP/1.1 (and 1.0), not HTTP/2 with prior "
                     "knowledge", "http_version_not_supported")
    # h11 quotes the bytes it refused (`illegal request line: bytearray(b'GET /v1/sk-...')`):
    # its text is cut before the quote, which may hold a key (serve29); llhttp's quote nothing
    said = _QUOTED.split(text, 1)[0].rstrip(": ")[:80]
    if not said.isprintable() or not said:
        said = "malformed request"
    return 400, f"the request is not valid HTTP/1.1: {said}", "invalid_http"


def refused_path(target: bytes) -> str:
    """What a refusal logs of a request ``target`` as sent: its path, or for an absolute or
    authority form the target without its query and userinfo."""
    text = target.split(b"?", 1)[0].decode("latin-1")
    if text[:1] != "/" and "@" in text:
        scheme, sep, rest = text.partition("://")
        if not sep:  # the authority form: `host:port`
            scheme, rest = "", text
        authority, slash, path = rest.partition("/")
        text = scheme + sep + authority.rpartition("@")[2] + slash + path
    return text
