"""What an upstream may read of a request besides its JSON body, against what the policy read:
the fields of a form body and a ``model`` in the query string (docs/gateway.md, "Hostile
input"). The policy reads a ``multipart/form-data`` body's small text fields as
:func:`~aigw_policy.providers.forms.form_fields` finds them (the first 64 KiB, a field's first
copy, ``name="..."`` quoted), an ``application/x-www-form-urlencoded`` body not at all, and the
query's ``model`` not at all; upstreams read each their own way (Starlette a form field's last
copy and an unquoted ``name=model``, Go's ``FormValue`` the first, routers of the one-api
family a urlencoded ``model`` and the query's ``?model=``), so a model the policy never judged
was served. Each function here says why such a request is refused, or None."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote, unquote_plus

from ..providers.classify import READS
from ..providers.forms import form_fields
from ..providers.realtime import realtime_path, session_model

__all__ = ["form_problem", "query_model_problem"]

_FORM_READS = frozenset(("model", "prompt", "stream", "language", "session"))
"""The multipart fields the policy reads (``providers.forms``), folded."""

_PARAM = re.compile(rb'name(\*?)[ \t]*=[ \t]*("[^"\r\n]*"?|[^;\r\n]*)')
"""A ``name`` parameter in a lower-cased body, quoted or not, RFC 5987's ``name*`` too, on any
header line of any part (``filename`` is none: the byte before is looked at)."""
_DISPOSITION = re.compile(rb'(?i:content-disposition[ \t]*:[ \t]*form-data[ \t]*;[ \t]*name)="([a-z]+)"[ \t]*\r?')
"""A part's head line as every client writes it, and the only one the policy's reader is sure
to read as the upstream does (the name's case is the API's: ``Model`` is another field)."""
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-*")


def _fold(name: str) -> str:
    """A field name as some upstream reads it: case folded, ``_`` dropped, a ``[]`` suffix
    (PHP's and Rails' arrays) cut."""
    return name.split("[", 1)[0].strip().replace("_", "").casefold()


def form_problem(body: bytes, content_type: str, read_folds: Collection[str]) -> str | None:
    """Why a form ``body`` (by its ``content_type``: a form's media type anywhere in it, since
    two ``Content-Type`` fields come joined and upstreams differ on which one counts) is
    refused: a field the policy reads, sent otherwise than the policy read it. None for any
    other body. ``read_folds``: the JSON fields the policy reads, folded as :func:`_fold` folds
    (a urlencoded form naming one is refused). Runs only on a body that is no JSON."""
    kinds = content_type.lower()
    if "application/x-www-form-urlencoded" in kinds:
        for pair in body.split(b"&"):
            name = unquote_plus(pair.split(b"=", 1)[0].decode("latin-1"))
            if _fold(name) in read_folds:
                return (f"the request body is a urlencoded form naming `{name[:80]}`: the policy reads such a field "
                        "from JSON only, and an upstream that reads forms would serve it unjudged")
    if "multipart/form-data" not in kinds:
        return None
    read = form_fields(body, content_type) or {}
    lowered = body.lower()  # (one pass; a large body is parsed in a worker thread)
    counted: set[str] = set()
    for m in _PARAM.finditer(lowered):
        if m.start() and lowered[m.start() - 1] in _WORD:  # `filename=`, `x-name=`
            continue
        raw = m.group(2).strip()
        if m.group(1):  # name*=UTF-8''model
            raw = raw.split(b"''", 1)[-1]
        folded = _fold(unquote(raw.strip(b'"').decode("latin-1")))
        if folded not in _FORM_READS:
            continue
        start, end = body.rfind(b"\n", 0, m.start()) + 1, body.find(b"\n", m.end())
        line = _DISPOSITION.fullmatch(body, start, end if end >= 0 else len(body))
        exact = line is not None and line.group(1).decode() == folded
        if folded in counted:
            return (f"the request body's form names the field `{folded}` twice: upstreams differ on which copy "
                    "counts, so it is refused")
        counted.add(folded)
        if not exact or folded not in read:
            return (f"the request body's form has a field `{folded}` the policy could not read as sent (spelt, "
                    "quoted or placed otherwise than `content-disposition: form-data; name=\"...\"` within its "
                    "first 64 KiB, or not a text value of its kind), so it is refused")
    return None


def query_model_problem(query: bytes, body: Any, method: str, content_type: str, path: str = "") -> str | None:
    """Why a request whose query string names a ``model`` (any spelling some upstream reads:
    ``Model``, ``model[]``) is refused: the body names another model, or none (the policy read
    none; ``body`` as the policy has it, a form's fields read by its ``content_type``). None when
    the query names no model, or the body's own, and for a read (``GET``...:
    it runs no model; a list may be filtered by one)."""
    if (b"odel" not in query and b"ODEL" not in query and b"%" not in query) or method.upper() in READS:
        return None
    own = body.get("model") if type(body) is dict else None
    if type(body) is str:  # a multipart body's own `model`, as the policy read it
        own = (form_fields(body, content_type) or {}).get("model")
    if own is None and realtime_path(path):  # a Realtime session's model: its query's (or its `session`'s)
        form = (form_fields(body, content_type) or {}) if type(body) is str else body if type(body) is dict else {}
        own = session_model(f"{path}?{query.decode('latin-1')}", form)[0]
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if _fold(unquote_plus(name.decode("latin-1"))) != "model":
            continue
        named = unquote_plus(value.decode("latin-1"))
        if own is None or named != own:
            said = f"names `{named[:80]}`" + (" but the body names no model" if own is None else
                                               f" but the body names `{str(own)[:80]}`")
            return (f"invalid request: `request.query.model` {said}: an upstream that reads the query's model "
                    "would serve one the policy never judged")
    return None
