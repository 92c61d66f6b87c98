"""The engine's request of the common shape, checked without building the models.

``Request.parse`` validates a request with pydantic and builds three frozen models (the
request, its identity, its HTTP request). Building them costs more than checking the plain
JSON a gateway or an embedder passes (docs/engine.md, "Speed"). :func:`plain_request` checks
such a dict field by field and, when every value is of its field's exact type, gives the
engine a :class:`PlainRequest` whose ``request``, ``identity`` and ``ai`` are what the nested
models' ``__dict__`` would be (``req.request["url"]`` for the model's ``req.request.url``),
with the very values ``Request.parse`` would give. Anything else
(a missing or unknown field, a value of another type, a ``str`` subclass, a field it does
not take: ``now``, ``response``, ``attempts``, ``state``) gives None and goes to
``Request.parse``, which validates it and names what is wrong. The public type stays
:class:`~aigw_policy.env.request.Request`; this one never leaves the engine.
"""

from __future__ import annotations

from typing import Any

from .request import _LEAVES, _SHALLOW, _WIDE, MAX_DEPTH, _nests, _too_deep, url_problem

__all__ = ["FAST_REQUEST", "PlainRequest", "plain_request"]

FAST_REQUEST = True
"""Check a dict request of the common shape here (:func:`plain_request`); False: every
request goes through ``Request.parse`` (the tests compare the two)."""


class PlainRequest:
    """A request :func:`plain_request` checked: the model's fields, a nested model's as its
    field dict. The fields it never takes read as absent."""

    __slots__ = ("ai", "conn", "endpoint", "id", "identity", "req", "request")

    now = None
    response = None
    attempts = None
    state = None

    id: str | None
    identity: dict[str, Any]  # key, user, team, org, tier, labels
    conn: dict[str, Any]
    request: dict[str, Any]  # method, url, headers, body
    ai: dict[str, Any] | None  # provider, operation
    endpoint: dict[str, Any] | None
    req: dict[str, Any] | None

    def unix_now(self) -> None:
        return None


_TOP = frozenset({"id", "identity", "conn", "request", "ai", "endpoint", "req"})
_HTTP = frozenset({"method", "url", "headers", "body"})
_AI = frozenset({"provider", "operation"})
_new = object.__new__
_str = str
_dict = dict
_list = list


