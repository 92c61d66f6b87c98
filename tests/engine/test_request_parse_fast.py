"""The level-at-a-time depth check (``request.FAST_DEPTH``: :func:`_levels_too_deep`, used by
``Request.parse`` under a long list of a body) answers exactly as the item-by-item one it
stands in for (:func:`_too_deep`), and as the plain definition of depth.

The fast check leans on CPython's garbage collector: ``gc.get_referents`` lists a level's
items, and an untracked dict (one that holds no list or dict) ends its branch. So the values
are built every way a dict or list can be made (JSON, literals, copies, ``fromkeys``,
``update``, ``setdefault``, after a collection that untracks what it can), with kinds that
are not JSON's mixed in (tuples, mappings that are not dicts, subclasses, keys that are not
strings), deep and wide, at the limits and around them.
"""

from __future__ import annotations

import gc
import json
from collections import UserDict
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.env import request as request_module
from aigw_policy.env.request import MAX_DEPTH, Request, RequestError, _levels_too_deep, _nests, _too_deep


class SubDict(dict):  # type: ignore[type-arg]
    pass


class SubList(list):  # type: ignore[type-arg]
    pass


def depth(value: Any) -> int:
    """The plain definition: levels of lists and mappings (a list's subclass, a tuple: a
    leaf, as for :func:`_too_deep`), a leaf counting none."""
    if type(value) is list or isinstance(value, Mapping):
        items = value.values() if isinstance(value, Mapping) else value
        return 1 + max((depth(v) for v in items), default=0)
    return 0


def rebuilt(value: Any, how: int) -> Any:
    """``value`` with its dicts and lists made another way (each way keeps them equal)."""
    if type(value) is list:
        items = [rebuilt(v, how) for v in value]
        return list(items) if how % 2 else items[:]
    if type(value) is not dict:
        return value
    pairs = [(k, rebuilt(v, how)) for k, v in value.items()]
    if how == 0:
        return dict(pairs)
    if how == 1:
        return {k: v for k, v in pairs}
    if how == 2:
        out = dict.fromkeys(k for k, _ in pairs)
        out.update(pairs)
        return out
    if how == 3:
        out = {}
        for k, v in pairs:
            out.setdefault(k, v)
        return out.copy()
    out = {k: None for k, _ in pairs}  # values put in after the dict exists
    for k, v in pairs:
        out[k] = v
    return out


scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=3)
odd_leaves = st.sampled_from([b"x", (1, "a"), (), frozenset({1}), 1j])


def odd_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Kinds that are not JSON's: the fast check must hand them to :func:`_too_deep`."""
    return (st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(st.text(max_size=2), inner, max_size=3).map(UserDict)
            | st.dictionaries(st.text(max_size=2), inner, max_size=3).map(MappingProxyType)
            | st.dictionaries(st.text(max_size=2), inner, max_size=3).map(SubDict)
            | st.lists(inner, max_size=3).map(SubList)
            | st.dictionaries(st.integers(0, 3), inner, max_size=3)
            | st.dictionaries(st.tuples(st.integers(0, 2)), inner, max_size=2))


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=9) | st.dictionaries(st.text(max_size=3), inner, max_size=9)


json_values = st.recursive(scalars, containers, max_leaves=40)
odd_values = st.recursive(scalars | odd_leaves, lambda inner: containers(inner) | odd_containers(inner), max_leaves=30)


@st.composite
def chained(draw: st.DrawFn, values: st.SearchStrategy[Any], levels: st.SearchStrategy[int]) -> Any:
    """A value under ``levels`` levels, each a dict or a list, long or short, the rest of
    each level leaves, empty containers or other values (so the deepest branch is anywhere)."""
    value = draw(values)
    for _ in range(draw(levels)):
        others = draw(st.lists(scalars | st.sampled_from([[], {}, {"a": 1}, [1, "x"]]) | values, max_size=7))
        at = draw(st.integers(0, len(others)))
        if draw(st.booleans()):
            value = others[:at] + [value] + others[at:]
        else:
            value = {f"k{i}": v for i, v in enumerate(others[:at] + [value] + others[at:])}
    return value


