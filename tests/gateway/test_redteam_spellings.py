"""serve18: values a client spells freely never widen what the gateway keeps per value.

- **A model label is the name the catalog priced, not the client's spelling.** The catalog
  matches names case-insensitively (`GPT-4O`, `Gpt-4o-2024-08-06`), so one
  real model had hundreds of spellings, each admitted as a label value of its own: a key
  holder sending 100 of them used up ``max_models`` and every model asked for after them, by
  anyone, was counted under ``other`` for the life of the process.

Each row: the spellings sent, then the model whose label must still be its own.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from aigw_policy.gateway.metrics import OTHER, Observer
from aigw_policy.providers import PriceBook

from .conftest import policy_gateway


def _cases(name: str) -> list[str]:
    """Every upper/lower-case spelling of ``name``'s letters."""
    return ["".join(p) for p in itertools.product(*[(c.lower(), c.upper()) if c.isalpha() else (c,) for c in name])]


ROWS = [
    ("case", "openai", _cases("gpt-4o-mini")[:120], "gpt-4o-mini", ("gpt-4.1", "gpt-4.1")),
    ("a dated version, in every case", "openai", _cases("gpt-4o-2024-08-06")[:120], "gpt-4o", ("gpt-4.1", "gpt-4.1")),
    ("case, gemini", "google", _cases("gemini-2.5-flash")[:120], "gemini-2.5-flash", ("gemini-2.5-pro", "gemini-2.5-pro")),
    # the catalog's own ids: what the price was looked up as
    ("case, anthropic", "anthropic", _cases("claude-3-5-haiku")[:120], "claude-3-5-haiku-latest",
     ("claude-opus-4", "claude-opus-4-0")),
]


@pytest.mark.parametrize(("provider", "spellings", "label", "later"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_spellings_of_one_model_are_one_label(provider: str, spellings: list[str], label: str,
                                             later: tuple[str, str]) -> None:
    obs = Observer(prometheus=False, otel=False, prices=PriceBook(), max_models=10)
    labels = {obs.model_label(provider, s) for s in spellings}
    assert labels == {label}, sorted(labels)[:5]
    assert obs.model_label(provider, later[0]) == later[1]  # the cap is not used up


def test_a_label_is_the_catalogs_name() -> None:
    obs = Observer(prometheus=False, otel=False, prices=PriceBook())
    assert obs.model_label("openai", "GPT-4o") == "gpt-4o"
    assert obs.model_label("openai", "made-up") == OTHER


def test_a_key_holder_cannot_use_up_the_model_labels(stub: Any) -> None:
    """Live: 101 spellings of gpt-4o-mini through `serve`, then gpt-4o is still its own label."""
    policy = "on_http_request:\n  - actions:\n      - type: log\n        config: {metadata: {a: b}}\n"
    with policy_gateway(policy, "sk-gw-spell", upstream=stub.url) as server, httpx.Client(base_url=server.url, timeout=10,
                                          headers={"authorization": "Bearer sk-gw-spell"}) as client:
        for name in [*_cases("gpt-4o-mini")[:101], "gpt-4o"]:
            r = client.post("/v1/chat/completions", json={"model": name, "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200, r.text
        text = client.get("/metrics").text
    if "aigw_requests_total" not in text:
        pytest.skip("prometheus-client is not installed")
    models = {line.split('model="', 1)[1].split('"', 1)[0] for line in text.splitlines()
              if line.startswith("aigw_requests_total{") and 'model="' in line}
    assert models == {"gpt-4o-mini", "gpt-4o"}, sorted(models)[:5]
