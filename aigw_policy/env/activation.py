"""The activation: a request's values under the names policy expressions read (SPEC §5;
flat keys, see docs/cel.md): built from a validated request (:func:`activation`), or from
nested mappings (:func:`flatten_activation`)."""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ..instants import split
from ..providers import AiRequest, ProviderError, classify
from .declarations import POLICY_VARIABLES
from .header_parts import content_entries, header_parts
from .plain_request import PlainRequest
from .request import Request, RequestError
from .url_parts import decoded_path, parse_query
from .user_agent import user_agent_entries

__all__ = [
    "AI_NAMES", "FULL", "IDENTITY_NAMES", "ActivationPlan", "activation", "classify_request",
    "flatten_activation", "format_now", "split_url",
]

IDENTITY_NAMES = ("key", "user", "team", "org", "tier")
"""The ``identity.*`` entries other than ``labels``, in the activation's order."""


_last_second: tuple[int, str] = (0, "1970-01-01T00:00:00")


def format_now(now: float) -> str:
    """RFC 3339 in UTC with a ``Z``, as ngrok's ``time.now``."""
    global _last_second
    whole, us = split(now)  # never rounded into the next second (23:59:59.9999996 read `23:59:59.Z`)
    last = _last_second  # requests arrive in the same second: format it once
    if last[0] == whole:
        text = last[1]
    else:
        text = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
        _last_second = (whole, text)
    if us:
        text += f".{us:06d}".rstrip("0")
    return text + "Z"


def classify_request(req: Request | PlainRequest, counter: Any = None) -> AiRequest:
    payload = req.request  # method, url, headers, body: what classify reads (it only reads)
    if type(payload) is not dict:  # the model's (a PlainRequest holds the field dicts themselves)
        payload = payload.__dict__
    override = req.ai
    try:
        if override is not None:
            if type(override) is not dict:
                override = override.__dict__
            provider, operation = override["provider"], override["operation"]
            if counter is None:
                ai = classify(payload, provider=provider, operation=operation)
            else:
                ai = classify(payload, provider=provider, operation=operation, counter=counter)
        elif counter is None:
            ai = classify(payload)
        else:
            ai = classify(payload, counter=counter)
    except ProviderError as error:
        field = "ai.provider" if "provider" in str(error) else "ai.operation"
        raise RequestError([(field, str(error))]) from None
    if ai.problems:  # a field the policy reads, of a value the API does not take: never "absent"
        raise RequestError(list(ai.problems))
    return ai


@dataclass(frozen=True, slots=True)
class ActivationPlan:
    """Which entries the request-phase activation holds: those some text of a policy (or the
    engine itself) can read. Made once per compiled policy (``CompiledPolicy.activation``);
    :attr:`build` is a function ``(req, ai, rid, now) -> act`` made once per plan that
    builds exactly these entries, in the order :data:`FULL` builds them, with no per-request
    branch on the plan. The default is :data:`FULL`: every entry."""

    url_parts: bool = True  # req.url.* (the URL split); req.host from the URL
    headers: bool = True  # req.headers, req.host, req.user_agent, req.content_type(.raw), req.content_length
    user_agent_parts: bool = True  # req.user_agent.* (the header parsed: env/user_agent.py); needs headers
    header_parts: bool = True  # req.cookies, req.content_type.parameters, req.content_encoding, req.location; needs headers
    content_length: bool = True  # req.content_length from the body when no header gives it
    conn: bool = True  # conn.*
    time_now: bool = True  # time.now
    method: bool = True  # req.method
    url: bool = True  # req.url
    request_id: bool = True  # req.id
    endpoint: bool = True  # endpoint.*
    extras: bool = True  # the request's own `req` object, flattened under req.*
    identity: tuple[str, ...] = ("key", "user", "team", "org", "tier")  # identity.<name>, in this order
    labels: bool = True  # identity.labels
    ai: tuple[str, ...] | None = None  # the flat ai.<name> keys (of AiRequest.to_cel, in its order); None: all
    ai_map: bool = True  # act['ai']: the whole of AiRequest.to_cel (no text reads it: routing does)
    vars: bool = True  # vars: {} (set-vars writes it, the decision reads it)
    limits: bool = True  # limits: {} (each limit's outcome is published there)
    actions: bool = True  # actions: {"ngrok": {}} (limits, restrict-ips and ai-gateway publish there)
    build: Callable[[Request | PlainRequest, AiRequest, str, float], dict[str, Any]] = field(
        init=False, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "build", _builder(self))


