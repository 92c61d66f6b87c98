"""Gemini's context caches (``cachedContents``, Google AI and Vertex AI): state that one key
holds, as OpenAI's stored responses are (:mod:`.background`). Pure.

A cache is made by ``POST .../cachedContents`` (body: ``model``, ``contents``, ``ttl``) in the
project of the key that made it, for that model; its answer names it (``cachedContents/{id}``;
Vertex AI: ``projects/{p}/locations/{l}/cachedContents/{id}``). It is then used by a call of
the same model whose body says ``cachedContent: NAME`` (``generateContent``, its stream,
``countTokens``), and read (``GET``), kept longer (``PATCH``) or deleted (``DELETE``) at its
name. Another key answers 403 ``PERMISSION_DENIED`` ("CachedContent not found (or permission
denied)"), another model 400: so a routed gateway sends each of these to the provider, key
and model that made it (docs/routing.md, "State a key holds").

Each function gives the cache's id as the gateway remembers it, ``cachedContents/{id}`` for
both frames (the id is Google's, unique; a response's id never starts so), or None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["cache_id", "cache_read", "made_cache", "used_cache"]

_NAME = re.compile(r"(?:^|/)cachedContents/([A-Za-z0-9][A-Za-z0-9_.-]{0,199})/?$")
_READS = frozenset(("GET", "PATCH", "DELETE"))
_MOST = 1 << 20  # an answer's text parsed for its name at most (a cache's answer is its metadata only)


def cache_id(name: Any) -> str | None:
    """The id of the cache a resource name (or a path ending in one) names.

    >>> cache_id("cachedContents/abc"), cache_id("projects/1/locations/us-central1/cachedContents/9")
    ('cachedContents/abc', 'cachedContents/9')
    >>> cache_id("cachedContents"), cache_id("cachedContents/a/b"), cache_id(7)
    (None, None, None)
    """
    if not isinstance(name, str):
        return None
    found = _NAME.search(name)
    return f"cachedContents/{found.group(1)}" if found is not None else None


def cache_read(method: str, path: str) -> str | None:
    """The cache ``method path`` reads, changes or deletes (``GET``, ``PATCH``, ``DELETE`` of
    ``.../cachedContents/{id}``), or None (the list, ``GET .../cachedContents``, names none).

    >>> cache_read("GET", "/v1beta/cachedContents/abc"), cache_read("PATCH", "/v1beta/cachedContents/abc")
    ('cachedContents/abc', 'cachedContents/abc')
    >>> cache_read("GET", "/v1beta/cachedContents"), cache_read("POST", "/v1beta/cachedContents/abc")
    (None, None)
    """
    return cache_id(path) if method.upper() in _READS and "/cachedContents/" in path else None


def made_cache(response: Mapping[str, Any] | None) -> str | None:
    """The cache a 2xx JSON answer to ``POST .../cachedContents`` names (its ``name``).

    >>> made_cache({"status_code": 200, "body": {"name": "cachedContents/x1", "model": "models/m"}})
    'cachedContents/x1'
    >>> made_cache({"status_code": 403, "body": {"name": "cachedContents/x1"}}) is None
    True
    """
    if not isinstance(response, Mapping):
        return None
    status, body = response.get("status_code"), response.get("body")
    if type(status) is not int or not 200 <= status < 300:
        return None
    if isinstance(body, (str, bytes, bytearray)) and len(body) <= _MOST:
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    return cache_id(body.get("name")) if isinstance(body, Mapping) else None


def used_cache(body: Any) -> str | None:
    """The cache a Gemini call's body uses (``cachedContent``; countTokens' other form names it
    inside the request it counts, ``generateContentRequest.cachedContent``), or None.

    >>> used_cache({"contents": [], "cachedContent": "cachedContents/x1"}), used_cache({"contents": []})
    ('cachedContents/x1', None)
    >>> used_cache({"generateContentRequest": {"model": "models/m", "cachedContent": "cachedContents/x2"}})
    'cachedContents/x2'
    """
    if not isinstance(body, Mapping):
        return None
    if "cachedContent" not in body and isinstance(inner := body.get("generateContentRequest"), Mapping):
        body = inner
    return cache_id(body.get("cachedContent"))
