"""A request of the common shape checked without the models (``plain_request.FAST_REQUEST``,
env/plain_request.py) is exactly what ``Request.parse`` makes of it, and decides the same.

- Over generated dicts near the request's shape (good ones, and ones with a value of every
  wrong kind in every field: ``None``, numbers, ``str`` subclasses, lone surrogates, tuples,
  deep JSON, unknown keys), :func:`plain_request` either declines (``Request.parse`` then
  decides) or gives the very field values ``Request.parse`` gives; it never accepts a request
  ``Request.parse`` refuses.
- It does not decline the common shape (else the switch would switch nothing).
- Over generated policies and requests, ``Engine.evaluate`` gives the same decisions, store
  calls and ledger records with the switch on and off, sync and async.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.env import plain_request as plain
from aigw_policy.env.plain_request import PlainRequest, plain_request
from aigw_policy.env.request import MAX_DEPTH, Request, RequestError

from .logged_store import LoggedStore
from .test_charge_fast_paths import policies
from .test_complete_fast_paths import Ledger, _read


class Text(str):
    pass


class Table(dict):  # type: ignore[type-arg]
    pass


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


ODD = st.sampled_from([None, 1, 1.5, True, "x", "", Text("t"), "a\ud800b", b"bytes", (1, 2), [], {}, ["a", 1],
                       {"a": 1}, {1: "a"}, Table(a="b"), _deep(MAX_DEPTH), _deep(MAX_DEPTH - 4), {"k": _deep(300)}])
"""A value of some kind no field wants, or only some do (each field draws from it too)."""

WORD = st.sampled_from(["a", "team-1", "ÿ", "é", "k", "\t", "x y", "a\ud800b"])
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), WORD),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(WORD, inner, max_size=3)),
                    max_leaves=8)


def _maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a good value, sometimes an odd one."""
    return st.one_of(good, good, good, ODD)


@st.composite
def identities(draw: Any) -> Any:
    names = draw(st.lists(st.sampled_from(["key", "user", "team", "org", "tier", "labels", "Team", "extra"]),
                          unique=True, max_size=6))
    out: dict[str, Any] = {}
    for n in names:
        if n == "labels":
            out[n] = draw(_maybe(st.one_of(st.none(), st.dictionaries(WORD, WORD, max_size=3))))
        else:
            out[n] = draw(_maybe(st.one_of(st.none(), WORD)))
    return out


URLS = st.sampled_from(["https://api.openai.com/v1/chat/completions", "/v1/messages", "http://gw:8080/v1/embeddings?x=1",
                        "ftp://x/y", "https://h:0/v1", "https://h/ a", "no-slash", "https://h/\x7f", "https://é.example/v1",
                        "//h/v1", "https://h:99999/", "https://h/a\ud800b"])
BODIES = st.one_of(
    st.just({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 50}),
    st.just({"model": "gpt-4o", "input": "hello"}), JSON, st.just(_deep(MAX_DEPTH - 3)), st.just(_deep(MAX_DEPTH - 2)),
    st.just({"messages": [{"content": [{"text": _deep(MAX_DEPTH - 5)}]}] * 5}), st.just("a text body"),
)


@st.composite
def https(draw: Any) -> Any:
    out: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        out["url"] = draw(_maybe(URLS))
    if draw(st.booleans()):
        out["method"] = draw(_maybe(st.sampled_from(["POST", "get", "Ünicode", ""])))
    if draw(st.booleans()):
        values = st.one_of(WORD, st.lists(WORD, max_size=2), ODD)
        out["headers"] = draw(_maybe(st.dictionaries(st.one_of(WORD, WORD, st.just(1)), values, max_size=3)))
    if draw(st.booleans()):
        out["body"] = draw(st.one_of(BODIES, ODD))
    if not draw(st.integers(0, 20)):
        out["extra"] = 1
    return out


