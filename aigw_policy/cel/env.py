"""The policy CEL environment of SPEC §5, as data: variables, their types, ngrok helpers.

Dotted names are declared one by one (``req.url.path: string``) so that ``lint`` type-checks
``req.url.path`` precisely; at run time they are read from nested dicts
(``activation["req"]["url"]["path"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from .decls import Overload, parse_overload
from .runtime.values import CelError

__all__ = ["POLICY_VARIABLES", "POLICY_FUNCTIONS", "ACTIVATION_FUNCTIONS", "policy_overloads"]

_HEADERS = "map(string, list(string))"

POLICY_VARIABLES: dict[str, str] = {
    # request (ngrok names)
    "req.method": "string",
    "req.host": "string",
    "req.id": "string",
    "req.url.path": "string",
    "req.url.raw": "string",
    "req.url.host": "string",
    "req.url.scheme": "string",
    "req.url.query": "string",
    "req.url.query_params": _HEADERS,
    "req.headers": _HEADERS,
    "req.content_length": "int",
    "req.content_type": "string",
    "req.cookies": "map(string, dyn)",
    "req.user_agent": "map(string, dyn)",
    "req.version": "string",
    "req.trailers": _HEADERS,
    # response
    "res.status_code": "int",
    "res.headers": _HEADERS,
    "res.content_length": "int",
    "res.content_type": "string",
    # connection
    "conn.client_ip": "string",
    "conn.client_port": "int",
    "conn.server_ip": "string",
    "conn.server_port": "int",
    "conn.ts.start": "string",
    "conn.geo.city": "string",
    "conn.geo.country": "string",
    "conn.geo.country_code": "string",
    "conn.geo.latitude": "string",
    "conn.geo.longitude": "string",
    "conn.geo.radius": "string",
    "conn.geo.subdivision": "string",
    "conn.tls": "map(string, dyn)",
    "endpoint": "map(string, dyn)",
    "time.now": "string",
    # identity
    "identity.key": "string",
    "identity.user": "string",
    "identity.team": "string",
    "identity.org": "string",
    "identity.tier": "string",
    "identity.labels": "map(string, string)",
    # AI classification
    "ai.provider": "string",
    "ai.operation": "string",
    "ai.model": "string",
    "ai.stream": "bool",
    "ai.max_output_tokens": "int",
    "ai.input_tokens": "int",
    "ai.messages": "int",
    "ai.tools": "list(string)",
    "ai.prompt": "string",
    "ai.usage.input_tokens": "int",
    "ai.usage.output_tokens": "int",
    "ai.usage.cached_input_tokens": "int",
    "ai.usage.cache_creation_input_tokens": "int",
    "ai.usage.reasoning_tokens": "int",
    "ai.usage.total_tokens": "int",
    "ai.usage.source": "string",
    "ai.cost_usd": "double",
    # results of earlier actions
    "vars": "map(string, dyn)",
    "limits": "map(string, dyn)",
    "actions": "map(string, dyn)",
}

POLICY_FUNCTIONS = [
    "getReqHeader (string) -> list(string)",
    "hasReqHeader (string) -> bool",
    "getResHeader (string) -> list(string)",
    "hasResHeader (string) -> bool",
    "getQueryParam (string) -> list(string)",
    "hasQueryParam (string) -> bool",
    "inCidrRange (string, string) -> bool",
    "inCidrRanges (string, list(string)) -> bool",
]


@lru_cache(maxsize=1)
def policy_overloads() -> dict[str, list[Overload]]:
    out: dict[str, list[Overload]] = {}
    for line in POLICY_FUNCTIONS:
        o = parse_overload(line)
        out.setdefault(o.name, []).append(o)
    return out


def _path(act: Mapping, *keys: str) -> object:
    cur: object = act
    for k in keys:
        if not isinstance(cur, Mapping) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _header_list(m: object, name: object) -> list:
    if type(name) is not str:
        raise CelError("header name must be a string", "no_such_overload")
    if not isinstance(m, Mapping):
        return []
    v = m.get(name.lower(), m.get(name))
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def get_req_header(act: Mapping, name: object) -> list:
    return _header_list(_path(act, "req", "headers"), name)


def has_req_header(act: Mapping, name: object) -> bool:
    return bool(get_req_header(act, name))


def get_res_header(act: Mapping, name: object) -> list:
    return _header_list(_path(act, "res", "headers"), name)


def has_res_header(act: Mapping, name: object) -> bool:
    return bool(get_res_header(act, name))


def get_query_param(act: Mapping, name: object) -> list:
    m = _path(act, "req", "url", "query_params")
    if type(name) is not str:
        raise CelError("query parameter name must be a string", "no_such_overload")
    if not isinstance(m, Mapping) or name not in m:
        return []
    v = m[name]
    return list(v) if isinstance(v, (list, tuple)) else [v]


def has_query_param(act: Mapping, name: object) -> bool:
    return bool(get_query_param(act, name))


ACTIVATION_FUNCTIONS = {
    "getReqHeader": get_req_header,
    "hasReqHeader": has_req_header,
    "getResHeader": get_res_header,
    "hasResHeader": has_res_header,
    "getQueryParam": get_query_param,
    "hasQueryParam": has_query_param,
}
"""Helpers that read the activation: generated code passes it as the first argument."""
