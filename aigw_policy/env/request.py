"""The request object of SPEC §8 (REQUEST.json), validated, with errors naming the field.

``Request.parse(data)`` turns a REQUEST.json object into a validated :class:`Request`, or
raises :class:`RequestError` whose message names every bad field (``request.url: field
required``). Nothing here touches a store or the network.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError,
                      model_validator)

__all__ = ["HttpRequest", "HttpResponse", "Identity", "Request", "RequestError", "SimulatedAttempt", "parse_time"]


class RequestError(ValueError):
    """A request file (or a response given to ``complete()``) that does not have the shape of
    SPEC §8. ``problems`` lists ``(field, message)`` pairs; ``str()`` names every field and
    says which of the two (``what``) was wrong."""

    def __init__(self, problems: list[tuple[str, str]], *, what: str = "request") -> None:
        self.problems = problems
        text = "; ".join(f"`{f}`: {m}" if f else m for f, m in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"invalid {what}: {text}{more}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Headers = dict[StrictStr, StrictStr | list[StrictStr]]


class Identity(_Model):
    """The authenticated caller, as the embedding gateway supplies it (SPEC §5)."""

    key: StrictStr | None = None
    user: StrictStr | None = None
    team: StrictStr | None = None
    org: StrictStr | None = None
    tier: StrictStr | None = None
    labels: dict[StrictStr, StrictStr] | None = None


class HttpRequest(_Model):
    method: Annotated[StrictStr, Field(min_length=1)] = "POST"
    url: Annotated[StrictStr, Field(min_length=1)]
    headers: Headers = Field(default_factory=dict)
    body: Any = None


class HttpResponse(_Model):
    status_code: Annotated[StrictInt, Field(ge=100, le=599)] = 200
    headers: Headers = Field(default_factory=dict)
    body: Any = None
    sse: StrictStr | None = None


class SimulatedAttempt(_Model):
    """One upstream answer to a routing attempt (SPEC §12), in the order the attempts are
    made: an HTTP answer (``status_code`` with ``body`` or ``sse``), or ``error: timeout |
    connect | malformed`` (no answer the client's SDK could read)."""

    status_code: Annotated[StrictInt, Field(ge=100, le=599)] | None = None
    headers: Headers = Field(default_factory=dict)
    body: Any = None
    sse: StrictStr | None = None
    error: Literal["timeout", "connect", "malformed"] | None = None
    latency_ms: Annotated[StrictInt | StrictFloat, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _answer_or_error(self) -> SimulatedAttempt:
        if self.error is not None and (self.status_code is not None or self.body is not None or self.sse):
            raise ValueError("an attempt with `error` got no answer: it has no `status_code`, `body` or `sse`")
        if self.error is None and self.status_code is None:
            raise ValueError("an attempt has a `status_code` (the upstream's answer) or an `error` (timeout, connect, malformed)")
        return self


class BucketState(_Model):
    used: Annotated[StrictInt | StrictFloat, Field(ge=0)]


class State(_Model):
    """Counters already used: ``limits[name][bucket] = {used}``; a bucket is named by its
    ``bucket_key`` values joined by ``|`` (``""`` for a limit without ``bucket_key``)."""

    limits: dict[StrictStr, dict[StrictStr, BucketState]] = Field(default_factory=dict)


class AiOverride(_Model):
    """Explicit classification (SPEC §7: detect by path and body shape, with an override)."""

    provider: StrictStr | None = None
    operation: StrictStr | None = None


class Request(_Model):
    """One request as the engine sees it (REQUEST.json, SPEC §8).

    ``conn``, ``endpoint`` and ``req`` carry ngrok's other variables under ngrok's names,
    nested (``{"geo": {"country": "FR"}}``) or dotted (``{"geo.country": "FR"}``).
    """

    id: StrictStr | None = None
    now: datetime | None = None
    identity: Identity = Field(default_factory=Identity)
    conn: dict[StrictStr, Any] = Field(default_factory=dict)
    request: HttpRequest
    response: HttpResponse | None = None
    attempts: list[SimulatedAttempt] | None = None
    """Simulated upstream answers to a routed request's attempts, in order (SPEC §12)."""
    state: State | None = None
    ai: AiOverride | None = None
    endpoint: dict[StrictStr, Any] | None = None
    req: dict[StrictStr, Any] | None = None

    @classmethod
    def parse(cls, data: object) -> Request:
        """Validate a REQUEST.json object; :class:`RequestError` names each bad field.

        Only the fields of any JSON (``request.body``, ``conn``, ...) can nest deeply in a
        request that validates: their depth is checked after the validation. A request that
        does not validate is checked whole first, so a too deep one is refused as such."""
        if type(data) is not dict:
            if isinstance(data, Request):
                return data
            if not isinstance(data, Mapping):
                raise RequestError([("", f"a request is a JSON object, not {_kind(data)}")])
        try:
            req = cls.__pydantic_validator__.validate_python(data)  # model_validate, one call less
        except ValidationError as error:
            if _too_deep(data, MAX_DEPTH):
                raise RequestError([("", f"the request is nested more than {MAX_DEPTH} levels deep")]) from None
            raise RequestError(_problems(error)) from None
        if _deep_json(req):
            raise RequestError([("", f"the request is nested more than {MAX_DEPTH} levels deep")])
        if req.now is not None and req.now.tzinfo is None:
            raise RequestError([("now", "a time needs a zone: write `Z` or an offset such as `+02:00`")])
        problem = url_problem(req.request.url)
        if problem is not None:
            raise RequestError([("request.url", problem)])
        return req

    def unix_now(self) -> float | None:
        return self.now.timestamp() if self.now is not None else None


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (``2026-11-26T12:00:00Z``) as an aware datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a request URL (None when it is); see :func:`_url_problem`. The same
    few URLs arrive again and again: short ones are checked once."""
    return _checked_url(url) if len(url) <= 2048 else _url_problem(url)


def _url_problem(url: str) -> str | None:
    """Why ``url`` is not a request URL (None when it is): an absolute ``http(s)`` URL with a
    host, or a path starting with ``/``; no spaces or control characters, which URL parsers
    drop or keep differently, a valid port."""
    bad = next((c for c in url if c <= " " or c == "\x7f"), None)
    if bad is not None:
        return f"must not contain {'a space' if bad == ' ' else f'the control character U+{ord(bad):04X}'}"
    hint = "must be an absolute http(s) URL such as `https://gw.example/v1/chat/completions` (or a path starting with `/`)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"{hint}: {error}"
    if url.startswith("/") and not url.startswith("//"):
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{hint}, not `{url[:100]}`"
    if port == 0:
        return "has port 0"
    return None


_checked_url = lru_cache(maxsize=1024)(_url_problem)

MAX_DEPTH = 256
"""Deeper JSON in a request (its body, say) is refused: nothing real nests that deep."""


def _too_deep(data: object, limit: int) -> bool:
    """Whether lists/objects nest deeper than ``limit`` (level by level: no recursion; plain
    dicts and lists, what JSON gives, are recognised by their exact type, other mappings by
    the slower ABC check)."""
    level: list[object] = [data]
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[object] = []
        for value in level:
            kind = type(value)
            if kind is dict:
                items: Any = value.values()  # type: ignore[attr-defined]
            elif kind is list:
                items = value
            elif kind in _LEAVES:
                continue
            elif isinstance(value, Mapping):
                items = value.values()
            else:
                continue
            for v in items:
                k = type(v)
                if k is dict or k is list or (k not in _LEAVES and isinstance(v, Mapping)):
                    below.append(v)
        level = below
        depth += 1
    return False


_LEAVES = frozenset({str, int, float, bool, type(None), bytes})


def _deep_json(req: Request) -> bool:
    """Whether a validated request nests deeper than :data:`MAX_DEPTH` (counted from the
    request object, as :func:`_too_deep` counts): only its fields of any JSON can; the typed
    ones are a few levels deep by their models."""
    fields = req.__dict__  # the validated fields, by name (no attribute lookups)
    body = fields["request"].__dict__["body"]
    kind = type(body)
    if kind is dict or kind is list:
        if _nests(body, MAX_DEPTH - 2):  # request, body
            return True
    elif kind not in _LEAVES and _too_deep(body, MAX_DEPTH - 2):  # another mapping
        return True
    for value in fields["conn"].values():
        if type(value) not in _LEAVES and _too_deep(value, MAX_DEPTH - 2):
            return True
    endpoint, more, response, attempts = fields["endpoint"], fields["req"], fields["response"], fields["attempts"]
    if endpoint is not None and _too_deep(endpoint, MAX_DEPTH - 1):
        return True
    if more is not None and _too_deep(more, MAX_DEPTH - 1):
        return True
    if response is not None and _too_deep(response.body, MAX_DEPTH - 2):
        return True
    return attempts is not None and any(_too_deep(a.body, MAX_DEPTH - 3) for a in attempts)  # attempts, attempt, body


_SHALLOW = 6


def _nests(value: dict[Any, Any] | list[Any], limit: int, depth: int = 1) -> bool:
    """:func:`_too_deep` of a dict or list, by recursion for the few levels a body usually
    has (faster), by :func:`_too_deep` below them (no deep recursion), by
    :func:`_levels_too_deep` under a long list (a conversation's messages)."""
    if depth == _SHALLOW:
        return _too_deep(value, limit - depth + 1)
    for v in value.values() if type(value) is dict else value:
        k = type(v)
        if k is str:  # the usual leaf, first
            continue
        if k is dict:
            if depth == limit or _nests(v, limit, depth + 1):
                return True
        elif k is list:
            if depth == limit or (_levels_too_deep(v, limit - depth) if len(v) > _WIDE else _nests(v, limit, depth + 1)):
                return True
        elif k not in _LEAVES and isinstance(v, Mapping) and _too_deep(v, limit - depth):
            return True
    return False


_WIDE = 4
"""A longer list is checked a level at a time (:func:`_levels_too_deep`): per level, a few
calls cost less than a Python step for each of its items."""

FAST_DEPTH = True
"""Check plain JSON a level at a time with the garbage collector's view of each level
(:func:`_levels_too_deep`); False: :func:`_too_deep`, item by item (the tests compare the two)."""

_referents = gc.get_referents
_tracked = gc.is_tracked
_JSON_KINDS = _LEAVES | {dict, list}
_CONTAINERS = frozenset({dict, list})


def _levels_too_deep(value: dict[Any, Any] | list[Any], limit: int) -> bool:
    """:func:`_too_deep` of a dict or list, a level at a time, each level in a few calls: the
    garbage collector lists a level's items (``gc.get_referents``: a list's items, a dict's
    values, and its keys unless all are strings), and its tracking (``gc.is_tracked``) keeps
    the containers that can hold more: CPython tracks every list, and every dict that holds
    a list or dict (the collector could not see their cycles otherwise), so an untracked
    dict holds no container and ends its branch. An item of any other kind than JSON's (a
    tuple, a mapping that is not a dict): :func:`_too_deep`; so is a level down to one short
    container (a narrow branch: item by item costs less there)."""
    if not FAST_DEPTH:
        return _too_deep(value, limit)
    level: list[Any] = [value]
    depth = 1  # the deepest level seen to hold a list or dict
    while depth <= limit:
        if len(level) == 1 and len(level[0]) <= _WIDE:
            return _too_deep(level[0], limit - depth + 1)
        items = _referents(*level)
        kinds = {*map(type, items)}
        if not kinds <= _JSON_KINDS:
            return _too_deep(value, limit)
        if kinds.isdisjoint(_CONTAINERS):
            return False
        depth += 1
        level = [*filter(_tracked, items)]
    return True


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


_MESSAGES: dict[str, str] = {
    "missing": "field required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "list_type": "must be a list",
}


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        # a union reports every branch; name the field once, without the branch type
        loc = [p for p in loc if not _is_type_tag(p)]
        path = ".".join(loc)
        if path in seen:
            continue
        seen.add(path)
        kind = item["type"]
        message = _MESSAGES.get(kind, item["msg"])
        if path == "now" or path.startswith("now."):
            message = "must be an RFC 3339 time such as `2026-11-26T12:00:00Z`"
        elif kind in ("string_type", "int_type", "float_type", "dict_type", "list_type", "model_type"):
            message = f"{message}, not {_kind(item.get('input'))}"
        elif kind == "extra_forbidden":
            message = "unknown field" + _hint(path)
        out.append((path, message))
    return out or [("", str(error))]


def _is_type_tag(part: str) -> bool:
    return part in ("str", "int", "float", "list[str]", "bool") or part.startswith(("list[", "function-", "constrained-"))


_KNOWN = ("id", "now", "identity", "conn", "request", "response", "attempts", "state", "ai", "endpoint", "req")


def _hint(path: str) -> str:
    from difflib import get_close_matches

    last = path.rsplit(".", 1)[-1]
    if "." not in path:
        m = get_close_matches(last, _KNOWN, n=1, cutoff=0.6)
        if m:
            return f"; did you mean `{m[0]}`?"
        return f"; a request has {', '.join(f'`{k}`' for k in _KNOWN)}"
    parent = path.rsplit(".", 1)[0]
    model = {"identity": Identity, "request": HttpRequest, "response": HttpResponse}.get(parent)
    if model is None and parent.startswith("attempts."):
        model = SimulatedAttempt
    if model is None:
        return ""
    fields = list(model.model_fields)
    m = get_close_matches(last, fields, n=1, cutoff=0.6)
    if m:
        return f"; did you mean `{parent}.{m[0]}`?"
    return f"; `{parent}` has {', '.join(f'`{k}`' for k in fields)}"

