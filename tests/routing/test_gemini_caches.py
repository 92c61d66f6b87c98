"""A Gemini context cache lives with the provider, key and model that made it (SPEC §12), as a
stored OpenAI response does (tests/routing/test_stored_responses.py): google-genai's
``caches.create`` (``POST /v1beta/cachedContents``) answers its ``name``, and the SDK's next
calls name it: ``generate_content(config={cached_content: name})`` (the body's
``cachedContent``), ``caches.get`` / ``update`` / ``delete`` (``GET`` / ``PATCH`` / ``DELETE``
at the name). Google answers a cache of another key 403 ``PERMISSION_DENIED`` and of another
model 400.

Before (route28), nothing of a cache was remembered: a call using it was planned as any
request, so after the creation failed over (served by the second key) every use went to the
first key first (403; under ``failover_on: [429, 5xx, ...]`` that 403 was the client's
answer), a fallback model on the holder's key was tried too (400), and its reads were refused
404 ``unsupported_endpoint``. A creation that failed over to another model made the cache for
the client's model (the body's ``model`` was sent as it came) while the ledger named the
attempt's."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits.model import Charge

from .attempt_loop import RITA, through_attempts

POLICY = """\
on_http_request:
  - name: caps
    actions:
      - type: usage-cap
        config: {name: per-provider, limit: 1000000, unit: tokens, period: day, bucket_key: ["ai.provider"]}
  - name: route
    actions:
      - type: ai-gateway
        config:
          failover_on: [429, 5xx, timeout, connect]
          providers:
            - {id: g0, base_url: "http://g0.test", supported_api_surfaces: [{format: gemini}],
               api_keys: [{value: k-zero, id: k0}], models: [{id: gemini-2.0-flash}, {id: gemini-2.5-pro}]}
            - {id: g1, base_url: "http://g1.test/v1beta", supported_api_surfaces: [{format: gemini}],
               api_keys: [{value: k-one, id: k1}, {value: k-two, id: k2}],
               models: [{id: gemini-2.0-flash}, {id: gemini-2.5-pro}]}
"""
NAME = "cachedContents/c1"
ANSWER = {"text": "hi"}
GEMINI = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 12, "totalTokenCount": 42}}
CACHE = {"name": NAME, "model": "models/gemini-2.0-flash", "usageMetadata": {"totalTokenCount": 4096}}

# how the creation's answer comes -> its answer
MADE: dict[str, dict[str, Any]] = {
    "json": {"status_code": 200, "body": CACHE},
    "json as text": {"status_code": 200, "body": json.dumps(CACHE)},
    "vertex's name": {"status_code": 200, "body": {**CACHE, "name": "projects/7/locations/us-central1/" + NAME}},
}
# (the call, its path, the cache it names); a name after ">" is inside the body's
# ``generateContentRequest`` (countTokens' other form: Google's CountTokensRequest counts a
# whole GenerateContentRequest, its ``cachedContent`` included; route29: it was planned as any
# request, so its first try went to the key that had failed the creation, and was answered 403)
USES = [
    ("generateContent", "/v1beta/models/gemini-2.0-flash:generateContent", "cachedContents/c1"),
    ("streamGenerateContent", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", "cachedContents/c1"),
    ("countTokens", "/v1beta/models/gemini-2.0-flash:countTokens", "cachedContents/c1"),
    ("vertex's name in the body", "/v1beta/models/gemini-2.0-flash:generateContent",
     "projects/7/locations/us-central1/cachedContents/c1"),
    ("countTokens, its generateContentRequest", "/v1beta/models/gemini-2.0-flash:countTokens", ">cachedContents/c1"),
    ("countTokens, vertex's name in its generateContentRequest", "/v1beta/models/gemini-2.0-flash:countTokens",
     ">projects/7/locations/us-central1/cachedContents/c1"),
]
READS = [("get", "GET", "/v1beta/cachedContents/c1", None), ("update", "PATCH", "/v1beta/cachedContents/c1",
                                                                 {"ttl": "7200s"}),
         ("delete", "DELETE", "/v1beta/cachedContents/c1", None),
         ("get, vertex's path", "GET", "/v1beta1/projects/7/locations/us-central1/cachedContents/c1", None)]


def _engine(tmp_path: Path) -> ap.Engine:
    (tmp_path / "p.yaml").write_text(POLICY)
    return ap.Engine(str(tmp_path / "p.yaml"))


_call = through_attempts


def _made(engine: ap.Engine, answer: dict[str, Any]) -> Any:
    """The creation: g0 is rate limited (429), g1's key k1 makes the cache."""
    body = {"model": "models/gemini-2.0-flash", "contents": [{"role": "user", "parts": [{"text": "a long text"}]}],
            "ttl": "3600s"}
    made = _call(engine, "POST", "/v1beta/cachedContents", body, [{"status_code": 429}, dict(answer)])
    assert made.routing["served"]["key_id"] == "k1", made.routing
    return made