@st.composite
def requests(draw: Any) -> Any:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["id"] = draw(_maybe(WORD))
    if draw(st.integers(0, 4)):
        out["identity"] = draw(_maybe(identities()))
    if draw(st.booleans()):
        out["conn"] = draw(_maybe(st.dictionaries(st.one_of(WORD, WORD, st.just(2)), st.one_of(JSON, ODD), max_size=3)))
    if draw(st.integers(0, 9)):
        out["request"] = draw(_maybe(https()))
    for name in ("endpoint", "req"):
        if not draw(st.integers(0, 3)):
            out[name] = draw(_maybe(st.dictionaries(WORD, st.one_of(JSON, ODD), max_size=2)))
    if not draw(st.integers(0, 3)):
        out["ai"] = draw(_maybe(st.dictionaries(st.sampled_from(["provider", "operation", "other"]),
                                                _maybe(st.sampled_from(["openai", "chat"])), max_size=2)))
    if not draw(st.integers(0, 15)):
        out[draw(st.sampled_from(["now", "response", "state", "attempts", "other"]))] = "2026-11-26T12:00:00Z"
    return out


def _fields(req: Any) -> dict[str, Any]:
    """What the engine reads of a request, the model's or the checked one's (whose nested
    models are their field dicts)."""
    def of(x: Any) -> Any:
        return x if x is None or type(x) is dict else x.__dict__

    return {"id": req.id, "identity": of(req.identity), "conn": req.conn, "request": of(req.request),
            "ai": of(req.ai), "endpoint": req.endpoint, "req": req.req, "now": req.now, "response": req.response,
            "attempts": req.attempts, "state": req.state}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_a_checked_request_is_what_the_model_makes_of_it(data: dict[str, Any]) -> None:
    checked = plain_request(data)
    try:
        model = Request.parse(data)
    except RequestError:
        assert checked is None, "accepted a request the model refuses"
        return
    if checked is not None:
        assert _fields(checked) == _fields(model)
        assert checked.unix_now() is None
        for name in ("conn", "endpoint", "req"):  # copies, as the model's are: a later change is not seen
            given = data.get(name)
            assert given is None or getattr(checked, name) is not given


COMMON = {"id": "r1", "identity": {"key": "k1", "team": "t", "org": "o", "tier": "pro", "labels": {"env": "prod"}},
          "conn": {"client_ip": "203.0.113.9"}, "req": {"version": "1.1"}, "ai": {"provider": "openai"},
          "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                      "headers": {"content-type": "application/json", "x-many": ["a", "b"]},
                      "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


@pytest.mark.parametrize("drop", [(), ("id",), ("identity",), ("conn",), ("req", "ai"), ("request.headers",),
                                  ("request.method", "request.body")])
def test_the_common_shape_is_checked_here(drop: tuple[str, ...]) -> None:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in COMMON.items()}
    for name in drop:
        top, _, inner = name.partition(".")
        del (data[top] if inner else data)[inner or top]
    checked = plain_request(data)
    assert isinstance(checked, PlainRequest)
    assert _fields(checked) == _fields(Request.parse(data))


HTTP = COMMON["request"]


@pytest.mark.parametrize("change", [
    {"now": "2026-11-26T12:00:00Z"}, {"identity": {"team": Text("t")}}, {"request": {**HTTP, "url": "https://h/ a"}},
    {"request": {**HTTP, "method": "P\ud800"}}, {"request": {**HTTP, "url": "https://h/\ud800"}},
    {"request": {**HTTP, "body": Table(model="m")}},
    *({name: {"x": {1, 2}}} for name in ("conn", "endpoint", "req")),  # (`Any` takes a set, JSON has none)
    {"request": {**HTTP, "headers": {"x": ("a",)}}},
    *({name: {"deep": _deep(MAX_DEPTH - 1)}} for name in ("conn", "endpoint", "req")),
    {"request": {**HTTP, "body": _deep(MAX_DEPTH - 1)}},
])
def test_what_it_does_not_take_goes_to_the_model(change: dict[str, Any]) -> None:
    assert plain_request({**COMMON, **change}) is None


IDENT = COMMON["identity"]


