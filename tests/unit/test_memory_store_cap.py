"""MemoryStore in a long-running process: settled records are packed and capped (on by
default); unsettled reservations are never dropped by the cap."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.limits.memory import DEFAULT_MAX_RECORDS
from aigw_policy.stores import MemoryStore

RPM = LimitSpec("rpm", "requests", "sliding_window", 10**9, 60)
TPM = LimitSpec("tpm", "tokens", "token_bucket", 10**9, 60)
USD = LimitSpec("usd", "usd", "calendar", 10**9, 0, period="month", timezone="Europe/Paris", warn_at=0.8)


def charges(cost: float = 1200) -> list[Charge]:
    return [Charge(RPM, "team-1", 1), Charge(TPM, "team-1", cost), Charge(USD, "team-1", 0.012)]


def test_the_cap_is_on_by_default() -> None:
    assert MemoryStore().max_records == DEFAULT_MAX_RECORDS == 100_000
    with pytest.raises(ValueError, match="max_records"):
        MemoryStore(max_records=0)


def test_past_the_cap_the_oldest_settled_record_is_dropped() -> None:
    s = MemoryStore(max_records=3)
    for i in range(10):
        s.reserve(f"r{i}", charges(), 100.0 + i)
        s.reconcile(f"r{i}", {"tpm": 800}, 100.0 + i)
    assert len(s) == 3
    assert [s.get_record(f"r{i}") is not None for i in range(10)] == [False] * 7 + [True] * 3
    # the newest are still idempotent: a retry charges nothing and replays the outcomes
    used = s.check([Charge(TPM, "team-1", 0)], 110.0)[0].used
    first = s.reconcile("r9", {"tpm": 800}, 110.0)
    assert s.reconcile("r9", {"tpm": 1}, 110.0) == first
    s.reserve("r9", charges(), 110.0)
    assert s.check([Charge(TPM, "team-1", 0)], 110.0)[0].used == used


def test_unsettled_reservations_are_never_dropped_by_the_cap() -> None:
    s = MemoryStore(max_records=2)
    for i in range(5):
        s.reserve(f"r{i}", charges(100), 100.0)
    assert len(s) == 5
    assert s.check([Charge(TPM, "team-1", 0)], 100.0)[0].used == pytest.approx(500)
    for i in range(5):
        s.release(f"r{i}", 100.0)
    assert len(s) == 2 and s.check([Charge(TPM, "team-1", 0)], 100.0)[0].used == pytest.approx(0)


def test_a_settled_record_costs_under_800_bytes() -> None:
    s = MemoryStore()
    s.reserve("warm", charges(), 100.0)
    n = 2000
    ids = [f"request-{i:08d}" for i in range(n)]
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for rid in ids:
            s.reserve(rid, charges(), 100.0)
            s.reconcile(rid, {"tpm": 800, "usd": 0.008}, 100.0)
        gc.collect()
        per_record = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    assert per_record < 800, f"{per_record:.0f} bytes per settled record"
