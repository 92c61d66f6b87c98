"""Any cut of any provider's stream is charged exactly once: every streamed payload of
``tests/providers/data/spec`` (OpenAI chat and Responses, Anthropic, Gemini, Vertex AI, Bedrock,
Azure, Cohere, the OpenAI-compatible vendors, Ollama...) cut at any byte and completed, then
completed again (a retry of the completion, as a gateway that lost the first answer's ack
would): the token limit moves by the usage the cut gives, once; the ledger holds one record
for the request with the same usage; the usage is what ``extract_usage`` reads of the cut."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.ledger import Ledger
from aigw_policy.limits import Charge
from aigw_policy.providers import classify, extract_usage
from aigw_policy.stores import MemoryStore

SPEC = Path(__file__).parents[1] / "providers" / "data" / "spec"
STREAMS = sorted(p for p in SPEC.glob("*/*.json")
                 if not p.name.endswith(".expected.json") and "sse" in json.loads(p.read_text()).get("response", {}))
POLICY = ap.loads(json.dumps({"on_http_request": [{"name": "tpm", "actions": [{"type": "token-limit", "config": {
    "name": "tpm", "capacity": 10**9, "rate": "1m", "bucket_key": ["identity.key"]}}]}]}), "json")


def test_there_are_streams_of_every_provider() -> None:
    assert len(STREAMS) >= 40
    assert {"openai", "anthropic", "gemini", "bedrock", "vertex_ai", "cohere", "openai_compatible"} <= {
        p.parent.name for p in STREAMS}


def used(engine: ap.Engine, now: float) -> float:
    spec = engine.compiled.limits["tpm"][1].limit.spec  # type: ignore[union-attr]
    return engine.store.check([Charge(spec, "k1", 0)], now)[0].used


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(STREAMS), st.floats(0, 1))
def test_a_stream_cut_anywhere_is_charged_once(tmp_path: Path, case: Path, where: float) -> None:
    data = json.loads(case.read_text())
    response = copy.deepcopy(data.pop("response"))
    sse = response["sse"]
    response["sse"] = sse[: int(len(sse) * where)]
    request = {**data, "id": "cut", "identity": {"key": "k1"}}
    path = tmp_path / f"{case.stem}-{where}.jsonl"
    engine = ap.Engine(POLICY, store=MemoryStore(), ledger=Ledger(f"jsonl:{path}"))
    now = ap.Request.parse(request).unix_now()
    assert now is not None
    engine.evaluate(request)
    first = engine.complete("cut", response)
    again = engine.complete("cut", response)
    want = extract_usage(classify(request["request"]), response)
    assert first.usage is not None and first.usage["total_tokens"] == want.total_tokens
    assert again.usage == first.usage
    assert used(engine, now) == want.total_tokens
    records = [json.loads(line) for line in path.read_text().splitlines()]
    final = [r for r in records if r.get("aigw.request.id") == "cut" and r.get("aigw.verdict") != "pending"]
    assert len(final) == 1
    assert final[0]["aigw.usage.total_tokens"] == want.total_tokens
    assert final[0]["gen_ai.usage.output_tokens"] == want.output_tokens
