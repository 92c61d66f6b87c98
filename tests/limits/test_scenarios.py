"""The data-driven store scenarios (data/scenarios.yaml), identical on every store."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from aigw_policy.limits import Charge, LimitSpec

from conftest import STORES, make_store

T0 = 1_800_000_000.0
SCENARIOS = yaml.safe_load((Path(__file__).parent / "data" / "scenarios.yaml").read_text())


def _at(v) -> float:
    if isinstance(v, str):
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    return T0 + v


def _charges(specs, raw):
    if isinstance(raw, dict):
        return [Charge(specs[n], "k", float(c)) for n, c in raw.items()]
    return [Charge(specs[n], k, float(c)) for n, k, c in raw]


def _compare(got, want, where):
    assert len(got) == len(want), f"{where}: {got}"
    for o, w in zip(got, want):
        for field, value in w.items():
            actual = getattr(o, field)
            if isinstance(value, (int, float)) and actual is not None:
                assert math.isclose(actual, value, rel_tol=1e-9, abs_tol=1e-6), \
                    f"{where}: {field} {actual} != {value} in {o}"
            else:
                assert actual == value, f"{where}: {field} {actual!r} != {value!r} in {o}"


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(scenario, kind, tmp_path):
    specs = {n: LimitSpec(name=n, **cfg) for n, cfg in scenario["limits"].items()}
    store = make_store(kind, tmp_path, **scenario.get("options", {}))
    try:
        for i, step in enumerate(scenario["steps"]):
            now = _at(step["at"])
            where = f"step {i} {step}"
            if "reserve" in step:
                got = store.reserve(step["reserve"], _charges(specs, step["charges"]), now)
            elif "check" in step:
                got = store.check(_charges(specs, step["check"]), now)
            elif "reconcile" in step:
                got = store.reconcile(step["reconcile"], step["actual"], now)
            elif "release" in step:
                got = store.release(step["release"], now)
                assert got is None
                continue
            elif "seed" in step:
                store.seed(specs[step["seed"]], "k", step["used"], now)
                continue
            else:
                raise AssertionError(f"unknown step {step}")
            if "expect" in step:
                _compare(got, step["expect"], where)
    finally:
        if kind == "redis":
            store.clear()
        store.close()
