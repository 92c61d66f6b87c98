"""serve29: the memory store holds at most ``max_cells`` limit cells; past them a charge that
needs a new cell is refused, and no live cell is ever dropped.

A flood of distinct bucket keys (a limit keyed by a header, a model, an address) made one cell
each for the window, unbounded (serve28 bounded each key's length, not their number). Dropping
cells to make room (nginx's ``limit_req`` drops the least recently used state) would let a
client that can make keys push its own bucket out and start it afresh; refusing the newcomer
cannot reset anyone. Cells past their window are swept first (at most once a second while full).
Counted, not timed; the fast path and the overlay's steps alike.
"""

from __future__ import annotations

import pytest

from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.limits.memory import MemoryStore

T0 = 1_780_000_000.0
TIGHT = LimitSpec("tight", "requests", "fixed_window", 2, 3600)
WIDE = LimitSpec("wide", "requests", "fixed_window", 10**9, 3600)
SHADOW = LimitSpec("shadow", "requests", "fixed_window", 10**9, 3600, enforce=False)


@pytest.fixture(params=[True, False], ids=["fast", "overlay"])
def store(request: pytest.FixtureRequest) -> MemoryStore:
    s = MemoryStore(max_cells=8)
    s._fast = request.param
    return s


def test_a_flood_of_keys_stops_at_the_bound_and_the_newcomer_is_refused(store: MemoryStore) -> None:
    out = [store.reserve(f"r{i}", [Charge(WIDE, f"k{i}", 1)], T0)[0] for i in range(50)]
    assert [o.outcome for o in out[:8]] == ["ok"] * 8
    assert {o.outcome for o in out[8:]} == {"limited"} and all(o.retry_after for o in out[8:])
    assert len(store._cells) == 8
    # a key that has its cell is still charged
    assert store.reserve("again", [Charge(WIDE, "k3", 1)], T0 + 1)[0].outcome == "ok"
    assert store.get(store.locate(WIDE, "k3", T0).cur) == 2


def test_a_client_cannot_push_its_own_bucket_out(store: MemoryStore) -> None:
    for i in range(2):
        assert store.reserve(f"mine{i}", [Charge(TIGHT, "me", 1)], T0)[0].outcome == "ok"
    assert store.reserve("mine2", [Charge(TIGHT, "me", 1)], T0)[0].outcome == "limited"
    for i in range(100):  # keys the client makes, to evict its own cell
        store.reserve(f"flood{i}", [Charge(WIDE, f"f{i}", 1)], T0 + 1)
    assert store.reserve("mine3", [Charge(TIGHT, "me", 1)], T0 + 2)[0].outcome == "limited"


def test_cells_past_their_window_make_room(store: MemoryStore) -> None:
    for i in range(8):
        store.reserve(f"old{i}", [Charge(WIDE, f"o{i}", 1)], T0)
    later = T0 + 2 * 3600 + 120  # the cells' life (window and a margin) over
    assert store.reserve("new", [Charge(WIDE, "n", 1)], later)[0].outcome == "ok"
    assert len(store._cells) <= 8


def test_a_shadow_limit_past_the_bound_admits_and_stores_nothing(store: MemoryStore) -> None:
    for i in range(8):
        store.reserve(f"s{i}", [Charge(SHADOW, f"s{i}", 1)], T0)
    out = store.reserve("more", [Charge(SHADOW, "new", 1)], T0)
    assert out[0].outcome == "limited" and len(store._cells) == 8
    assert store.get_record("more") is not None  # admitted (a shadow limit never refuses)


def test_a_request_needing_two_new_cells_with_room_for_one_is_refused_whole(store: MemoryStore) -> None:
    for i in range(7):
        store.reserve(f"p{i}", [Charge(WIDE, f"p{i}", 1)], T0)
    out = store.reserve("two", [Charge(WIDE, "a", 1), Charge(TIGHT, "b", 1)], T0)
    assert [o.outcome for o in out] == ["ok", "limited"]
    assert store.get_record("two") is None and len(store._cells) == 7  # nothing written


def test_max_cells_must_be_a_positive_int() -> None:
    with pytest.raises(ValueError, match="max_cells"):
        MemoryStore(max_cells=0)


def test_the_store_url_sets_the_bound() -> None:
    from aigw_policy.limits import from_url

    assert from_url("memory:?max_cells=12").max_cells == 12
    assert from_url("memory:").max_cells == 500_000
    for bad in ("memory:?max_cells=x", "memory:?cells=3", "memory:?max_cells=3&x=1", "memory:?max_cells=0"):
        with pytest.raises(ValueError):
            from_url(bad)
