"""SPEC §8 acceptance: provider payloads run through ``aigw-policy explain --format json``.

Every ``data/spec/<provider>/<name>.json`` is a REQUEST.json (request + response, written
from the providers' documentation, independent of ``data/recorded/``); its ``.expected.json`` holds
the usage SPEC §5/§7 says (all eight fields, worked out by hand), the classified ``ai.*``
fields and, for some, how to check ``cost_usd`` against genai-prices' own numbers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app

PAYLOADS = Path(__file__).parent / "data" / "spec"
CASES = sorted(p for p in PAYLOADS.glob("*/*.json") if not p.name.endswith(".expected.json"))
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

ALLOW = """\
on_http_request:
  - name: allow-all
    actions:
      - type: allow
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "allow.yaml"
    path.write_text(ALLOW)
    return path


def explain(request: Path, policy: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["explain", str(request), "--policy", str(policy), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def expected(case: Path) -> dict[str, Any]:
    return json.loads(case.with_name(case.name[: -len(".json")] + ".expected.json").read_text())


def test_every_provider_has_payloads() -> None:
    have = {p.parent.name for p in CASES}
    assert {"openai", "anthropic", "gemini", "vllm", "ollama"} <= have
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_explain_usage(case: Path, policy: Path) -> None:
    want = expected(case)
    got = explain(case, policy)
    assert got["verdict"] == "allow"
    assert got["usage"] == want["usage"]
    for key, value in want["ai"].items():
        assert got["ai"][key] == value, key
    usage = got["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    if usage["source"] == "estimate" and case.stem not in ("chat_error_429", "chat_error_502_html", "messages_error_400",
                                                           "perplexity_async_create", "xai_deferred_create"):
        # an estimate's input is the request's estimate unless the stream reported it (or nothing ran yet: a job)
        assert usage["input_tokens"] > 0


def _library_cost(spec: dict[str, Any]) -> Decimal:
    import genai_prices

    if "usd" in spec:  # worked out by hand from the provider's price list (``by_hand``)
        return Decimal(spec["usd"])
    if "genai_prices_extract" in spec:  # genai-prices reads the raw provider body itself
        ex = spec["genai_prices_extract"]
        flavor = {"api_flavor": ex["api_flavor"]} if "api_flavor" in ex else {}
        return genai_prices.extract_usage(ex["body"], provider_id=ex["provider_id"], **flavor).calc_price(
            genai_request_timestamp=NOW, price_context=ex.get("price_context")
        ).total_price
    lp = spec["genai_prices"]
    usage = genai_prices.Usage(
        input_tokens=lp["input_tokens"],
        output_tokens=lp["output_tokens"],
        cache_read_tokens=lp.get("cache_read_tokens"),
        cache_write_tokens=lp.get("cache_write_tokens"),
        cache_write_1h_tokens=lp.get("cache_write_1h_tokens"),
    )
    return genai_prices.calc_price(usage, lp["model"], provider_id=lp["provider_id"], genai_request_timestamp=NOW).total_price


COST_CASES = [p for p in CASES if "cost" in expected(p)]


@pytest.mark.parametrize("case", COST_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_explain_cost(case: Path, policy: Path) -> None:
    spec = expected(case)["cost"]
    got = explain(case, policy)
    if spec.get("unknown"):
        assert got["cost_usd"] is None  # never 0
        assert got["cost"]["usd"] is None
        assert got["cost"]["reason"]
        return
    want = _library_cost(spec)
    assert want > 0
    assert got["cost_usd"] == pytest.approx(float(want), rel=1e-9, abs=1e-12)
    if "by_hand" in spec:  # the provider's price list, written out: USD per MTok (/ 1e6), per call
        assert set(spec["by_hand"]) <= set("0123456789.*/+-() e")
        assert got["cost_usd"] == pytest.approx(eval(spec["by_hand"]), rel=1e-9)  # noqa: S307 - digits and operators


def test_gpt4o_cost_by_hand(policy: Path) -> None:
    """gpt-4o: $2.50 / MTok input, $1.25 cached input, $10 output (OpenAI's price list)."""
    got = explain(PAYLOADS / "openai" / "chat_cached.json", policy)
    assert got["cost_usd"] == pytest.approx((210 * 2.5 + 1024 * 1.25 + 87 * 10) / 1e6, rel=1e-9)


def test_anthropic_cache_cost_by_hand(policy: Path) -> None:
    """Sonnet 4.5: $3 input, $0.30 cache read, $3.75 cache write (5 min), $15 output per MTok."""
    got = explain(PAYLOADS / "anthropic" / "messages_cache.json", policy)
    assert got["cost_usd"] == pytest.approx((1200 * 3 + 20000 * 0.3 + 3000 * 3.75 + 450 * 15) / 1e6, rel=1e-9)


def test_anthropic_one_hour_cache_cost_by_hand(policy: Path) -> None:
    """Sonnet 4.5 as above, 1-hour cache writes at $6 per MTok (2x input): 4,000 of the 5,000
    writes; before they were read, all 5,000 cost $3.75."""
    got = explain(PAYLOADS / "anthropic" / "messages_cache_1h.json", policy)
    assert got["cost_usd"] == pytest.approx((1200 * 3 + 20000 * 0.3 + 1000 * 3.75 + 4000 * 6 + 450 * 15) / 1e6,
                                            rel=1e-9)
