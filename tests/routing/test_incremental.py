"""An elementwise strategy's answers kept between metrics snapshots (routing/incremental.py)
plan exactly as evaluating it over the whole pool each time does: over sequences of
snapshots whose pairs change, stay the same (as new but equal dicts, or the same objects),
appear and disappear, with and without versions, with predicates that error for some
models only."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.ir.ai_gateway import AiGateway
from aigw_policy.providers import classify
from aigw_policy.routing import plan as plan_module
from aigw_policy.routing.compile import compile_route
from aigw_policy.routing.selection import elementwise

ELEMENTWISE = [
    "ai.models.filter(m, m.metrics.global.error_rate.total < 0.5)",
    "ai.models.filter(m, m.getMetadata('tier') == 'gold' && m.metrics.global.latency.upstream_ms_avg < 300.0)",
    "ai.models.filter(m, 100 / m.metrics.global.request_count > 30)",  # division by zero: an error for some
    "ai.models.filter(m, m.metrics.api_keys['k0'].request_count > 0)",  # no such key: an error for some
    "ai.models.filter(m, m.metrics.global.error_rate.total < 0.5 || m.id == 'm1')",
]
OTHERS = ["ai.models", "ai.models.filter(m, m.provider_id == 'p1')", "ai.models.sortBy(m, m.max_context_window)"]


@pytest.mark.parametrize(("source", "expected"), [
    *((s, True) for s in ELEMENTWISE),
    ("ai.models.filter(m, has(m.metadata.x))", True),
    ("ai.models.filter(m, m.supported_features.exists(f, f == 'x'))", False),  # a macro of its own
    ("ai.models.filter(m, m.id == identity.team)", False),  # another variable
    ("ai.models.filter(m, m.id in ai.models.map(x, x.id))", False),  # the collection
    ("ai.models.filter(m, math.abs(m.max_context_window) > 1)", False),  # a namespaced function
    ("ai.keys.filter(k, k.quota.remaining_requests > 100)", False),  # keys: a provider's few
    ("ai.models.filter(m, m.id == 'a').sortBy('price')", False),  # not the filter alone
    ("ai.models.filter(m, ", False),  # does not parse
])
def test_elementwise_shapes(source: str, expected: bool) -> None:
    assert elementwise(source) is expected


REFS = [(p, m) for p in ("p0", "p1", "p2") for m in ("m0", "m1", "m2", "m3")]
numbers = st.fixed_dictionaries({
    "request_count": st.integers(0, 5),
    "error_rate": st.fixed_dictionaries({"total": st.sampled_from([0.0, 0.2, 0.6, 1.0])}),
    "latency": st.fixed_dictionaries({"upstream_ms_avg": st.sampled_from([100.0, 250.0, 900.0])}),
})


@st.composite
def snapshots(draw: Any) -> list[dict[str, Any]]:
    """2-5 snapshots; each next one is drawn anew, or the last one's copy (equal values in new
    dicts, as a store's next snapshot of unchanged numbers) with some pairs changed or dropped."""
    out: list[dict[str, Any]] = []
    versioned = draw(st.booleans())
    for i in range(draw(st.integers(2, 5))):
        if out and draw(st.booleans()):
            snap = copy.deepcopy(out[-1]) if draw(st.booleans()) else dict(out[-1], models=dict(out[-1]["models"]))
            for ref in draw(st.lists(st.sampled_from(REFS), max_size=2)):
                if draw(st.booleans()):
                    snap["models"][ref] = draw(numbers)
                else:
                    snap["models"].pop(ref, None)
        else:
            snap = {"models": draw(st.dictionaries(st.sampled_from(REFS), numbers, max_size=6)),
                    "model_keys": draw(st.dictionaries(
                        st.tuples(st.sampled_from(["p0", "p1"]), st.sampled_from(["m0", "m1"]), st.just("k0")),
                        numbers, max_size=2)),
                    "keys": {}}
        if versioned:
            snap["version"] = 1000 + i
        else:
            snap.pop("version", None)
        out.append(snap)
    return out


def config(strategies: list[str], tiers: list[str]) -> AiGateway:
    providers = [{"id": f"p{p}", "base_url": f"http://p{p}.example/v1",
                  "models": [{"id": f"m{m}", "metadata": {"tier": tiers[(p * 4 + m) % len(tiers)]}} for m in range(4)]}
                 for p in range(3)]
    return AiGateway.model_validate({"providers": providers, "only_allow_configured_providers": True,
                                     "only_allow_configured_models": True,
                                     "model_selection": {"strategy": strategies}})


AUTO = classify({"method": "POST", "url": "https://gw.example/v1/chat/completions", "headers": {},
                 "body": {"model": "ngrok/auto", "messages": [{"role": "user", "content": "hi"}]}})


NAMED = classify({"method": "POST", "url": "https://gw.example/v1/chat/completions", "headers": {},
                  "body": {"model": "m1", "models": ["p2:m3", "m0"], "messages": [{"role": "user", "content": "hi"}]}})
"""A request naming its models (each of m1's providers, then p2's m3, then m0's): the pool the
strategies range over is those."""


