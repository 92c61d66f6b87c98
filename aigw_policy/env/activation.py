"""The activation: a request's values under the names policy expressions read (SPEC §5;
flat keys, see docs/cel.md): built from a validated request (:func:`activation`), or from
nested mappings (:func:`flatten_activation`)."""

from __future__ import annotations

import json
import math as _math
import time as _time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..providers import AiRequest, ProviderError, classify
from .declarations import POLICY_VARIABLES
from .request import Request, RequestError

__all__ = ["activation", "classify_request", "flatten_activation", "format_now"]

_IDENTITY = ("key", "user", "team", "org", "tier")


_last_second: tuple[int, str] = (0, "1970-01-01T00:00:00")


def format_now(now: float) -> str:
    """RFC 3339 in UTC with a ``Z``, as ngrok's ``time.now``."""
    global _last_second
    whole = _math.floor(now)
    frac = now - whole
    last = _last_second  # requests arrive in the same second: format it once
    if last[0] == whole:
        text = last[1]
    else:
        text = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
        _last_second = (whole, text)
    if frac:
        text += f"{frac:.6f}"[1:].rstrip("0")
    return text + "Z"


def classify_request(req: Request, counter: Any = None) -> AiRequest:
    payload = req.request.__dict__  # method, url, headers, body: what classify reads (it only reads)
    override = req.ai
    try:
        if override is None and counter is None:
            ai = classify(payload)
        else:
            kwargs: dict[str, Any] = {} if counter is None else {"counter": counter}
            ai = classify(payload, provider=override.provider if override else None,
                          operation=override.operation if override else None, **kwargs)
    except ProviderError as error:
        field = "ai.provider" if "provider" in str(error) else "ai.operation"
        raise RequestError([(field, str(error))]) from None
    if ai.problems:  # a field the policy reads, of a value the API does not take: never "absent"
        raise RequestError(list(ai.problems))
    return ai


def activation(req: Request, ai: AiRequest, rid: str, now: float, *, content_length: bool = False,
               url_parts: bool = True, time_now: bool = True, headers: bool = True,
               conn: bool = True) -> dict[str, Any]:
    """The request-phase activation: one flat key per declared variable that is supplied.

    What no text of the policy (nor the engine) reads need not be computed per request:
    ``url_parts=False`` skips splitting the URL, ``headers=False`` the header entries
    (``req.headers``, ``req.host``, ``req.user_agent``, ``req.content_type``,
    ``req.content_length``), ``conn=False`` the ``conn.*`` entries."""
    http = req.request
    url = http.url
    host = ""
    if url_parts:
        parts = _url_entries(url) if len(url) <= 2048 else _split_url(url)
        act: dict[str, Any] = dict(parts)
        if parts:
            host = parts["req.url.host"]
    else:
        act = {}
    act["req.method"] = http.method.upper()
    act["req.url"] = url
    lowered = _lowered(http.headers) if headers else None
    if lowered is not None:
        act["req.headers"] = lowered
    act["req.id"] = rid
    if lowered is not None:
        _header_entries(lowered, act, host, url_parts)
    if content_length and "req.content_length" not in act:
        body = http.body
        if body is None:
            act["req.content_length"] = 0
        elif isinstance(body, str):
            act["req.content_length"] = len(body.encode())
        else:
            act["req.content_length"] = len(json.dumps(body, separators=(",", ":")).encode())
    if conn and req.conn:
        _flatten("conn", req.conn, act)
    if req.endpoint:
        _flatten("endpoint", req.endpoint, act)
    if req.req:
        _flatten("req", req.req, act)
    if time_now:
        act["time.now"] = format_now(now)
    ident = req.identity.__dict__  # the validated fields, by name
    for name, key in _IDENTITY_KEYS:
        value = ident[name]
        if value is not None:
            act[key] = value
    labels = ident["labels"]
    act["identity.labels"] = dict(labels) if labels else {}
    cel_ai = ai.to_cel()
    act["ai"] = cel_ai
    act.update(zip(_AI_KEYS, cel_ai.values()))
    act["vars"] = {}
    act["limits"] = {}
    act["actions"] = {"ngrok": {}}
    return act


def _lowered(given: Mapping[str, Any]) -> dict[str, list[str]]:
    """``req.headers``: names lowered, values as lists."""
    headers: dict[str, list[str]] = {}
    for k, v in given.items():
        low = k.lower()
        have = headers.get(low)
        if have is None:
            headers[low] = list(v) if isinstance(v, list) else [v]
        else:
            have.extend(v if isinstance(v, list) else (v,))
    return headers


def _header_entries(headers: dict[str, list[str]], act: dict[str, Any], host: str, url_parts: bool) -> None:
    """The entries read from the headers besides ``req.headers``."""
    hh = headers.get("host")
    if hh or url_parts:
        act["req.host"] = hh[0] if hh else host
    ua = headers.get("user-agent")
    if ua:
        act["req.user_agent"] = ua[0]
    ctype = headers.get("content-type")
    if ctype:
        act["req.content_type"] = ctype[0].split(";", 1)[0].strip()
        act["req.content_type.raw"] = ctype[0]
    cl = headers.get("content-length")
    if cl and cl[0].strip().isdigit():
        act["req.content_length"] = int(cl[0])


_IDENTITY_KEYS = tuple((name, "identity." + name) for name in _IDENTITY)
_AI_KEYS = tuple("ai." + k for k in AiRequest("", "other").to_cel())
"""The flat names of :meth:`AiRequest.to_cel`'s entries, in its order."""


def _split_url(url: str) -> dict[str, Any]:
    """The ``req.url.*`` entries of a URL (empty when it does not parse)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return {}
    path = parts.path or "/"
    out: dict[str, Any] = {
        "req.url.path": path,
        "req.url.raw_path": path,
        "req.url.scheme": parts.scheme,
        "req.url.host": host,
        "req.url.authority": parts.netloc,
        "req.url.query": parts.query,
        "req.url.uri": path + ("?" + parts.query if parts.query else ""),
        "req.url.raw": url,
        "req.url.query_params": parse_qs(parts.query, keep_blank_values=True) if parts.query else {},
    }
    if port is not None:
        out["req.url.port"] = port
    return out


# the same few endpoint URLs arrive again and again (the entries are only read)
_url_entries = lru_cache(maxsize=1024)(_split_url)


def _flatten(prefix: str, value: Mapping[str, Any], act: dict[str, Any]) -> None:
    """``{"geo": {"country": "FR"}}`` under ``conn`` -> ``conn.geo.country``; declared maps
    (``req.cookies``) stay whole."""
    for k, v in value.items():
        name = f"{prefix}.{k}"
        if type(v) not in _SCALARS and isinstance(v, Mapping) and not str(POLICY_VARIABLES.get(name, "")).startswith("map"):
            _flatten(name, v, act)
        else:
            act[name] = v


_SCALARS = frozenset({str, int, float, bool, type(None)})


def flatten_activation(nested: Mapping[str, object]) -> dict[str, object]:
    """The fast activation for policy conditions, from nested mappings.

    ``{"req": {"url": {"path": "/a"}}}`` -> ``{"req": {...}, "req.url.path": "/a"}``: every
    declared variable found along nested mappings becomes one flat key (top-level entries
    are kept as they are). A gateway can also build the flat mapping directly; an overlapping
    name such as ``req.url`` (a string) next to ``req.url.path`` can only be given flat.
    """
    out: dict[str, object] = dict(nested)
    for name in POLICY_VARIABLES:
        if "." not in name or name in out:
            continue
        cur: object = nested
        for part in name.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                break
            cur = cur[part]
        else:
            out[name] = cur
    return out
