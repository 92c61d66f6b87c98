"""The per-request fast paths agree with the plain ones they replace (issue #15).

* ``Request.parse`` validates first and then checks the depth of the fields of any JSON only;
  the plain way checks the whole request's depth first, then validates. Same outcome for any
  input: the same request, or a :class:`RequestError` with the same problems.
* ``activation`` builds the request-phase activation from the validated fields without
  string building; :func:`plain_activation` is the straightforward version it replaced.
"""

from __future__ import annotations

import json
import re
from collections import UserDict
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aigw_policy.env.activation import _flatten, _split_url, activation, classify_request, format_now
from aigw_policy.env.request import MAX_DEPTH, Request, RequestError, _kind, _problems, _too_deep, url_problem
from aigw_policy.env.header_parts import header_parts
from aigw_policy.env.user_agent import user_agent_entries

# -- Request.parse -------------------------------------------------------------------------


def plain_parse(data: object) -> Request:
    """The whole request's depth first, then the validation (the order parse had)."""
    if isinstance(data, Request):
        return data
    if not isinstance(data, Mapping):
        raise RequestError([("", f"a request is a JSON object, not {_kind(data)}")])
    if _too_deep(data, MAX_DEPTH):
        raise RequestError([("", f"the request is nested more than {MAX_DEPTH} levels deep")])
    try:
        req = Request.model_validate(data)
    except ValidationError as error:
        raise RequestError(_problems(error)) from None
    if req.now is not None and req.now.tzinfo is None:
        raise RequestError([("now", "a time needs a zone: write `Z` or an offset such as `+02:00`")])
    problem = url_problem(req.request.url)
    if problem is not None:
        raise RequestError([("request.url", problem)])
    return req


def outcome(parse: Any, data: object) -> Any:
    try:
        req = parse(data)
    except RequestError as error:
        return ("error", error.problems)
    return ("ok", req, req.model_fields_set, req.identity.model_fields_set, req.request.model_fields_set)


def nested(depth: int, kind: str) -> Any:
    """``depth`` levels of lists, dicts or non-dict mappings, around a number."""
    value: Any = 1
    for i in range(depth):
        value = [value] if kind == "list" else {"k": value} if kind == "dict" else UserDict(k=value)
        if kind == "mixed":
            value = [value] if i % 2 else {"k": value}
    return value


scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
deep = st.builds(nested, st.integers(MAX_DEPTH - 6, MAX_DEPTH + 2), st.sampled_from(["list", "dict", "mapping", "mixed"]))
anything = json_like | deep | st.sampled_from([5, "x", None, [], {}])

# where a value may be put: the fields of any JSON, the typed ones (where deep is invalid)
PLACES = (
    ("request", "body"), ("conn", "ip"), ("endpoint", "id"), ("req", "x"), ("response", "body"),
    ("attempts", 0, "body"), ("identity", "team"), ("identity", "labels"), ("request", "headers"),
    ("request", "url"), ("id",), ("now",), ("state",), ("ai",), ("extra",),
)


def _put(data: dict[str, Any], place: tuple[Any, ...], value: Any) -> None:
    cur: Any = data
    for i, part in enumerate(place[:-1]):
        nxt = place[i + 1]
        if isinstance(cur, list):
            while len(cur) <= part:
                cur.append({"status_code": 200})
            cur = cur[part]
            continue
        if not isinstance(cur.get(part), (dict, list)):
            cur[part] = [] if isinstance(nxt, int) else {}
        cur = cur[part]
    if isinstance(cur, list):
        cur.append(value)
    else:
        cur[place[-1]] = value


