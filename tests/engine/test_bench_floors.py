"""The decision benchmark's floors decide as the engine does (benchmarks/engine_bench.py).

The benchmark compares ``Engine.evaluate`` with hand-written functions "doing the same" (SPEC
§9). A floor that did less than the engine (no reason for a refusal, no effects on a request
that a limit then refuses) would flatter nobody but make the ratio mean something else: here
each floor's verdict, status, reason, effects and classification (the decision reports it:
"same classification", SPEC §9) are held to the engine's decision on the benchmark's own
request stream, long enough for the limits to refuse some.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.stores import MemoryStore

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("engine_bench", ROOT / "benchmarks" / "engine_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("engine_bench", module)
    spec.loader.exec_module(module)
    return module


eb = _bench()


def _effects(d: ap.Decision, request: dict[str, Any]) -> dict[str, Any] | None:
    """The decision's effects in the floors' form: the request headers as the upstream gets
    them, the vars, a model change, a clamped output cap, the headers of the gateway's own
    answer to a refusal and the response phase's header changes (None when there are none)."""
    eff = d.to_dict()["effects"]
    out: dict[str, Any] = {}
    rh = eff.get("request_headers")
    if rh:
        drop = {h.lower() for h in rh.get("remove", [])}
        headers = {k.lower(): v for k, v in request["headers"].items() if k.lower() not in drop}
        headers.update({k.lower(): v for k, v in rh.get("add", {}).items()})
        out["headers"] = headers
    if eff.get("vars"):
        out["vars"] = eff["vars"]
    if "model" in eff:
        out["model"] = eff["model"]["to"]
    if "max_tokens" in eff:
        out["max_tokens"] = eff["max_tokens"]
    answer = d.to_dict().get("response") if d.complete and d.verdict == "deny" else None
    if answer and answer["headers"]:
        out["answer_headers"] = answer["headers"]
    rs = eff.get("response_headers")
    if rs and (rs.get("add") or rs.get("remove")):
        if rs.get("add"):
            out["response_add"] = rs["add"]
        out["response_remove"] = rs.get("remove", [])
    return out or None


def _classified(ai: Any) -> tuple[Any, ...]:
    """What a classification says of a request: the floor's ``AiRequest`` or the decision's ``ai``."""
    if not isinstance(ai, dict):
        ai = {**ai.to_cel(), "max_output_tokens": ai.max_output_tokens}
    return tuple(ai[k] for k in ("provider", "operation", "model", "max_output_tokens", "input_tokens", "messages"))


def _decide_both(name: str, n: int, seed: Any = None) -> tuple[list[Any], list[Any]]:
    policy = ap.load(eb.EXAMPLES / f"{name}.aigw")
    floor = eb.Floor()
    engine = ap.Engine(policy, store=MemoryStore())
    if seed is not None:
        seed(floor.store, engine.store)
    reqs = eb.requests_for(name)
    got, want = [], []
    now = eb.T0
    for i in range(n):
        r = {**reqs[i % len(reqs)], "id": f"r{i}"}
        now += 0.001
        got.append((*eb.FLOORS[name](floor, r, now), _classified(floor.ai)))
        d = engine.evaluate(r, now=now, expect_response=False)
        want.append((d.verdict, d.status_code, d.reason, _effects(d, r["request"]), _classified(d.ai)))
    return got, want


STREAMS = {  # requests per example: enough for ngrok-style's per-IP limit (30 a minute, 250 addresses) to refuse
    "acme-gateway": 300,
    "content-guard": 300,
    "key-limits": 300,
    "monthly-budget": 300,
    "ngrok-style": 9_000,
    "team-model-access": 300,
}


def test_every_example_has_a_floor_and_a_stream() -> None:
    assert set(eb.FLOORS) == set(STREAMS) == {p.stem for p in eb.EXAMPLES.glob("*.aigw")}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_floor_decides_as_the_engine(name: str) -> None:
    got, want = _decide_both(name, STREAMS[name])
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"request {i}: floor {g} != engine {w}"


def test_ngrok_stream_reaches_the_limit() -> None:
    """The stream above is long enough to hold the refusals to the engine's too."""
    got, _ = _decide_both("ngrok-style", STREAMS["ngrok-style"])
    assert {g[1] for g in got} == {200, 403, 429}


def test_monthly_budget_near_its_cap() -> None:
    """A team close to its monthly budget: the downgrade and the vars, as the engine sets them."""

    def seed(*stores: Any) -> None:
        for store in stores:
            for team in range(512):
                store.seed(eb.MONTH, f"team{team}", 460.0, eb.T0)

    got, want = _decide_both("monthly-budget", 200, seed)
    assert got == want
    assert all(g[3] and g[3].get("model") == "gpt-4.1-mini" for g in got)