def _same_plans(kept: Any, whole: Any, snap: dict[str, Any], ai: Any = AUTO) -> None:
    """``kept`` (answers kept) plans ``snap`` as ``whole`` does evaluating the whole pool."""
    got = kept.plan(ai, {}, snap, random.Random(0))
    plan_module.KEEP_ANSWERS = False
    try:
        want = whole.plan(ai, {}, snap, random.Random(0))
    finally:
        plan_module.KEEP_ANSWERS = True
    assert got == want, snap


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ELEMENTWISE + OTHERS), min_size=1, max_size=3),
       st.lists(st.sampled_from(["gold", "silver"]), min_size=1, max_size=3), snapshots())
def test_kept_answers_plan_as_the_whole_pool_does(strategies: list[str], tiers: list[str],
                                                  snaps: list[dict[str, Any]]) -> None:
    kept, whole = compile_route(config(strategies, tiers)), compile_route(config(strategies, tiers))
    assert any(s.elementwise for s in kept.model_strategies) == any(s in ELEMENTWISE for s in strategies)
    for snap in snaps:
        _same_plans(kept, whole, snap)
        _same_plans(kept, whole, snap, NAMED)


def test_a_changed_pair_is_asked_again_and_no_other() -> None:
    """Counted: after the first snapshot, a new one (every dict new, one pair's numbers
    changed) evaluates the predicate for that pair alone."""
    route = compile_route(config([ELEMENTWISE[0]], ["gold"]))
    strategy = route.model_strategies[0]
    calls = []
    inner = strategy.program.function

    class Counting:  # the program's function, counted
        def __getattr__(self, name: str) -> Any:
            return getattr(strategy.program, name)

        @property
        def function(self) -> Any:
            def counted(scope: dict[str, Any]) -> Any:
                calls.append(len(scope["ai.models"]))
                return inner(scope)
            return counted

    object.__setattr__(strategy, "program", Counting())
    snap = {"models": {ref: {"request_count": 1, "error_rate": {"total": 0.1}} for ref in REFS[:6]}, "version": 1}
    first = route.plan(AUTO, {}, snap, random.Random(0))
    assert calls == [1] * 12  # each model once
    calls.clear()
    changed = copy.deepcopy(snap)
    changed["version"] = 2
    changed["models"][REFS[2]]["error_rate"]["total"] = 0.9  # dropped now
    second = route.plan(AUTO, {}, changed, random.Random(0))
    assert calls == [1]
    assert [c.model for c in first.candidates if c.provider == "p0"] == ["m0", "m1", "m2", "m3"]
    assert [c.model for c in second.candidates if c.provider == "p0"] == ["m0", "m1", "m3"]
    calls.clear()
    same = copy.deepcopy(changed)
    same["version"] = 3
    assert route.plan(AUTO, {}, same, random.Random(0)) == second
    assert calls == []  # equal numbers in new dicts: nothing asked again


def _attempt(provider: str, model: str) -> Any:
    from aigw_policy.routing.model import Attempt

    class Provider:  # what MemoryRouteMetrics reads of an attempt's provider
        id = provider

    return Attempt(1, Provider(), model, None, "openai")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(ELEMENTWISE + OTHERS), min_size=1, max_size=3),
       st.lists(st.tuples(st.sampled_from(REFS), st.sampled_from([200, 500, 0]), st.sampled_from([0.0, 0.4, 1.5, 400.0]),
                          st.booleans()), min_size=1, max_size=12))
def test_kept_answers_over_a_live_stores_snapshots(strategies: list[str], ops: list[Any]) -> None:
    """Planned from a ``memory:`` store's snapshots, which say which pairs they remade since
    the snapshot before (``"changed"``), the kept answers equal evaluating the whole pool:
    records of every pair, snapshots in the same second, the next ones and past the window."""
    from aigw_policy.routing.metrics import AttemptOutcome, MemoryRouteMetrics

    kept, whole = compile_route(config(strategies, ["gold"])), compile_route(config(strategies, ["gold"]))
    store = MemoryRouteMetrics()
    now = 1_795_000_000.0
    for (provider, model), status, dt, snap_now in ops:
        now += dt
        store.record(_attempt(provider, model), AttemptOutcome(status, error=None if status else "timeout",
                                                               latency_ms=100.0 + dt), now)
        if not snap_now:
            continue
        snap = store.snapshot(now)
        _same_plans(kept, whole, snap)
        _same_plans(kept, whole, snap, NAMED)


def test_a_snapshot_that_names_its_remade_pairs_is_asked_for_those_alone() -> None:
    """Counted: a store's next snapshot of the same window names the pair recorded since; the
    planner asks the predicate for that pair only, without comparing every pair's numbers."""
    from aigw_policy.routing import incremental
    from aigw_policy.routing.metrics import AttemptOutcome, MemoryRouteMetrics

    route = compile_route(config([ELEMENTWISE[0]], ["gold"]))
    store = MemoryRouteMetrics()
    now = 1_795_000_000.0
    for ref in REFS:
        store.record(_attempt(*ref), AttemptOutcome(200, latency_ms=100.0), now)
    route.plan(AUTO, {}, store.snapshot(now), random.Random(0))
    store.record(_attempt("p1", "m2"), AttemptOutcome(500, latency_ms=100.0), now + 0.1)
    snap = store.snapshot(now + 0.2)
    assert snap["changed"][1] == {("p1", "m2")}
    whole = incremental._signatures
    incremental._signatures = None  # type: ignore[assignment]  (the pairs are not walked)
    try:
        route.plan(AUTO, {}, snap, random.Random(0))
    finally:
        incremental._signatures = whole
