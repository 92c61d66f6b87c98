"""The compile cache's batch files are bounded on disk: a long-running ``serve`` writes one
per policy version it loads, and the least recently written go first."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aigw_policy.cel import cache


def test_batches_stay_under_the_bound_and_the_newest_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "cel"
    directory.mkdir(mode=0o700)
    records = {f"expr{i}": ("x" * 2_000,) for i in range(5)}
    assert cache.save_batch(directory, "a" * 40, records)
    one = sum(p.stat().st_size for p in directory.glob("*.celb"))
    monkeypatch.setattr(cache, "MAX_BATCH_BYTES", 3 * one)
    keys = [f"{i:040d}" for i in range(1, 8)]
    base = time.time_ns() - 100 * 10**9  # each batch dated a second after the one before it
    for i, key in enumerate(keys):
        assert cache.save_batch(directory, key, records)
        newest = directory / cache._name(key, "celb")  # noqa: SLF001
        os.utime(newest, ns=(base + i * 10**9,) * 2)
    files = list(directory.glob("*.celb"))
    assert len(files) == 3 and sum(p.stat().st_size for p in files) <= 3 * one
    assert cache.load_batch(directory, keys[-1]) == records
    assert cache.load_batch(directory, keys[0]) is None
