"""Jobs a provider runs later live with the key that made them, as a stored response does (route24):
Perplexity's async requests (``POST /async/chat/completions`` or ``/v1/async/sonar``, read back with
``GET .../{id}``) and xAI's deferred chat completions (``deferred: true``, read back with ``GET
/v1/chat/deferred-completion/{request_id}``) are kept by the provider for the key that created them.

Before (payloads29), through an ``ai-gateway`` route both reads were refused 404 ``unsupported_endpoint``
(no read of a job was known to the routes), so the result of a job created through the gateway could
not be read through it, and its usage was never charged; a routed deferred creation (whose client
talks to the gateway's host, not ``api.x.ai``) was charged its input estimate as an ordinary chat.
Now the creation's served provider and key are remembered under the job's id, and a read by the same
caller goes to them only (after a failover at creation: the second key), charging the job's usage
once (``data/batches/*.json``: the providers' own answers)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits.model import Charge
from aigw_policy.routing.model import Attempt, KeyRef, ProviderInfo
from aigw_policy.routing.rewrite import upstream_request

from .attempt_loop import through_attempts

DATA = Path(__file__).parents[1] / "providers" / "data" / "batches"
XAI = json.loads((DATA / "xai_deferred.json").read_text())
PPLX = json.loads((DATA / "perplexity_async.json").read_text())
POLICY = """\
on_http_request:
  - name: caps
    actions:
      - type: usage-cap
        config: {name: per-key, limit: 100000000, unit: tokens, period: day, bucket_key: ["ai.provider"]}
  - name: route
    actions:
      - type: ai-gateway
        config:
          failover_on: [429, 5xx, timeout, connect]
          providers:
            - {id: xai, base_url: "https://api.x.ai/v1", api_keys: [{value: x-zero, id: x0}, {value: x-one, id: x1}],
               models: [{id: grok-3}]}
            - {id: perplexity, base_url: "https://api.perplexity.ai",
               api_keys: [{value: p-zero, id: p0}, {value: p-one, id: p1}], models: [{id: sonar-deep-research}]}
"""
XAI_ID = XAI["created"]["request_id"]
JOB = PPLX["created"]["id"]
# (the creation's path and body, its answer, the read's path, its answer, the tokens the read charges)
JOBS: dict[str, tuple[str, Any, Any, str, Any, int]] = {
    "xai deferred": ("/v1/chat/completions", XAI["request"], XAI["created"],
                     f"/v1/chat/deferred-completion/{XAI_ID}", XAI["completed"], 75),
    "perplexity async": ("/async/chat/completions", PPLX["request"], PPLX["created"],
                         f"/async/chat/completions/{JOB}", {**PPLX["created"], **PPLX["completed"]}, 91466),
    "perplexity async, sonar path": ("/v1/async/sonar", PPLX["request"], PPLX["created"],
                                     f"/v1/async/sonar/{JOB}", {**PPLX["created"], **PPLX["completed"]}, 91466),
}


def _used(engine: ap.Engine, provider: str) -> float:
    spec = engine.compiled.limits["per-key"][1].limit.spec
    return engine.store.check([Charge(spec, provider, 0)], time.time())[0].used


def _create(engine: ap.Engine, name: str) -> Any:
    path, body, answer = JOBS[name][:3]
    made = through_attempts(engine, "POST", path, body, [{"status_code": 429}, {"status_code": 200, "body": answer}])
    assert made.verdict == "allow", made.reason
    assert made.routing["served"]["key_id"] in ("x1", "p1"), made.routing
    return made


@pytest.mark.parametrize("name", sorted(JOBS))
def test_a_read_of_a_job_goes_to_the_key_that_made_it_and_charges_its_usage_once(tmp_path: Path, name: str) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    engine = ap.Engine(str(tmp_path / "p.yaml"))
    made = _create(engine, name)
    provider, key = made.routing["served"]["provider"], made.routing["served"]["key_id"]
    assert made.usage["total_tokens"] == 0, made.usage  # nothing ran yet
    read_path, result, tokens = JOBS[name][3:]
    for n in range(2):
        read = through_attempts(engine, "GET", read_path, None, [{"status_code": 200, "body": result}])
        assert read.verdict == "allow", read.reason
        assert [(a["provider"], a["key_id"]) for a in read.routing["attempts"]] == [(provider, key)]
        assert read.usage["total_tokens"] == (tokens if n == 0 else 0), read.usage
        assert _used(engine, provider) == tokens


@pytest.mark.parametrize("name", sorted(JOBS))
def test_a_read_of_another_callers_job_is_refused_as_before(tmp_path: Path, name: str) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    engine = ap.Engine(str(tmp_path / "p.yaml"))
    _create(engine, name)
    read = through_attempts(engine, "GET", JOBS[name][3], None, [{"status_code": 200, "body": JOBS[name][4]}],
                            identity={"user": "mallory"})
    assert (read.verdict, read.status_code, read.routing) == ("deny", 404, None)


PERPLEXITY = ProviderInfo("perplexity", base_url="https://api.perplexity.ai", auth="bearer")
XAI_INFO = ProviderInfo("xai", base_url="https://api.x.ai/v1", auth="bearer")
# (provider, client method and path, body) -> (the upstream URL, the body's model where the API reads it)
UPSTREAM = [
    (PERPLEXITY, "POST", "/async/chat/completions", PPLX["request"],
     "https://api.perplexity.ai/async/chat/completions", ("request", "model")),
    (PERPLEXITY, "POST", "/v1/async/sonar", PPLX["request"], "https://api.perplexity.ai/v1/async/sonar",
     ("request", "model")),
    (PERPLEXITY, "GET", f"/async/chat/completions/{JOB}", None,
     f"https://api.perplexity.ai/async/chat/completions/{JOB}", None),
    (XAI_INFO, "POST", "/v1/chat/completions", XAI["request"], "https://api.x.ai/v1/chat/completions", ("model",)),
    (XAI_INFO, "GET", f"/v1/chat/deferred-completion/{XAI_ID}", None,
     f"https://api.x.ai/v1/chat/deferred-completion/{XAI_ID}", None),
]


@pytest.mark.parametrize(("provider", "method", "path", "body", "url", "model_at"), UPSTREAM,
                         ids=[f"{r[1]} {r[2][:24]}" for r in UPSTREAM])
def test_a_job_is_sent_where_its_api_takes_it(provider: ProviderInfo, method: str, path: str, body: Any, url: str,
                                              model_at: tuple[str, ...] | None) -> None:
    raw = json.dumps(body).encode() if body is not None else b""
    sent = upstream_request(method, path, b"", {}, raw, Attempt(1, provider, "sonar-pro", KeyRef("k1", "v", 0), "openai"),
                            "secret")
    assert sent.url == url
    if model_at is None:
        assert sent.content == raw  # a read: as it came
        return
    out = json.loads(sent.content)
    for key in model_at:
        out = out[key]
    assert out == "sonar-pro"
    assert "model" not in json.loads(sent.content) or model_at == ("model",)
