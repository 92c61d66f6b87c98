"""``Request.parse`` of a plain dict gives what pydantic's validation gives (issue #15).

The contract any fast path of ``Request.parse`` must keep. A hand-written one (commit e41a8e2
on wt-parse: plain dicts checked by exact types, the models built with ``object.__new__`` and
their slots set) met it, and the deliberate breaks (headers not copied, a str subclass taken
as the URL, the fields set from the input's own keys, labels not copied) each failed here; it
was slower than pydantic (docs/engine.md, "Speed"), so ``parse`` validates with pydantic.

The oracle, :func:`plain_parse`, validates every input with pydantic, then checks the depth,
the time zone and the URL, as ``parse`` does. For valid and near-valid requests (one field of
a wrong type, an unknown key, a str or dict subclass, a bad URL, JSON nested too deep, a field
only pydantic handles) both give the same outcome: the same error problems, or requests equal
in every way the engine can see: their dumps, the fields set at each level, the type of each
value, no extra and no private, and the same sharing with the input (pydantic copies the dicts
it validates, ``conn`` and the headers say, and keeps the values of the fields of any JSON,
``request.body`` say, as they are).
"""

from __future__ import annotations

import copy
import json
from collections import UserDict
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aigw_policy.env.request import MAX_DEPTH, Request, RequestError, _deep_json, _kind, _problems, _too_deep, url_problem


def plain_parse(data: object) -> Request:
    """Every input through pydantic, then the depth, the zone and the URL (the reference)."""
    if isinstance(data, Request):
        return data
    if not isinstance(data, Mapping):
        raise RequestError([("", f"a request is a JSON object, not {_kind(data)}")])
    try:
        req = Request.__pydantic_validator__.validate_python(data)
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


class S(str):
    pass


class D(dict):  # type: ignore[type-arg]
    pass


def _sharing(out: Any, given: Any) -> Any:
    """Which containers of ``out`` are the very objects of ``given`` (``is``), level by level."""
    if isinstance(out, dict):
        return ("dict", out is given, {k: _sharing(v, given.get(k) if isinstance(given, dict) else None)
                                       for k, v in out.items()})
    if isinstance(out, list):
        return ("list", out is given, [_sharing(v, given[i] if isinstance(given, list) and i < len(given) else None)
                                       for i, v in enumerate(out)])
    return (type(out).__name__, out is given if out is not None and not isinstance(out, (str, int, float)) else None)


def _json(req: Request) -> str:
    try:
        return req.model_dump_json()
    except ValueError as error:  # a value of any JSON that is not JSON (a UserDict, say)
        return f"{type(error).__name__}: {error}"


def snapshot(req: Request, data: Any) -> Any:
    """Everything about ``req`` that two equal parses must share."""
    models = {"": req, "identity": req.identity, "request": req.request}
    out: dict[str, Any] = {
        "dump": req.model_dump(), "json": _json(req), "repr": repr(req),
        "equal_to_itself_copied": req == req.model_copy(),
    }
    for name, m in models.items():
        out[name] = (type(m), list(vars(m)), {k: type(v) for k, v in vars(m).items()}, m.model_fields_set,
                     {type(f) for f in m.model_fields_set}, m.__pydantic_extra__, m.__pydantic_private__)
    given = data if isinstance(data, dict) else {}
    http = given.get("request") if isinstance(given.get("request"), dict) else {}
    ident = given.get("identity") if isinstance(given.get("identity"), dict) else {}
    out["sharing"] = {
        "conn": _sharing(req.conn, given.get("conn")), "endpoint": _sharing(req.endpoint, given.get("endpoint")),
        "req": _sharing(req.req, given.get("req")), "headers": _sharing(req.request.headers, http.get("headers")),
        "body": _sharing(req.request.body, http.get("body")), "labels": _sharing(req.identity.labels, ident.get("labels")),
    }
    try:
        hash(req)
        out["hash"] = "hashable"
    except TypeError as error:
        out["hash"] = str(error)
    return out


def outcome(parse: Any, data: Any) -> Any:
    try:
        req = parse(data)
    except RequestError as error:
        return ("error", error.problems)
    return ("ok", snapshot(req, data))


# -- inputs --------------------------------------------------------------------------------