@pytest.mark.parametrize("change", [  # one for each check of a key's or a value's type
    {"identity": {**IDENT, "team": 1}}, {"identity": {**IDENT, "labels": {1: "x"}}},
    {"identity": {**IDENT, "labels": {"env": 1}}}, {"identity": {**IDENT, "labels": ["env"]}},
    *({name: {1: "x"}} for name in ("conn", "endpoint", "req")),
    {"request": {**HTTP, "headers": {1: "x"}}}, {"request": {**HTTP, "headers": {"x": 1}}},
    {"request": {**HTTP, "headers": {"x": ["a", 1]}}},
    {"request": {**HTTP, "body": {"messages": [{"role": "user", "content": _deep(MAX_DEPTH)}]}}},
])
def test_what_the_model_refuses_is_refused_here(change: dict[str, Any]) -> None:
    data = {**COMMON, **change}
    with pytest.raises(RequestError):
        Request.parse(data)
    assert plain_request(data) is None


@pytest.mark.parametrize("change", [  # as deep as the model takes: taken here too
    *({name: {"deep": _deep(MAX_DEPTH - 2)}} for name in ("conn", "endpoint", "req")),
    {"request": {**HTTP, "body": _deep(MAX_DEPTH - 2)}},
])
def test_as_deep_as_the_model_takes(change: dict[str, Any]) -> None:
    data = {**COMMON, **change}
    checked = plain_request(data)
    assert checked is not None and _fields(checked) == _fields(Request.parse(data))


def test_the_dicts_it_keeps_are_copies() -> None:
    checked = plain_request(COMMON)
    assert checked is not None
    for mine, given in [(checked.identity["labels"], COMMON["identity"]["labels"]), (checked.conn, COMMON["conn"]),
                        (checked.req, COMMON["req"]), (checked.request["headers"], HTTP["headers"]),
                        (checked.request["headers"]["x-many"], HTTP["headers"]["x-many"])]:
        assert mine == given and mine is not given


# -- the decisions ---------------------------------------------------------------------------------------


@st.composite
def engine_requests(draw: Any) -> dict[str, Any]:
    model = draw(st.sampled_from(["gpt-4o", "gpt-4.1", "no-such-model-1"]))
    body = {"model": model, "messages": [{"role": "user", "content": "hello " * draw(st.integers(1, 40))}]}
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.sampled_from([50, 300]))
    r: dict[str, Any] = {"identity": {"key": draw(st.sampled_from(["k1", "k2", "k9"])), "team": "t"},
                         "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                     "headers": {"content-type": "application/json"}, "body": body}}
    if draw(st.booleans()):
        r["conn"] = {"client_ip": "203.0.113.7"}
    return r


def _decide(text: str, reqs: list[dict[str, Any]], trace: bool, fast: bool, use_async: bool) -> tuple[Any, ...]:
    was = plain.FAST_REQUEST
    plain.FAST_REQUEST = fast
    try:
        store, ledger = LoggedStore(), Ledger()
        engine = ap.Engine(ap.loads(text), store=store, trace=trace, ledger=ledger)
        out = []
        for i, r in enumerate(reqs):
            kw: dict[str, Any] = {"request_id": f"r{i}", "now": 1_795_000_000.0 + i}
            d = asyncio.run(engine.aevaluate(r, **kw)) if use_async else engine.evaluate(r, **kw)
            out.append(_read(d))
            if not d.complete:
                out.append(_read(engine.complete(f"r{i}", {"status_code": 200, "body": {
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7}}}, now=1_795_000_001.0 + i)))
        return out, store.calls, ledger.records
    finally:
        plain.FAST_REQUEST = was


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(engine_requests(), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_a_checked_request_decides_as_the_model(text: str, reqs: list[dict[str, Any]], trace: bool,
                                                use_async: bool) -> None:
    assert all(plain_request(r) is not None for r in reqs)  # the switch switches something
    assert _decide(text, reqs, trace, True, use_async) == _decide(text, reqs, trace, False, use_async)


@settings(max_examples=300, deadline=None)
@given(identities())
def test_the_ledger_reads_a_checked_identity_as_the_model_dumps_it(given_identity: Any) -> None:
    from aigw_policy.engine.runner import _given

    checked = plain_request({"identity": given_identity, "request": {"url": "/v1/chat/completions"}})
    if checked is None:
        return
    model = Request.parse({"identity": given_identity, "request": {"url": "/v1/chat/completions"}}).identity
    assert _given(checked.identity) == _given(model) == model.model_dump(exclude_none=True)
