"""A routing config's own provider id (``acme``) is priced as the vendor the host of its
``base_url`` names (``api.openai.com``: ``openai``), and the metrics' model label follows the
decision's price. Before, such a provider was priced by its id alone: genai-prices knows no
``acme``, so every answer it served cost unknown (a usd cap under ``on_unknown_price: deny``
refused it) and its model was counted under the ``other`` label.

Each row: the config's providers, the model the client names, the answer's usage, the price
overrides, and the cost the decision must hold (USD, by hand from the vendors' price lists)
with its source."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.gateway.metrics import Observer
from aigw_policy.providers import PriceBook
from aigw_policy.routing.model import AttemptOutcome, Serve

OPENAI_ACME = "{id: acme, base_url: 'https://api.openai.com/v1', api_keys: [{value: sk-1}], models: [{id: gpt-4o-mini}]}"
USAGE = {"prompt_tokens": 1_000_000, "completion_tokens": 100_000, "total_tokens": 1_100_000}
ROWS: list[tuple[str, str, str, dict[str, Any], dict[str, Any], float | None, str]] = [
    # gpt-4o-mini: $0.15 in, $0.60 out per MTok
    ("openai's host", OPENAI_ACME, "acme:gpt-4o-mini", USAGE, {}, 0.21, "genai-prices"),
    # groq llama-3.3-70b-versatile: $0.59 in, $0.79 out
    ("groq's host", "{id: fastllama, base_url: 'https://api.groq.com/openai/v1', api_keys: [{value: k}], "
     "models: [{id: llama-3.3-70b-versatile}]}", "fastllama:llama-3.3-70b-versatile", USAGE, {}, 0.669,
     "genai-prices"),
    # OpenRouter says what it charged: its own figure
    ("openrouter's host", "{id: myrouter, base_url: 'https://openrouter.ai/api/v1', api_keys: [{value: k}], "
     "models: [{id: openai/gpt-4o-mini}]}", "myrouter:openai/gpt-4o-mini", {**USAGE, "cost": 0.25}, {}, 0.25,
     "provider"),
    ("an override by the id wins", OPENAI_ACME, "acme:gpt-4o-mini", USAGE,
     {"acme/gpt-4o-mini": {"input": 1, "output": 1}, "openai/gpt-4o-mini": {"input": 2, "output": 2}}, 1.1,
     "override"),
    ("an override by the vendor's label", OPENAI_ACME, "acme:gpt-4o-mini", USAGE,
     {"openai/gpt-4o-mini": {"input": 2, "output": 2}}, 2.2, "override"),
    ("a self-hosted host stays unpriced", "{id: myvllm, base_url: 'http://10.0.0.1/v1', models: [{id: llama}]}",
     "myvllm:llama", USAGE, {}, None, "unknown"),
]


def _served(config: str, model: str, usage: dict[str, Any], prices: dict[str, Any]) -> Any:
    doc = ("on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n"
           f"        config: {{providers: [{config}]}}\n")
    engine = ap.Engine(ap.loads(doc, format="yaml"), prices=prices or None)
    body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    engine.evaluate({"id": "r1", "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                                             "headers": {"content-type": "application/json"}, "body": body}})
    engine.attempt("r1", None)
    answer = {"model": model.split(":", 1)[1], "choices": [], "usage": usage}
    step = engine.attempt("r1", AttemptOutcome(status_code=200, headers={"content-type": "application/json"},
                                               body=answer))
    assert isinstance(step, Serve)
    return engine.complete("r1", {"status_code": 200, "headers": {"content-type": "application/json"},
                                  "body": answer})


@pytest.mark.parametrize(("config", "model", "usage", "prices", "usd", "source"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_a_config_provider_is_priced_as_its_hosts_vendor(config: str, model: str, usage: dict[str, Any],
                                                         prices: dict[str, Any], usd: float | None,
                                                         source: str) -> None:
    d = _served(config, model, usage, prices)
    assert d.ai["provider"] == model.split(":", 1)[0]  # the policy still sees its own id
    assert d.cost["source"] == source
    assert (d.cost_usd is None) if usd is None else d.cost_usd == pytest.approx(usd, rel=1e-9)


@pytest.mark.parametrize(("config", "model", "label"), [
    (OPENAI_ACME, "acme:gpt-4o-mini", "gpt-4o-mini"),
    ("{id: myvllm, base_url: 'http://10.0.0.1/v1', models: [{id: llama}]}", "myvllm:llama", "other"),
])
def test_the_metrics_model_label_follows_the_decisions_price(config: str, model: str, label: str) -> None:
    d = _served(config, model, USAGE, {})
    obs2 = Observer(prometheus=True, otel=False, prices=PriceBook())  # its book knows no `acme`: the decision decides
    if obs2.registry is None:
        pytest.skip("prometheus-client is not installed")
    obs2({"decision": d, "request_id": "r1", "verdict": "allow", "status_code": 200, "latency_ms": 1.0,
          "overhead_ms": 0.1})
    text = _exposition(obs2)
    assert f'model="{label}"' in text


def _exposition(obs: Observer) -> str:
    from prometheus_client import generate_latest

    return generate_latest(obs.registry).decode()


@pytest.mark.parametrize(("config", "model", "prices"), [
    (OPENAI_ACME, "gpt-4o-mini", (0.15, 0.6)),  # OpenAI's list price: underCost and sortBy('price') see it
    ("{id: myvllm, base_url: 'http://10.0.0.1/v1', models: [{id: llama}]}", "llama", (None, None)),
])
def test_a_config_providers_models_carry_their_vendors_prices(config: str, model: str,
                                                               prices: tuple[float | None, float | None]) -> None:
    from aigw_policy.routing.compile import compile_route

    doc = f"on_http_request:\n  - actions:\n      - type: ai-gateway\n        config: {{providers: [{config}]}}\n"
    route = compile_route(ap.loads(doc, format="yaml").on_http_request[0].actions[0].config)
    (m,) = [m for m in route.models if m.custom]
    got = (None if m.input_per_mtok is None else float(m.input_per_mtok),
           None if m.output_per_mtok is None else float(m.output_per_mtok))
    assert got == prices and m.id == model
