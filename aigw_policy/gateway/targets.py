"""An absolute-form request target (``POST http://host/v1/...``, RFC 9112 §3.2.2: what a client
sends a forward proxy) read alike by both of ``serve``'s protocols: its path is the request's
path, its authority the request's host, which the exchange checks against ``Host``
(:data:`TARGET_AUTHORITY`), and one with no path is refused 400 ``invalid_path``.

uvicorn's llhttp protocol kept such a target's path but failed in its head callback on one with
none (``GET http://gw``: ``None.decode``, a traceback in the log per request); its h11 protocol
kept the whole URL as the path, refused as ``invalid_path`` where llhttp served it (serve29).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

__all__ = ["TARGET_AUTHORITY", "TARGET_FRAGMENT", "PathlessTarget", "authority_of", "read_absolute_form"]

TARGET_AUTHORITY = "aigw.target_authority"
"""In a request's scope when its target is in absolute form (``POST http://host/v1/...``, RFC
9112 §3.2.2): the target's authority, which is the request's host, not its ``Host`` header
(uvicorn keeps only the target's path). The exchange refuses the request when the two differ
(the policy would read one host and a proxy in front may have routed on the other)."""


TARGET_FRAGMENT = "aigw.target_fragment"
"""In a request's scope (True) when its target holds a ``#``: a fragment, which a request target
never has (RFC 9112 §3.2: a client keeps it). llhttp's protocol dropped it and served the path
before it (``POST /v1/chat/completions#x`` was a chat); h11's kept it in the path, which went
upstream as ``/v1/chat/completions%23x``; a proxy in front may do either. Both are refused
alike now, 400 ``invalid_path`` (serve30): the protocols look for a ``#`` in the target (one byte
search per request, two under h11: its path and its query)."""


class PathlessTarget(ValueError):
    """An absolute-form target with no path (``http://gw``, ``http://gw?x``): 400 ``invalid_path``."""


def authority_of(target: bytes) -> str:
    """The authority of an absolute-form target (``""`` when it has none).

    >>> authority_of(b"http://gw:8080/v1/x?y"), authority_of(b"http://u:p@gw")
    ('gw:8080', 'u:p@gw')
    """
    rest = target.partition(b"://")[2]
    return rest.split(b"/", 1)[0].split(b"?", 1)[0].decode("latin-1")


def read_absolute_form(scope: dict[str, Any]) -> None:
    """An h11 request's ``scope`` (whose ``raw_path`` is the target before its ``?``) read as
    llhttp's protocol reads it when the target is in absolute form: ``path`` and ``raw_path`` the
    target's path, :data:`TARGET_AUTHORITY` its authority. A pathless one is left as it is
    (refused as ``invalid_path``: it is no path); an origin-form target costs one slice.

    >>> s = {"raw_path": b"http://gw/v1/a%20b", "path": "http://gw/v1/a b"}; read_absolute_form(s)
    >>> s["raw_path"], s["path"], s[TARGET_AUTHORITY]
    (b'/v1/a%20b', '/v1/a b', 'gw')
    """
    raw = scope["raw_path"]
    if raw[:1] == b"/" or b"://" not in raw:
        return
    path = raw.partition(b"://")[2].partition(b"/")
    if path[1]:
        scope[TARGET_AUTHORITY] = path[0].decode("latin-1")
        scope["raw_path"] = path[1] + path[2]
        scope["path"] = unquote(scope["raw_path"].decode("latin-1"))