@st.composite
def requests(draw: st.DrawFn) -> Any:
    data: dict[str, Any] = {"id": "r1", "identity": {"key": "k1", "team": "a"}, "conn": {"client_ip": "203.0.113.7"},
                            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                        "headers": {"content-type": "application/json"},
                                        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
    for _ in range(draw(st.integers(0, 3))):
        _put(data, draw(st.sampled_from(PLACES)), draw(anything))
    return data if draw(st.integers(0, 9)) else draw(anything)


@settings(max_examples=400)
@given(requests())
def test_parse_agrees_with_the_whole_depth_first(data: Any) -> None:
    assert outcome(Request.parse, data) == outcome(plain_parse, data)


@pytest.mark.parametrize("place", [p for p in PLACES if p[0] in ("request", "conn", "endpoint", "req", "response",
                                                                  "attempts")][:6])
@pytest.mark.parametrize("kind", ["list", "dict", "mapping", "mixed"])
def test_the_depth_limit_is_the_same_at_every_place(place: tuple[Any, ...], kind: str) -> None:
    """Just under and just over the limit, at each field of any JSON: refused exactly when the
    whole-first check refuses."""
    below = {"request": {"url": "/v1/chat/completions"}}
    for depth in range(MAX_DEPTH - 5, MAX_DEPTH + 1):
        data = json.loads(json.dumps(below))
        _put(data, place, nested(depth, kind))
        got, want = outcome(Request.parse, data), outcome(plain_parse, data)
        assert got == want
    assert any(outcome(plain_parse, _with(place, nested(d, kind)))[0] == "error" for d in range(MAX_DEPTH - 5, MAX_DEPTH))


def _with(place: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"request": {"url": "/v1/chat/completions"}}
    _put(data, place, value)
    return data


# -- activation ----------------------------------------------------------------------------


def plain_activation(req: Request, ai: Any, rid: str, now: float, *, content_length: bool = False,
                     url_parts: bool = True, time_now: bool = True, headers_read: bool = True,
                     conn: bool = True) -> dict[str, Any]:
    """The activation as it was built before issue #15 (the reference); ``headers_read=False``
    drops the entries of the headers, ``conn=False`` those of ``conn``."""
    http = req.request
    url = http.url
    act: dict[str, Any] = {}
    host = ""
    if url_parts:
        parts = _split_url(url)
        if parts:
            act.update(parts)
            host = parts["req.url.host"]
    headers: dict[str, list[str]] = {}
    for k, v in http.headers.items():
        headers.setdefault(k.lower(), []).extend(v if isinstance(v, list) else (v,))
    act["req.method"] = http.method.upper()
    act["req.url"] = url
    if headers_read:
        authority = _split_url(url).get("req.url.authority")
        if "host" not in headers and authority:  # every HTTP/1.1 request names its host
            headers["host"] = [authority]
        act["req.headers"] = headers
    else:
        headers = {}
    act["req.id"] = rid
    hh = headers.get("host")
    if headers_read and (hh or url_parts):
        act["req.host"] = hh[0] if hh else host
    ua = headers.get("user-agent")
    ctype = headers.get("content-type")
    if headers_read:  # without its header, the empty value (as Go's header reads give ngrok)
        act["req.user_agent"] = ua[0] if ua else ""
        act["req.content_type"] = ctype[0].split(";", 1)[0].strip() if ctype else ""
        act["req.content_type.raw"] = ctype[0] if ctype else ""
    cl = headers.get("content-length")
    given = bool(cl and re.fullmatch(r"[0-9]{1,18}", cl[0].strip()))  # ASCII digits (`int` takes `²`)
    if given:
        act["req.content_length"] = int(cl[0])
    if headers_read:  # the headers parsed (req.user_agent.*, req.cookies, ...), read or not
        act.update(user_agent_entries(ua[0] if ua else None))
        header_parts("req", headers, act)
    if not given and content_length:
        body = http.body
        if body is None:
            act["req.content_length"] = 0
        elif isinstance(body, str):
            act["req.content_length"] = len(body.encode())
        else:
            act["req.content_length"] = len(json.dumps(body, separators=(",", ":")).encode())
    if conn:
        _flatten("conn", req.conn, act)
    if req.endpoint:
        _flatten("endpoint", req.endpoint, act)
    if req.req:
        _flatten("req", req.req, act)
    if time_now:
        act["time.now"] = format_now(now)
    ident = req.identity
    for name in ("key", "user", "team", "org", "tier"):
        value = getattr(ident, name)
        if value is not None:
            act["identity." + name] = value
    act["identity.labels"] = dict(ident.labels) if ident.labels else {}
    cel_ai = ai.to_cel()
    act["ai"] = cel_ai
    for k, v in cel_ai.items():
        act["ai." + k] = v
    act["vars"] = {}
    act["limits"] = {}
    act["actions"] = {"ngrok": {}}
    return act


words = st.sampled_from(["a", "B", "x-Team", "Host", "User-Agent", "Content-Type", "content-length", "é"])
header_values = st.sampled_from(["1", " 12 ", "text/plain; charset=utf-8", "gw.example", "", "x"])


@st.composite
def activation_requests(draw: st.DrawFn) -> dict[str, Any]:
    headers = draw(st.dictionaries(words, header_values | st.lists(header_values, max_size=2), max_size=5))
    ident = {k: v for k, v in draw(st.fixed_dictionaries({}, optional={
        "key": st.text(max_size=3), "user": st.text(max_size=3), "team": st.text(max_size=3),
        "org": st.text(max_size=3), "tier": st.text(max_size=3),
        "labels": st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)})).items()}
    body = draw(st.sampled_from([None, "raw text", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                                    "tools": [{"type": "function", "function": {"name": "f"}}],
                                                    "max_tokens": 10},
                                 {"model": "claude-opus-4", "messages": [], "stream": True}]))
    data: dict[str, Any] = {
        "identity": ident,
        "conn": draw(st.dictionaries(st.sampled_from(["client_ip", "geo", "tls"]), json_like, max_size=2)),
        "request": {"method": draw(st.sampled_from(["post", "GET"])), "headers": headers, "body": body,
                    "url": draw(st.sampled_from(["https://api.openai.com/v1/chat/completions?a=1&a=2",
                                                 "http://[::1]:8080/v1/messages", "/v1/embeddings", "https://x.example"]))},
    }
    for name in ("endpoint", "req"):
        if draw(st.booleans()):
            data[name] = draw(st.dictionaries(st.sampled_from(["id", "cookies", "geo"]), json_like, max_size=2))
    return data


@settings(max_examples=300)
@given(activation_requests(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
       st.floats(1.7e9, 1.8e9, allow_nan=False))
def test_activation_agrees_with_the_plain_one(data: dict[str, Any], content_length: bool, url_parts: bool,
                                              time_now: bool, headers: bool, conn: bool, now: float) -> None:
    req = Request.parse(data)
    ai = classify_request(req)
    flags = {"content_length": content_length, "url_parts": url_parts, "time_now": time_now, "conn": conn}
    got = activation(req, ai, "r1", now, headers=headers, **flags)
    want = plain_activation(req, ai, "r1", now, headers_read=headers, **flags)
    assert got == want
    assert list(got) == list(want)  # the same entries in the same order
