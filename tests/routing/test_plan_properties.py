"""Properties of planning over generated configs, requests, metrics and seeds:

- the same seed gives the same plan (random strategies included);
- never more candidates than models x keys, and a (provider, model, key) never twice;
- without strategies, every model a requested name stands for is a candidate or dropped
  with a reason, and a plan with no candidate says why (an error);
- a strategy only filters the client's models: candidates keep the client's order.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.ir.ai_gateway import AiGateway
from aigw_policy.providers import classify
from aigw_policy.routing.compile import compile_route
from aigw_policy.routing.model import Plan

STRATEGIES = [
    "ai.models",
    "ai.models.random()",
    "ai.models.randomize()",
    "ai.models.filter(m, m.provider_id == 'p1')",
    "ai.models.filter(m, m.metrics.global.error_rate.total < 0.5)",
    "ai.models.sortBy(m, m.max_context_window)",
    "ai.models.ignore(['m1'])",
    "ai.models.filter(m, m.getMetadata('tier') == 'gold')",
]
KEY_STRATEGIES = ["ai.keys", "ai.keys.randomize()", "ai.keys.filter(k, k.error_rate.total < 0.5)",
                  "ai.keys.filter(k, k.quota.remaining_requests > 10)"]

model_cfg = st.fixed_dictionaries(
    {"id": st.sampled_from(["m0", "m1", "m2", "m3"])},
    optional={"disabled": st.booleans(), "metadata": st.sampled_from([{"tier": "gold"}, {"tier": "silver"}]),
              "max_context_window": st.sampled_from([10, 1000, 100_000])},
)


@st.composite
def configs(draw: Any) -> dict[str, Any]:
    providers = []
    for i in range(draw(st.integers(1, 3))):
        models = draw(st.lists(model_cfg, max_size=4, unique_by=lambda m: m["id"]))
        keys = [{"value": f"${{secrets.get('p{i}', 'k{j}')}}", "id": f"k{j}"} for j in range(draw(st.integers(0, 3)))]
        p: dict[str, Any] = {"id": f"p{i}", "base_url": f"http://p{i}.example/v1", "models": models}
        if keys:
            p["api_keys"] = keys
        if draw(st.booleans()):
            p["supported_api_surfaces"] = [{"format": f} for f in draw(st.lists(
                st.sampled_from(["openai", "anthropic"]), min_size=1, max_size=2, unique=True))]
        if draw(st.integers(0, 5)) == 0:
            p["disabled"] = True
        providers.append(p)
    cfg: dict[str, Any] = {"providers": providers, "only_allow_configured_providers": True,
                           "only_allow_configured_models": draw(st.booleans())}
    if draw(st.booleans()):
        cfg["model_selection"] = {"strategy": draw(st.lists(st.sampled_from(STRATEGIES), min_size=1, max_size=3))}
    if draw(st.booleans()):
        cfg["api_key_selection"] = {"strategy": draw(st.lists(st.sampled_from(KEY_STRATEGIES), min_size=1,
                                                                  max_size=2))}
    return cfg


names = st.sampled_from(["m0", "m1", "m2", "m3", "p0:m1", "p1:m0", "p2:m9", "nope", "openai:gpt-4o", "ngrok/auto"])
metrics = st.fixed_dictionaries({
    "models": st.dictionaries(st.tuples(st.sampled_from(["p0", "p1", "p2"]), st.sampled_from(["m0", "m1", "m2"])),
                              st.fixed_dictionaries({"error_rate": st.fixed_dictionaries(
                                  {"total": st.floats(0, 1)})}), max_size=4),
    "keys": st.dictionaries(st.tuples(st.sampled_from(["p0", "p1", "p2"]), st.sampled_from(["k0", "k1", "k2"])),
                            st.fixed_dictionaries({"quota": st.fixed_dictionaries(
                                {"remaining_requests": st.integers(0, 20)})}), max_size=4),
})


def classified(requested: list[str], path: str = "/v1/chat/completions", text: str = "hi") -> Any:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}]}
    if requested:
        body["model"] = requested[0]
        body["models"] = requested[1:]
    return classify({"method": "POST", "url": "https://gw.example" + path, "headers": {}, "body": body})


def plan_for(cfg: dict[str, Any], requested: list[str], snapshot: Any, seed: int,
             path: str = "/v1/chat/completions") -> Plan:
    return compile_route(AiGateway.model_validate(cfg)).plan(classified(requested, path), {}, snapshot,
                                                             random.Random(seed))


def live(plan: Plan) -> list[tuple[str, str, str | None]]:
    return [(c.provider, c.model, c.key_id) for c in plan.candidates if c.skipped_because is None]


@settings(max_examples=150)
@given(configs(), st.lists(names, max_size=4), metrics, st.integers(0, 2**32),
       st.sampled_from(["/v1/chat/completions", "/v1/messages"]))
def test_plans_are_deterministic_bounded_and_distinct(cfg: dict[str, Any], requested: list[str], snapshot: Any,
                                                       seed: int, path: str) -> None:
    plan = plan_for(cfg, requested, snapshot, seed, path)
    assert plan == plan_for(cfg, requested, snapshot, seed, path)
    got = live(plan)
    assert len(got) == len(set(got))
    models = sum(len(p["models"]) for p in cfg["providers"]) + len(requested)  # + pass-through ones
    keys = max([len(p.get("api_keys", ())) for p in cfg["providers"]] + [1])
    assert len(got) <= models * keys
    if not got:
        assert plan.error is not None and plan.error[2], plan
    else:
        assert plan.error is None
    for c in plan.candidates:
        assert c.skipped_because is None or c.skipped_because.strip()


@settings(max_examples=150)
@given(configs(), st.lists(names.filter(lambda n: n != "ngrok/auto"), min_size=1, max_size=4), st.integers(0, 9))
def test_without_strategies_every_requested_model_is_a_candidate_or_dropped(
        cfg: dict[str, Any], requested: list[str], seed: int) -> None:
    cfg = {k: v for k, v in cfg.items() if k not in ("model_selection", "api_key_selection")}
    plan = plan_for(cfg, requested, None, seed)
    route = compile_route(AiGateway.model_validate(cfg))
    accounted = {(c.provider, c.model) for c in plan.candidates}
    for name in requested:
        for m in route.by_name.get(name.lower(), []):
            assert (m.provider_id, m.id) in accounted or plan.error is not None, (name, plan)
    # every named thing got an answer: a candidate, a skip with its reason, or the plan's error
    named = {c.model for c in plan.candidates}
    for name in requested:
        short = name.split(":", 1)[-1]
        assert short in named or name in named or plan.error is not None, (name, plan)


@settings(max_examples=100)
@given(configs(), st.lists(names.filter(lambda n: n != "ngrok/auto"), min_size=1, max_size=4), st.integers(0, 9))
def test_strategies_keep_the_clients_order(cfg: dict[str, Any], requested: list[str], seed: int) -> None:
    plain = {k: v for k, v in cfg.items() if k not in ("model_selection", "api_key_selection")}
    before = [(p, m) for p, m, _ in live(plan_for(plain, requested, None, seed))]
    after = [(p, m) for p, m, _ in live(plan_for({**plain, "model_selection": cfg.get("model_selection") or {
        "strategy": ["ai.models.randomize()"]}}, requested, None, seed))]
    order = list(dict.fromkeys(before))
    chosen = list(dict.fromkeys(after))
    assert all(pm in order for pm in chosen)
    assert chosen == [pm for pm in order if pm in chosen]


def _kept(*roots: Any) -> list[Any]:
    """Every object reachable from ``roots`` through dicts, lists and tuples."""
    out, todo, seen = [], list(roots), set()
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        out.append(x)
        if isinstance(x, dict):
            todo.extend(x.keys())
            todo.extend(x.values())
        elif isinstance(x, (list, tuple)):
            todo.extend(x)
    return out


@settings(max_examples=100)
@given(configs(), st.lists(names, max_size=4), st.lists(st.integers(1, 1500), min_size=2, max_size=5))
def test_a_route_plans_as_a_fresh_one_and_keeps_no_exception(cfg: dict[str, Any], requested: list[str],
                                                              sizes: list[int]) -> None:
    """A route's memos (names resolved, what the names stand for, candidates) answer as a
    route planning for the first time, for requests of any size in any order (the context
    windows are 10, 1,000 and 100,000 tokens); and nothing they keep is an exception: one
    kept and raised again keeps every traceback it passes through (a leak per request)."""
    route = compile_route(AiGateway.model_validate(cfg))
    for words in sizes:
        ai = classified(requested, text="hi " * words)
        fresh = compile_route(AiGateway.model_validate(cfg)).plan(ai, {}, None, random.Random(1))
        assert route.plan(ai, {}, None, random.Random(1)) == fresh
    kept = _kept(route.memo, route.resolved, route.made_candidates)
    assert not [x for x in kept if isinstance(x, BaseException)]
