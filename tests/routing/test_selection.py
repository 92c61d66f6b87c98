"""ngrok's selection functions over typed elements, in the selection environments."""

from __future__ import annotations

import random
from typing import Any

import pytest

from aigw_policy.cel.runtime.values import CelError
from aigw_policy.ir.ai_gateway import AiGateway
from aigw_policy.routing.compile import compile_route
from aigw_policy.routing.selection import KEYS, MODELS, RNG, dependencies

ROUTE = compile_route(AiGateway.model_validate({
    "only_allow_configured_models": True,
    "providers": [
        {"id": "openai", "api_keys": [{"value": "${secrets.get('openai', 'a')}", "id": "a"}, {"value": "b", "id": "b"}],
         "models": [{"id": "gpt-4o", "metadata": {"tier": "premium", "config": {"region": "us"}}},
                    {"id": "gpt-4o-mini", "metadata": {"tier": "budget"}}]},
        {"id": "anthropic", "models": [{"id": "claude-sonnet-4-0", "id_aliases": ["sonnet"]}]},
        {"id": "ollama", "base_url": "http://o", "models": [{"id": "llama3", "author_id": "meta"}]},
    ]}))
MODELS_LIST = ROUTE.elements.models["openai"]


def run(expr: str, **extra: Any) -> Any:
    act = {"ai.models": MODELS_LIST, "ai.providers": ROUTE.elements.providers["openai"],
           "ai.authors": ROUTE.elements.authors["openai"], **extra}
    return MODELS.compile(expr)(act)


def ids(value: Any) -> list[str]:
    return [m["id"] for m in (value if isinstance(value, list) else [value])]


@pytest.mark.parametrize(("expr", "expect"), [
    ("ai.models", ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0", "llama3"]),
    ("ai.models.filter(m, m.provider_id == 'openai')", ["gpt-4o", "gpt-4o-mini"]),
    ("ai.models.only(['SONNET', 'llama3'])", ["claude-sonnet-4-0", "llama3"]),
    ("ai.models.ignore(['gpt-4o'])", ["gpt-4o-mini", "claude-sonnet-4-0", "llama3"]),
    ("ai.models.onlyProviders(['anthropic'])", ["claude-sonnet-4-0"]),
    ("ai.models.ignoreProviders(['openai', 'anthropic'])", ["llama3"]),
    ("ai.models.onlyAuthors(['meta'])", ["llama3"]),
    ("ai.models.ignoreAuthors(['openai', 'meta'])", ["claude-sonnet-4-0"]),
    ("ai.models.underCost('text.input', 1.0)", ["gpt-4o-mini"]),
    ("ai.models.underCost('text.output', 100)", ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0"]),
    ("ai.models.sortBy('price')", ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-0", "llama3"]),
    ("ai.models.sortBy(m, -m.pricing.input)", ["claude-sonnet-4-0", "gpt-4o", "gpt-4o-mini", "llama3"]),
    ("ai.models.get('openai', 'gpt-4o-mini')", ["gpt-4o-mini"]),
    ("ai.providers.get('openai').getModel('gpt-4o')", ["gpt-4o"]),
    ("ai.models.filter(m, m.getMetadata('tier') == 'premium')", ["gpt-4o"]),
    ("ai.models.filter(m, m.getMetadata('config.region') == 'us')", ["gpt-4o"]),
    ("ai.models.filter(m, m.provider_id == 'openai')[1]", ["gpt-4o-mini"]),
    ("ai.models.filter(m, !m.known)", ["llama3"]),
    ("ai.models.inCountryCode('US')", []),
    ("ai.models.inRegion('us-east-1')", []),
])
def test_functions(expr: str, expect: list[str]) -> None:
    assert ids(run(expr)) == expect


def test_providers_and_authors() -> None:
    assert [p["id"] for p in run("ai.providers.only(['openai', 'ollama'])")] == ["openai", "ollama"]
    assert [a["id"] for a in run("ai.authors.ignore(['meta'])")] == ["openai", "anthropic"]
    assert run("ai.authors.get('meta').id") == "meta"


def test_random_follows_the_seed() -> None:
    def pick(seed: int) -> list[str]:
        token = RNG.set(random.Random(seed))
        try:
            return ids(run("ai.models.random()")) + ids(run("ai.models.randomize()"))
        finally:
            RNG.reset(token)

    assert pick(3) == pick(3)
    assert sorted(pick(3)[1:]) == sorted(ids(MODELS_LIST))
    assert len({tuple(pick(s)) for s in range(8)}) > 1


@pytest.mark.parametrize("expr", [
    "ai.models.get('openai', 'nope')", "ai.models.filter(m, false).random()",
    "ai.models.underCost('text.nothing', 1.0)", "ai.models.sortBy('latency')",
])
def test_errors(expr: str) -> None:
    with pytest.raises(CelError):
        run(expr)


@pytest.mark.parametrize(("expr", "code"), [
    ("ai.models.filter(m, m.provider == 'x')", "AIGW303"), ("ai.models.cheapest()", "AIGW301"),
    ("ai.models.only('gpt-4o')", "AIGW302"), ("ai.keys", "AIGW300"),
    ("ai.models.filter(m, m.metrics.global.error_rate.totl < 1.0)", "AIGW303"),
])
def test_type_errors(expr: str, code: str) -> None:
    with pytest.raises(CelError) as info:
        MODELS.compile(expr)
    assert info.value.diagnostics[0].code == code


def test_keys_show_the_template_never_a_secret_and_quota_may_be_null() -> None:
    keys = ROUTE.elements.keys["openai"]
    assert [k["value"] for k in keys] == ["${secrets.get('openai', 'a')}", "b"]
    assert KEYS.compile("ai.keys.filter(k, k.error_rate.total < 0.5).size()")({"ai.keys": keys}) == 2
    with pytest.raises(CelError):  # unknown quota: the comparison is an error
        KEYS.compile("ai.keys.filter(k, k.quota.remaining_requests > 100)")({"ai.keys": keys})
    assert KEYS.compile("ai.keys.filter(k, k.quota.remaining_requests == null)")({"ai.keys": keys}) == keys
    known = "ai.keys.filter(k, k.quota.remaining_requests != null && k.quota.remaining_requests > 100)"
    assert KEYS.compile(known)({"ai.keys": keys}) == []


@pytest.mark.parametrize(("expr", "pure", "live"), [
    ("ai.models", True, False), ("ai.models.random()", False, False),
    ("ai.models.filter(m, m.metrics.global.error_rate.total < 0.1)", True, True),
    ("ai.models.filter(m, identity.tier == 'free')", False, False),
    ("ai.models.filter(m, ai.model == m.id)", False, False),
    ("ai.keys.filter(k, k.quota.remaining_requests > 1)", True, True),
    ("ai.models.filter(m, getReqHeader('x').size() > 0)", False, False),
])
def test_dependencies(expr: str, pure: bool, live: bool) -> None:
    assert dependencies(expr) == (pure, live)