@st.composite
def built(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> Any:
    value = draw(values)
    how = draw(st.integers(0, 5))
    if how == 5:
        try:
            value = json.loads(json.dumps(value))  # what a gateway gives: JSON only
        except (TypeError, ValueError):  # not JSON (a tuple key, bytes, a UserDict)
            value = rebuilt(value, 0)
    else:
        value = rebuilt(value, how)
    if draw(st.booleans()):
        gc.collect(0)  # the collector untracks the (young) dicts it can
    return value


def both(value: Any, limit: int) -> tuple[bool, bool]:
    return _levels_too_deep(value, limit), _too_deep(value, limit)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_a_level_at_a_time_agrees_item_by_item(data: st.DataObject) -> None:
    values = data.draw(st.sampled_from([json_values, odd_values]))
    value = data.draw(built(chained(values, st.integers(1, 12))))
    d = depth(value)
    for limit in sorted({0, 1, 2, d - 2, d - 1, d, d + 1, d + 5} - {-1, -2}):
        fast, plain = both(value, limit)
        assert fast == plain == (d > limit), (limit, d)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_the_body_check_at_the_request_limit(data: st.DataObject) -> None:
    """Deep bodies with long lists near :data:`MAX_DEPTH`: ``Request.parse`` refuses exactly
    the same ones with either check, and accepts the others as the same request."""
    top = data.draw(st.integers(MAX_DEPTH - 6, MAX_DEPTH + 1))
    body = data.draw(built(chained(json_values | odd_values, st.just(0))))
    while depth(body) < top - 2:  # request, body: the body may nest MAX_DEPTH - 2 levels
        width = data.draw(st.integers(0, 9))
        body = [{"a": "b"}] * width + [body] if data.draw(st.booleans()) else {"m": [body] + ["x"] * width}
    req = {"request": {"url": "/v1/chat/completions", "body": body}}
    fast = outcome(req)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(request_module, "FAST_DEPTH", False)
        plain = outcome(req)
    assert fast == plain
    assert (fast[0] == "error") == (depth(body) > MAX_DEPTH - 2)


def outcome(data: Any) -> Any:
    try:
        req = Request.parse(data)
    except RequestError as error:
        return ("error", error.problems)
    return ("ok", req, req.model_fields_set, req.request.model_fields_set)


def chain(levels: int, bottom: Any, *, width: int) -> Any:
    """``levels`` lists, each ``width`` long: one item carrying the rest, the others messages."""
    value = bottom
    for _ in range(levels):
        value = [{"role": "user", "content": "x"}] * (width - 1) + [value]
    return value


CASES = [  # (value, its depth)
    ([{"a": 1}] * 50, 2),  # a conversation: untracked dicts end the walk at once
    ([[]] * 9, 2),
    ([{"a": [1]}] * 9, 3),  # tracked: a dict holding a list
    ([{"a": {}}] * 9, 3),
    ([1, 2, 3, 4, 5, (1, [2, [3]])], 1),  # a tuple is a leaf, the lists in it do not count
    ([1, 2, 3, 4, 5, UserDict(a=UserDict(b=[1]))], 4),  # a mapping that is not a dict counts
    ([1, 2, 3, 4, 5, SubList([SubList([1])])], 1),  # a list's subclass is a leaf too
    ([1, 2, 3, 4, 5, {(1,): [1]}], 3),  # a key that is not a string: its dict's values count
    (chain(40, {"end": [1, [2]]}, width=6), 43),
    (chain(40, [1, 2, 3, 4, 5, 6, {"a": {"b": {}}}], width=2), 44),
]


@pytest.mark.parametrize(("value", "levels"), CASES)
def test_cases_at_their_depth(value: Any, levels: int) -> None:
    assert depth(value) == levels
    for limit in (levels - 1, levels, levels + 1):
        assert both(value, limit) == (levels > limit, levels > limit)
        if limit >= 1:  # _nests counts from a level below its value
            assert _nests(value, limit) == (levels > limit)


def test_a_body_past_the_limit_under_long_lists_is_refused() -> None:
    ok = chain(MAX_DEPTH - 3, "end", width=6)  # and the messages of its last list: MAX_DEPTH - 2
    assert depth(ok) == MAX_DEPTH - 2
    assert Request.parse({"request": {"url": "/v1/chat/completions", "body": ok}}).request.body is ok
    with pytest.raises(RequestError, match="nested more than"):
        Request.parse({"request": {"url": "/v1/chat/completions", "body": [ok] * 6}})
