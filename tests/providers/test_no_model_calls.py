"""POSTs that run no model (``data/no_model/calls.json``): token counts (Bedrock's CountTokens,
Anthropic's ``count_tokens``, the Responses API's ``input_tokens``, Gemini's ``countTokens``,
Vertex AI's ``computeTokens``), uploads (``/v1/files``, ``/v1/uploads``, Gemini's
``/upload/v1beta/files``), the update of a stored chat completion, conversation items, batch
cancels. Each is classified as no inference (``AiRequest.inference`` false): nothing reserved,
nothing charged, and a usd cap has no price to ask for. Before (payloads23) they were model calls
by their method: Bedrock's CountTokens was an OpenAI embedding without a model, every one without
a model was refused by a usd cap (`on_unknown_price: deny`: the price of `?` unknown), those with
one reserved 4,096 output tokens at its price, and the update of a stored chat completion charged
its stored usage a second time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.providers import classify, extract_usage

DATA = json.loads((Path(__file__).parent / "data" / "no_model" / "calls.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]
KEYS = {"id", "why", "provider", "model", "request", "response"}

POLICY = """\
on_http_request:
  - name: caps
    actions:
      - type: usage-cap
        config: {name: team-usd, unit: usd, limit: 10, period: day, bucket_key: ["identity.team"]}
      - type: token-limit
        config: {name: team-tokens, capacity: 100000, rate: 1m, bucket_key: ["identity.team"]}
"""

# model calls at the same paths or beside them: still inference
STILL_CALLS = [
    ("POST", "https://api.mistral.ai/v1/conversations", {"model": "mistral-medium-latest", "inputs": "Who is Ada?"}),
    ("POST", "https://api.mistral.ai/v1/conversations/conv_1", {"inputs": "And Babbage?"}),
    ("POST", "https://api.openai.com/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "https://api.openai.com/v1/batches", {"input_file_id": "file-abc", "endpoint": "/v1/responses",
                                                   "completion_window": "24h"}),
    ("POST", "https://api.openai.com/v1/responses/resp_123/cancel", {}),
    ("POST", "https://api.anthropic.com/v1/messages/batches", {"requests": []}),
    ("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-pro-v1:0/converse",
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
    ("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchGenerateContent",
     {"batch": {"input_config": {"file_name": "files/abc-123"}}}),
]


def test_the_table_is_spelt_right() -> None:
    assert len(CASES) >= 12
    for case in CASES:
        assert set(case) == KEYS, case.get("id")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_call_that_runs_no_model_is_no_inference(case: dict[str, Any]) -> None:
    ai = classify(case["request"])
    assert (ai.provider, ai.operation, ai.model, ai.inference) == (case["provider"], "other", case["model"], False)
    usage = extract_usage(ai, case["response"])
    assert (usage.input_tokens, usage.output_tokens, usage.units, usage.other_models) == (0, 0, (), ())


@pytest.mark.parametrize("method, url, body", STILL_CALLS, ids=[u for _, u, _ in STILL_CALLS])
def test_model_calls_beside_them_stay_inference(method: str, url: str, body: dict[str, Any]) -> None:
    assert classify({"method": method, "url": url, "headers": {}, "body": body}).inference


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "caps.yaml"
    path.write_text(POLICY)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_caps_neither_refuse_nor_charge_it(case: dict[str, Any], policy: Path, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"now": "2026-11-26T12:00:00Z", "identity": {"key": "k1", "team": "t"},
                                   "request": case["request"], "response": case["response"]}))
    result = CliRunner().invoke(app, ["explain", str(request), "--policy", str(policy), "--format", "json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["verdict"] == "allow", got["limits"]
    assert got["cost_usd"] == 0.0
    assert got["usage"]["total_tokens"] == 0
    for entry in got["limits"]:
        assert (entry["reserved"], entry["cost"], entry["used"]) == (0.0, 0.0, 0.0), entry