def plain_request(data: dict[str, Any]) -> PlainRequest | None:
    """``data`` (a plain ``dict``) checked as ``Request.parse`` checks it, when it has the
    common shape; None when it does not (``Request.parse`` then decides)."""
    if not _TOP.issuperset(data):
        return None
    rid = data.get("id")
    if rid is not None and type(rid) is not _str:
        return None
    out = _new(PlainRequest)
    out.id = rid
    given = data.get("identity", _NONE)
    if given is _NONE:
        identity: dict[str, Any] = _IDENTITY_DEFAULTS.copy()
    elif type(given) is not _dict:
        return None
    else:
        identity = {**_IDENTITY_DEFAULTS, **given}  # (one dict built: cheaper than a copy and an update)
        if len(identity) != _IDENTITY_FIELDS:
            return None  # a field Identity does not have
        labels = identity["labels"]
        identity["labels"] = None
        for v in identity.values():
            if v is not None and type(v) is not _str:
                return None
        if labels is not None:
            if type(labels) is not _dict:
                return None
            for k, v in labels.items():
                if type(k) is not _str or type(v) is not _str:
                    return None
            identity["labels"] = _dict(labels)
    out.identity = identity
    conn = data.get("conn", _NONE)
    if conn is _NONE:
        out.conn = {}
    else:
        if type(conn) is not _dict:
            return None
        for k, v in conn.items():
            if type(k) is not _str:
                return None
            kind = type(v)
            if kind is not _str and kind not in _LEAVES:
                if (kind is not _dict and kind is not _list) or _too_deep(v, MAX_DEPTH - 2):
                    return None  # (request, conn: each value counted from the request)
        out.conn = _dict(conn)
    http = data.get("request")
    if type(http) is not _dict or not _HTTP.issuperset(http):
        return None
    method = http.get("method", "POST")
    url = http.get("url")
    if (type(method) is not _str or not method or type(url) is not _str or not url
            or not method.isascii() or not url.isascii()):
        return None  # (pydantic counts the characters of these two: it refuses a lone surrogate)
    given = http.get("headers", _NONE)
    if given is _NONE:
        headers: dict[str, Any] = {}
    elif type(given) is not _dict:
        return None
    else:  # a copy: str to str, or to a list of str (a repeated header)
        headers = {}
        for k, v in given.items():
            if type(k) is not _str:
                return None
            if type(v) is not _str:
                if type(v) is not _list:
                    return None
                for x in v:
                    if type(x) is not _str:
                        return None
                v = _list(v)
            headers[k] = v
    body: Any = http.get("body")
    kind = type(body)
    if kind is _dict or kind is _list:
        if _body_nests(body):
            return None
    elif kind not in _LEAVES:
        return None  # a mapping of another kind, an object: pydantic's `Any` keeps it; the model path checks it
    if url_problem(url) is not None:
        return None
    out.request = {"method": method, "url": url, "headers": headers, "body": body}
    ai = data.get("ai")
    if ai is None:
        out.ai = None
    else:
        if type(ai) is not _dict or not _AI.issuperset(ai):
            return None
        provider, operation = ai.get("provider"), ai.get("operation")
        if (provider is not None and type(provider) is not _str) or (operation is not None and type(operation) is not _str):
            return None
        out.ai = {"provider": provider, "operation": operation}
    endpoint, more = data.get("endpoint"), data.get("req")
    if endpoint is not None:
        endpoint = _json_fields(endpoint, MAX_DEPTH - 2)  # request, endpoint: as conn
        if endpoint is None:
            return None
    if more is not None:
        more = _json_fields(more, MAX_DEPTH - 2)
        if more is None:
            return None
    out.endpoint = endpoint
    out.req = more
    return out


_NONE: Any = object()  # a field not given (None is a value some fields refuse)


_IDENTITY_DEFAULTS: dict[str, Any] = {"key": None, "user": None, "team": None, "org": None, "tier": None,
                                      "labels": None}
"""``Identity``'s fields, in its order, each at its default."""
_IDENTITY_FIELDS = len(_IDENTITY_DEFAULTS)


def _json_fields(value: Any, limit: int) -> dict[str, Any] | None:
    """A copy of a ``dict[StrictStr, Any]`` field of plain JSON within the depth limit, else None."""
    if type(value) is not _dict:
        return None
    for k, v in value.items():
        if type(k) is not _str:
            return None
        kind = type(v)
        if kind not in _LEAVES:
            if (kind is not _dict and kind is not _list) or _too_deep(v, limit):
                return None
    return _dict(value)


def _body_nests(body: dict[str, Any] | list[Any]) -> bool:
    """``_nests(body, MAX_DEPTH - 2)`` (request, body), its first levels inline: the usual body
    is strings and numbers, with a short list of messages of strings. Anything else under
    them is left to ``_nests`` from the level that holds it (the same answer: both are pure)."""
    for v in body.values() if type(body) is _dict else body:
        kind = type(v)
        if kind is _str or kind in _LEAVES:
            continue
        if kind is not _list or len(v) > _WIDE:
            return _nests(body, _LIMIT)
        for x in v:  # a short list: its items at level 3
            kind = type(x)
            if kind is _dict:
                for y in x.values():
                    kind = type(y)
                    if kind is not _str and kind not in _LEAVES:
                        if _nests(x, _LIMIT, 3):
                            return True
                        break  # (_nests walked the rest of x)
            elif kind is not _str and kind not in _LEAVES:
                return _nests(body, _LIMIT)
    return False


_LIMIT = MAX_DEPTH - 2
assert _LIMIT > 3 and _SHALLOW > 3  # the levels _body_nests walks inline are never the limit