def _used(engine: ap.Engine, provider: str) -> float:
    spec = engine.compiled.limits["per-provider"][1].limit.spec
    return engine.store.check([Charge(spec, provider, 0)], time.time())[0].used


def _use(path: str, cache: str, **extra: Any) -> dict[str, Any]:
    contents = [{"role": "user", "parts": [{"text": "and?"}]}]
    if cache.startswith(">"):  # (countTokens' generateContentRequest: the request it counts, whole)
        inner = {"model": "models/gemini-2.0-flash", "contents": contents, "cachedContent": cache[1:]}
        return {"generateContentRequest": inner, **extra}
    return {"contents": contents, "cachedContent": cache, **extra}


@pytest.mark.parametrize("how", sorted(MADE))
@pytest.mark.parametrize(("path", "cache"), [u[1:] for u in USES], ids=[u[0] for u in USES])
def test_a_call_using_a_cache_goes_to_the_provider_key_and_model_that_hold_it(tmp_path: Path, how: str, path: str,
                                                                                cache: str) -> None:
    engine = _engine(tmp_path)
    _made(engine, MADE[how])
    before = _used(engine, "g1")
    used = _call(engine, "POST", path, _use(path, cache, models=["gemini-2.5-pro"]),
                 [{"status_code": 200, "body": GEMINI}] * 6)
    assert [(a["provider"], a["model"], a["key_id"]) for a in used.routing["attempts"]] == [
        ("g1", "gemini-2.0-flash", "k1")]
    skipped = {(c["provider"], c["model"], c["key_id"]): c["skipped_because"] for c in used.routing["candidates"]}
    assert skipped.pop(("g1", "gemini-2.0-flash", "k1")) is None
    assert skipped and all(f"context cache `{NAME}` is held by provider `g1` key `k1`" in why
                           for why in skipped.values()), skipped  # the other key, the other provider, the fallback
    assert used.routing["served"]["key_id"] == "k1" and _used(engine, "g0") == 0
    assert _used(engine, "g1") - before == (0 if path.endswith(":countTokens") else 42)  # charged once, where served


def test_a_use_that_fails_at_the_holder_is_not_sent_where_the_cache_is_not(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _made(engine, MADE["json"])
    before = _used(engine, "g1")
    used = _call(engine, "POST", USES[0][1], _use(USES[0][1], NAME), [{"status_code": 503}] * 6)
    assert [(a["provider"], a["key_id"]) for a in used.routing["attempts"]] == [("g1", "k1")]
    assert (used.status_code, used.routing["served"]) == (503, None)
    assert _used(engine, "g1") == before and _used(engine, "g0") == 0  # a failed attempt: released


@pytest.mark.parametrize(("method", "path", "body"), [r[1:] for r in READS], ids=[r[0] for r in READS])
def test_a_read_of_a_cache_goes_where_it_is(tmp_path: Path, method: str, path: str, body: Any) -> None:
    engine = _engine(tmp_path)
    _made(engine, MADE["json"])
    before = _used(engine, "g1")
    read = _call(engine, method, path, body, [{"status_code": 200, "body": CACHE}])
    assert read.verdict == "allow", read.reason
    assert [(c["provider"], c["model"], c["key_id"]) for c in read.routing["candidates"]] == [
        ("g1", "gemini-2.0-flash", "k1")]
    assert read.routing["served"]["key_id"] == "k1"
    assert _used(engine, "g1") == before and _used(engine, "g0") == 0  # a read charges nothing


@pytest.mark.parametrize("case", ["another caller", "an unknown cache", "a list of caches"])
def test_what_is_not_the_callers_cache_is_not_pinned(tmp_path: Path, case: str) -> None:
    engine = _engine(tmp_path)
    _made(engine, MADE["json"])
    if case == "a list of caches":  # names no cache: no inference API, refused as before
        d = _call(engine, "GET", "/v1beta/cachedContents", None, [])
        assert (d.verdict, d.status_code) == ("deny", 404)
        return
    who, cache = ({"user": "sam"}, NAME) if case == "another caller" else (RITA, "cachedContents/c2")
    path = USES[0][1]
    used = _call(engine, "POST", path, _use(path, cache), [{"status_code": 200, "body": GEMINI}], identity=who)
    assert [(a["provider"], a["key_id"]) for a in used.routing["attempts"]] == [("g0", "k0")]  # planned as any
    read = _call(engine, "GET", "/v1beta/" + cache, None, [], identity=who)
    assert (read.verdict, read.status_code) == ("deny", 404)
