"""Which hash tag each charge gets under each shard rule (pure: no server)."""

from __future__ import annotations

import pytest

from aigw_policy.limits.model import Charge, LimitSpec
from aigw_policy.limits.sharding import group, tag_of

SPEC = LimitSpec("l", "requests", "fixed_window", 1, 60)
KEYS = ["acme|ann", "acme|bo", "acme", "", "globex|ann", "a{b}|c"]


@pytest.mark.parametrize("rule, groups", [
    ("first", {"aigw:acme": [0, 1, 2], "aigw:": [3], "aigw:globex": [4], "aigw:a%7Bb%7D": [5]}),
    ("key", {"aigw:acme|ann": [0], "aigw:acme|bo": [1], "aigw:acme": [2], "aigw:": [3],
             "aigw:globex|ann": [4], "aigw:a%7Bb%7D|c": [5]}),
    ("one", {"aigw": [0, 1, 2, 3, 4, 5]}),
])
def test_groups_by_rule(rule, groups):
    assert group([Charge(SPEC, k, 1) for k in KEYS], "aigw", rule) == groups


@pytest.mark.parametrize("key", ["}", "{", "%7D", "a}b{c", "%"])
def test_a_tag_never_holds_a_brace_and_distinct_keys_keep_distinct_tags(key):
    tag = tag_of(Charge(SPEC, key, 1), "aigw", "key")
    assert "{" not in tag and "}" not in tag
    others = {tag_of(Charge(SPEC, k, 1), "aigw", "key") for k in ["}", "{", "%7D", "a}b{c", "%"] if k != key}
    assert tag not in others


@pytest.mark.parametrize("rule, groups", [
    # the request's shard places every keyed limit; the global limit (no key) keeps the rule
    ("first", {"aigw:acme": [0, 1, 2, 4, 5], "aigw:": [3]}),
    ("key", {"aigw:acme": [0, 1, 2, 4, 5], "aigw:": [3]}),
    ("one", {"aigw": [0, 1, 2, 3, 4, 5]}),
])
def test_a_charges_shard_places_it_whatever_its_bucket_key(rule, groups):
    assert group([Charge(SPEC, k, 1, shard="acme") for k in KEYS], "aigw", rule) == groups


def test_a_shard_is_escaped_like_a_key():
    assert tag_of(Charge(SPEC, "t", 1, shard="a}b"), "aigw", "first") == "aigw:a%7Db"
