"""Which Redis Cluster shard a limit's bucket lives on: the hash tag of a charge.

A Redis Cluster places a key by its hash tag (the text between ``{`` and ``}``); a Lua script
sees only keys of one slot. The cluster store therefore tags every key of one bucket with a
*shard key* taken from the charge, and makes one script call per tag a request touches. The
limits of one request that share a tag are reserved all or nothing in one call; a request
whose limits carry several tags is reserved in two phases (``two_phase.py``).

The shard rule (``shard=`` of the store URL):

- ``first`` (the default): the first value of the limit's bucket key, i.e. the text before
  the first ``|``. Write the tenant first (``bucket_key: [identity.org, identity.user]``)
  and every limit of one tenant lands on one shard; limits without a bucket key share the
  tag of the empty value (one shard for all global limits).
- ``key``: the whole bucket key (the widest spread; a request with limits keyed differently
  is cross-shard).
- ``one``: one tag for everything (the single-shard store on a cluster: never cross-shard,
  but the whole limit traffic on one primary).

A charge that carries a ``shard`` (the document's ``shard_key``, evaluated once per request)
is placed by it under ``first`` and ``key``, whatever its bucket key: every limit of one
tenant on one shard, even limits keyed on the team or the API key. A limit without a bucket
key (one bucket for everyone) keeps the rule: its bucket must not split by tenant.

>>> from aigw_policy.limits.model import Charge, LimitSpec
>>> spec = LimitSpec("per-user", "requests", "fixed_window", 10, 60)
>>> tag_of(Charge(spec, "acme|alice", 1), "aigw", "first")
'aigw:acme'
>>> tag_of(Charge(spec, "a{b}", 1), "aigw", "key")
'aigw:a%7Bb%7D'
>>> tag_of(Charge(spec, "team-7", 1, shard="acme"), "aigw", "first")
'aigw:acme'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .model import Charge

__all__ = ["RULES", "ShardRule", "group", "prefix_of", "tag_of"]

ShardRule = Literal["first", "key", "one"]
RULES: tuple[ShardRule, ...] = ("first", "key", "one")


def _escape(text: str) -> str:
    # a hash tag ends at the first '}': keep braces (and the escape character) out of it
    return text.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def tag_of(charge: Charge, base: str, rule: ShardRule) -> str:
    """The hash tag of the keys of ``charge``'s bucket: ``base``, then ``:`` and its shard key."""
    if rule == "one":
        return base
    if charge.shard is not None and charge.key:
        return f"{base}:{_escape(charge.shard)}"
    shard = charge.key if rule == "key" else charge.key.split("|", 1)[0]
    return f"{base}:{_escape(shard)}"


def prefix_of(tag: str) -> str:
    """The key prefix the script is given for one tag."""
    return "{" + tag + "}:"


def group(charges: Sequence[Charge], base: str, rule: ShardRule) -> dict[str, list[int]]:
    """The positions of ``charges`` by hash tag, in order of first appearance."""
    out: dict[str, list[int]] = {}
    for i, c in enumerate(charges):
        out.setdefault(tag_of(c, base, rule), []).append(i)
    return out