def activation(req: Request, ai: AiRequest, rid: str, now: float, *, content_length: bool = False,
               url_parts: bool = True, time_now: bool = True, headers: bool = True,
               conn: bool = True) -> dict[str, Any]:
    """The request-phase activation: one flat key per declared variable that is supplied.

    What no text of the policy (nor the engine) reads need not be computed per request:
    ``url_parts=False`` skips splitting the URL, ``headers=False`` the header entries
    (``req.headers``, ``req.host``, ``req.user_agent``, ``req.content_type``,
    ``req.content_length``), ``conn=False`` the ``conn.*`` entries. (The engine builds it
    by its policy's :class:`ActivationPlan`, which can leave out more.)"""
    return _flag_plan(content_length, url_parts, time_now, headers, conn).build(req, ai, rid, now)


@lru_cache(maxsize=64)
def _flag_plan(content_length: bool, url_parts: bool, time_now: bool, headers: bool, conn: bool) -> ActivationPlan:
    return ActivationPlan(content_length=content_length, url_parts=url_parts, time_now=time_now,
                          headers=headers, conn=conn)


def _builder(plan: ActivationPlan) -> Callable[[Request | PlainRequest, AiRequest, str, float], dict[str, Any]]:
    """The function that builds ``plan``'s activation: straight-line code, generated once per
    plan (the steps of :data:`FULL`, those of ``plan`` only)."""
    ai_keys = AI_NAMES if plan.ai is None else plan.ai
    unknown = set(ai_keys) - set(AI_NAMES)
    if unknown or set(plan.identity) - set(IDENTITY_NAMES):
        raise ValueError(f"not activation entries: {sorted(unknown | (set(plan.identity) - set(IDENTITY_NAMES)))}")
    lines = ["def build(req, ai, rid, now):"]
    add = lines.append
    need_http = plan.url_parts or plan.method or plan.url or plan.headers or plan.content_length
    if need_http:
        add("    http = req.request")
        add("    if type(http) is not dict:  # the model's fields (a PlainRequest holds them as a dict)")
        add("        http = http.__dict__")
    if plan.url_parts:
        add("    url = http['url']")
        add("    parts = _url_entries(url) if len(url) <= 2048 else _split_url(url)")
        add("    act = dict(parts)")
        if plan.headers:
            add("    host = parts['req.url.host'] if parts else ''")
    else:
        add("    act = {}")
        if plan.headers:
            add("    host = ''")
    if plan.method:
        add("    act['req.method'] = http['method'].upper()")
    if plan.url:
        add("    act['req.url'] = http['url']")
    if plan.headers:
        add("    lowered = _lowered(http['headers'])")
        add("    if 'host' not in lowered:")
        add("        _default_host(http['url'], lowered)")
        add("    act['req.headers'] = lowered")
    if plan.request_id:
        add("    act['req.id'] = rid")
    if plan.headers:
        add(f"    _header_entries(lowered, act, host, {plan.url_parts!r})")
    if plan.headers and plan.user_agent_parts:
        add("    ua = lowered.get('user-agent')")
        add("    act.update(_user_agent_entries(ua[0] if ua else None))")
    if plan.headers and plan.header_parts:
        add("    _header_parts('req', lowered, act)")
    if plan.content_length:
        add("    if 'req.content_length' not in act:")
        add("        act['req.content_length'] = _body_length(http['body'])")
    if plan.conn:
        add("    if req.conn:")
        add("        _flatten('conn', req.conn, act)")
    if plan.endpoint:
        add("    if req.endpoint:")
        add("        _flatten('endpoint', req.endpoint, act)")
    if plan.extras:
        add("    if req.req:")
        add("        _flatten('req', req.req, act)")
    if plan.time_now:
        add("    act['time.now'] = _format_now(now)")
    if plan.identity or plan.labels:
        add("    ident = req.identity  # the validated fields, by name")
        add("    if type(ident) is not dict:")
        add("        ident = ident.__dict__")
    for name in IDENTITY_NAMES:  # in FULL's order
        if name in plan.identity:
            add(f"    v = ident[{name!r}]")
            add("    if v is not None:")
            add(f"        act[{'identity.' + name!r}] = v")
    if plan.labels:
        add("    labels = ident['labels']")
        add("    act['identity.labels'] = dict(labels) if labels else {}")
    if plan.ai_map:
        add("    cel_ai = ai.to_cel()")
        add("    act['ai'] = cel_ai")
        if ai_keys == AI_NAMES:
            add("    act.update(zip(_AI_KEYS, cel_ai.values()))")
        else:
            for name in AI_NAMES:  # in to_cel's order
                if name in ai_keys:
                    add(f"    act[{'ai.' + name!r}] = cel_ai[{name!r}]")
    else:  # each entry as to_cel gives it, from the field itself
        for name in AI_NAMES:
            if name in ai_keys:
                add(f"    act[{'ai.' + name!r}] = {_AI_VALUE.get(name, 'ai.' + name)}")
    if plan.vars:
        add("    act['vars'] = {}")
    if plan.limits:
        add("    act['limits'] = {}")
    if plan.actions:
        add("    act['actions'] = {'ngrok': {}}")
    add("    return act")
    scope: dict[str, Any] = {
        "_url_entries": _url_entries, "_split_url": _split_url, "_lowered": _lowered,
        "_header_entries": _header_entries, "_body_length": _body_length, "_flatten": _flatten,
        "_format_now": format_now, "_AI_KEYS": _AI_KEYS, "_user_agent_entries": user_agent_entries,
        "_header_parts": header_parts, "_default_host": _default_host,
    }
    exec(compile("\n".join(lines) + "\n", "<activation plan>", "exec"), scope)  # noqa: S102 (our own text)
    build = scope["build"]
    build.__qualname__ = build.__name__ = "build_activation"
    build.source = "\n".join(lines)  # type: ignore[attr-defined]  # what it does, for tests and docs
    return build  # type: ignore[no-any-return]