text = st.sampled_from(["", "a", "k1", "team-a", "é", "x y"])
scalar = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-1, 1, allow_nan=False) | text
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                          max_leaves=8)


def deep(depth: int, kind: str) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if (kind == "list" or (kind == "mixed" and i % 2)) else {"k": value}
    return value


URLS = ["https://api.openai.com/v1/chat/completions", "/v1/messages", "http://[::1]:8080/v1/embeddings?a=1"]
BAD_URLS = ["", "ftp://x.example/", "https://x.example/a b", "https://x.example:0/", "relative/path", "https://[::1"]


@st.composite
def valid(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if draw(st.booleans()):
        data["id"] = draw(st.none() | text)
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["key", "user", "team", "org", "tier"]), unique=True))
        ident: dict[str, Any] = {n: draw(st.none() | text) for n in names}
        if draw(st.booleans()):
            ident["labels"] = draw(st.none() | st.dictionaries(text, text, max_size=3))
        data["identity"] = ident
    if draw(st.booleans()):
        data["conn"] = draw(st.dictionaries(st.sampled_from(["client_ip", "geo", "tls.version"]), json_value, max_size=3))
    http: dict[str, Any] = {"url": draw(st.sampled_from(URLS))}
    if draw(st.booleans()):
        http["method"] = draw(st.sampled_from(["POST", "get", "PATCH"]))
    if draw(st.booleans()):
        http["headers"] = draw(st.dictionaries(st.sampled_from(["content-type", "X-Team", "host", "a"]),
                                               text | st.lists(text, max_size=2), max_size=4))
    if draw(st.booleans()):
        http["body"] = draw(json_value | st.just({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
    data["request"] = http
    for name in ("endpoint", "req"):
        if draw(st.integers(0, 3)) == 0:
            data[name] = draw(st.none() | st.dictionaries(st.sampled_from(["id", "geo"]), json_value, max_size=2))
    return data


# where one change goes: (path to a dict, key); the path's dicts are made when missing
SPOTS = [((), "id"), ((), "identity"), ((), "conn"), ((), "request"), ((), "endpoint"), ((), "req"), ((), "extra"),
         (("identity",), "key"), (("identity",), "tier"), (("identity",), "labels"), (("identity",), "nick"),
         (("identity", "labels"), "env"), (("conn",), "client_ip"), (("request",), "url"), (("request",), "method"),
         (("request",), "headers"), (("request",), "body"), (("request",), "verb"), (("request", "headers"), "x-a"),
         (("endpoint",), "id"), (("req",), "x")]
ODD_VALUES = [1, 0, True, 1.5, None, [], ["a", 1], ("a",), {}, "", S("s"), S(URLS[0]), S("POST"), D(a="b"),
              UserDict(a="b"), b"x", {S("k"): "v"}, {"k": S("v")}, {"k": ["a", S("b")]}]
ODD = st.sampled_from(ODD_VALUES)
FIELDS_PYDANTIC_ONLY = {"now": "2026-11-26T12:00:00Z", "response": {"status_code": 200}, "state": {"limits": {}},
                        "ai": {"provider": "openai"}, "attempts": [{"status_code": 200}]}


def _at(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    cur = data
    for part in path:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    return cur


@st.composite
def near_valid(draw: st.DrawFn) -> Any:
    data = draw(valid())
    change = draw(st.integers(0, 9))
    if change <= 2:
        return data
    if change == 3:  # an odd value (wrong type, subclass, empty) somewhere
        path, key = draw(st.sampled_from(SPOTS))
        _at(data, path)[key] = draw(ODD)
    elif change == 4:  # a str subclass as a key or value
        path, key = draw(st.sampled_from(SPOTS))
        where = _at(data, path)
        if draw(st.booleans()):
            where[S(key)] = where.pop(key, "v")
        else:
            where[key] = S(draw(st.sampled_from(URLS)) if key == "url" else draw(text))
    elif change == 5:  # a dict subclass for a dict
        path, key = draw(st.sampled_from([s for s in SPOTS if s[1] in ("identity", "conn", "request", "endpoint", "req",
                                                                       "labels", "headers", "body")]))
        where = _at(data, path)
        value = where.get(key)
        where[key] = D(value if isinstance(value, dict) else {})
    elif change == 6:  # nested too deep (or just not) in a field of any JSON
        path, key = draw(st.sampled_from([((), "conn"), (("request",), "body"), (("conn",), "geo"), ((), "endpoint"),
                                           (("req",), "x"), (("request", "body"), "messages")]))
        value = deep(draw(st.integers(MAX_DEPTH - 5, MAX_DEPTH + 1)), draw(st.sampled_from(["list", "dict", "mixed"])))
        if path == () and key in ("conn", "endpoint"):
            data[key] = {"k": value}
        else:
            _at(data, path)[key] = value
    elif change == 7:  # a bad URL or method
        if draw(st.booleans()):
            data["request"]["url"] = draw(st.sampled_from(BAD_URLS))
        else:
            data["request"]["method"] = ""
    elif change == 8:  # a field only pydantic handles
        name = draw(st.sampled_from(sorted(FIELDS_PYDANTIC_ONLY)))
        data[name] = json.loads(json.dumps(FIELDS_PYDANTIC_ONLY[name]))
    else:  # not a dict of a request at all
        return draw(st.sampled_from([D(data), UserDict(data), [data], "x", None, {}, {"request": None}]))
    return data


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=300)
@given(near_valid())
def test_parse_agrees_with_pydantic(data: Any) -> None:
    assert outcome(Request.parse, data) == outcome(plain_parse, data)


@settings(max_examples=100)
@given(valid())
def test_valid_requests_are_parsed_like_pydantic(data: dict[str, Any]) -> None:
    got, want = outcome(Request.parse, data), outcome(plain_parse, data)
    assert got == want
    assert got[0] == "ok"


BASE = {"id": "r1", "identity": {"key": "k1", "team": "a", "labels": {"env": "prod"}}, "conn": {"client_ip": "1.2.3.4"},
        "request": {"method": "POST", "url": URLS[0], "headers": {"content-type": "application/json", "x-a": "1"},
                    "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}},
        "endpoint": {"id": "e"}, "req": {"x": 1}}


@pytest.mark.parametrize("spot", SPOTS, ids=lambda s: ".".join((*s[0], s[1])))
def test_each_odd_value_at_each_spot(spot: tuple[tuple[str, ...], str]) -> None:
    """Every odd value (wrong type, str or dict subclass, empty) at every place, and a str
    subclass as each key: the same outcome as pydantic's."""
    path, key = spot
    for value in ODD_VALUES:
        data = copy.deepcopy(BASE)
        _at(data, path)[key] = value
        assert outcome(Request.parse, data) == outcome(plain_parse, data), value
    data = copy.deepcopy(BASE)
    where = _at(data, path)
    where[S(key)] = where.pop(key, "v")
    assert outcome(Request.parse, data) == outcome(plain_parse, data)


def test_what_pydantic_copies_and_keeps() -> None:
    """The sharing the snapshots compare, spelled out once: the dicts of ``conn``, the headers
    (and their lists), the labels, ``endpoint`` and ``req`` are copies; the body and the values
    of ``conn``, ``endpoint`` and ``req`` are the input's own objects."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    geo = {"country": "FR"}
    data = {"id": "r1", "identity": {"key": "k", "labels": {"env": "prod"}}, "conn": {"geo": geo},
            "request": {"url": "/v1/chat/completions", "headers": {"a": ["1", "2"], "b": "3"}, "body": body},
            "endpoint": {"geo": geo}, "req": {"geo": geo}}
    for parse in (Request.parse, plain_parse):
        req = parse(data)
        assert req.request.body is body
        assert req.conn == data["conn"] and req.conn is not data["conn"] and req.conn["geo"] is geo
        assert req.endpoint is not data["endpoint"] and req.endpoint["geo"] is geo  # type: ignore[index]
        assert req.req is not data["req"] and req.req["geo"] is geo  # type: ignore[index]
        assert req.request.headers is not data["request"]["headers"]  # type: ignore[index]
        assert req.request.headers["a"] is not data["request"]["headers"]["a"]  # type: ignore[index]
        assert req.identity.labels is not data["identity"]["labels"]  # type: ignore[index]
        assert req.model_fields_set == {"id", "identity", "conn", "request", "endpoint", "req"}
        assert req.request.model_fields_set == {"url", "headers", "body"} and req.request.method == "POST"

