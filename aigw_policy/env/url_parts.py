"""A URL's path and query as Go's ``net/url`` reads them, which is what ngrok's variables and
macros give (``req.url.path``, ``req.url.query_params``, ``queryString.decode``, ``url.parse``):
ngrok is written in Go."""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

__all__ = ["decoded_path", "parse_query"]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def decoded_path(path: str) -> str:
    """Go's ``URL.Path``: the percent-escapes decoded (``/caf%C3%A9`` is ``/café``, ``%2F`` a
    ``/``); a ``+`` stays. A ``%`` that starts no escape is kept (Go's server refuses such a
    request line; the library gives its text back)."""
    return unquote(path, errors="replace") if "%" in path else path


def parse_query(query: str) -> dict[str, list[str]]:
    """Go's ``url.ParseQuery``: pairs split on ``&`` only; a pair holding a ``;`` (no separator
    since Go 1.17) or an invalid escape (``%zz``) is dropped, not kept as written; ``+`` is a
    space; a key without ``=`` has the value ``""``."""
    out: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair or ";" in pair or _BAD_ESCAPE.search(pair):
            continue
        key, _, value = pair.partition("=")
        out.setdefault(unquote_plus(key, errors="replace"), []).append(unquote_plus(value, errors="replace"))
    return out