_AI_VALUE = {"model": "ai.model or ''", "max_output_tokens": "ai.max_output_tokens or 0", "tools": "list(ai.tools)"}
"""The ``ai.*`` entries that ``AiRequest.to_cel`` gives other than as the field holds them."""


def _body_length(body: Any) -> int:
    """``req.content_length`` from the body, when no header gives it."""
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode())
    return len(json.dumps(body, separators=(",", ":")).encode())


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


def _default_host(url: str, headers: dict[str, list[str]]) -> None:
    """``host`` in ``req.headers`` when the request names none: the URL's authority, as every
    HTTP/1.1 request carries it (ngrok's ``req.headers['host']``; its docs rate-limit by it)."""
    parts = _url_entries(url) if len(url) <= 2048 else _split_url(url)
    authority = parts.get("req.url.authority")
    if authority:  # a Host header never carries the URL's `user:password@`
        headers["host"] = [authority.rpartition("@")[2]]


def _header_entries(headers: dict[str, list[str]], act: dict[str, Any], host: str, url_parts: bool) -> None:
    """The entries read from the headers besides ``req.headers``."""
    hh = headers.get("host")
    if hh or url_parts:
        act["req.host"] = hh[0] if hh else host
    ua = headers.get("user-agent")
    act["req.user_agent"] = ua[0] if ua else ""  # its parts too are those of an empty header
    content_entries("req", headers, act)


AI_NAMES = tuple(AiRequest("", "other").to_cel())
"""The names of :meth:`AiRequest.to_cel`'s entries, in its order."""
_AI_KEYS = tuple("ai." + k for k in AI_NAMES)
"""Their flat names (``ai.model``)."""


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
        # ngrok's `path` is Go's `URL.Path`, percent-escapes decoded (`/caf%C3%A9` is `/café`,
        # `/%61dmin` is `/admin`); `raw_path` is "the un-normalized path", as sent
        "req.url.path": decoded_path(path),
        "req.url.raw_path": path,
        "req.url.scheme": parts.scheme,
        "req.url.host": host,
        "req.url.authority": parts.netloc,
        "req.url.user_password": parts.netloc.rpartition("@")[0],  # as written, "" without one
        "req.url.query": parts.query,
        "req.url.uri": path + ("?" + parts.query if parts.query else ""),
        "req.url.raw": url,
        "req.url.query_params": parse_query(parts.query) if parts.query else {},
    }
    if port is not None:
        out["req.url.port"] = port
    return out


# the same few endpoint URLs arrive again and again (the entries are only read)
_url_entries = lru_cache(maxsize=1024)(_split_url)


def split_url(url: str) -> dict[str, Any]:
    """The ``req.url.*`` entries of a URL, a new dict (empty when it does not parse): what a
    URL rewritten by a rule gives the rules after it."""
    return _split_url(url)


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


FULL = ActivationPlan()
"""Every entry: what a policy that reads everything gets (and the plain path of the tests)."""
