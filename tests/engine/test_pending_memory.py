"""A long-running process: forwarded requests waiting for complete() are small, capped, and
at the cap the oldest is dropped with its reservation released."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.providers import AiRequest
from aigw_policy.limits import Charge

POLICY = ap.loads("""
policy "p" {
  on request {
    rule "tpm" { token-limit { name: "team-tpm", capacity: 100_000, rate: 60s, bucket_key: [identity.team] } }
    rule "usd" { usage-cap { name: "team-usd", limit: 1000, unit: "usd", period: "month", bucket_key: [identity.team] } }
    rule "rpm" { rate-limit { name: "key-rpm", capacity: 100_000, rate: 60s, bucket_key: [identity.key] } }
  }
  on response { rule "slow" { when res.status_code >= 500 log { metadata: { "e": "${res.status_code}" } } } }
}
""")
PROMPT = "Summarise the incident report below in three bullet points, naming the service. " * 6
RESP = {"status_code": 200, "body": {"model": "gpt-4o", "usage": {"prompt_tokens": 150, "completion_tokens": 80,
                                                                   "total_tokens": 230}}}


def req(i: int) -> dict[str, Any]:
    return {"id": f"r{i}", "now": "2026-11-26T12:00:00Z",
            "identity": {"key": f"k{i % 5}", "team": "research", "org": "acme"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "headers": {"content-type": "application/json", "authorization": "Bearer sk-test"},
                        "body": {"model": "gpt-4o", "max_tokens": 400,
                                 "messages": [{"role": "user", "content": PROMPT}]}}}


def tokens_used(e: ap.Engine) -> float:
    spec = e.compiled.limits["team-tpm"][1].limit.spec  # type: ignore[union-attr]
    return e.store.check([Charge(spec, "research", 0)], ap.Request.parse(req(0)).unix_now() or 0.0)[0].used


def test_past_max_pending_the_oldest_is_dropped_and_its_reservation_released() -> None:
    e = ap.Engine(POLICY, max_pending=3)
    per = e.evaluate(req(0)).limits[0]["cost"]
    for i in range(1, 5):
        e.evaluate(req(i))
    assert e.pending == 3
    assert tokens_used(e) == 3 * per  # r0 and r1 were dropped: their tokens are back
    for i in (0, 1):
        with pytest.raises(ap.UnknownRequestError, match=f"r{i}"):
            e.complete(f"r{i}", RESP)
    for i in (2, 3, 4):
        assert e.complete(f"r{i}", RESP).limits[0]["used"] is not None
    assert e.pending == 0 and tokens_used(e) == 3 * 230


def test_max_pending_also_binds_aevaluate() -> None:
    import asyncio

    async def go() -> tuple[ap.Engine, float]:
        e = ap.Engine(POLICY, max_pending=2)
        per = (await e.aevaluate(req(0))).limits[0]["cost"]
        for i in range(1, 4):
            await e.aevaluate(req(i))
        return e, per

    e, per = asyncio.run(go())
    assert e.pending == 2 and tokens_used(e) == 2 * per
    with pytest.raises(ap.UnknownRequestError):
        e.complete("r0", RESP)


def test_max_pending_is_checked() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        ap.Engine(POLICY, max_pending=0)


def test_a_waiting_request_costs_under_2kb_beyond_its_store_record(tmp_path: Path) -> None:
    # SQLite keeps its records outside the Python heap: what is left is the engine's own
    e = ap.Engine(POLICY, store=ap.stores.SQLiteStore(tmp_path / "l.db", timeout=5))
    n = 300
    reqs = [req(i) for i in range(n)]
    e.evaluate(req(-1))
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for r in reqs:
            e.evaluate(r)
        gc.collect()
        per_request = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    assert per_request < 2048, f"{per_request:.0f} bytes per waiting request"
    # and what it keeps is enough: the completion is the same as with the live state
    final = e.complete("r7", RESP).to_dict()
    assert final["ai"]["prompt_chars"] == len(PROMPT) and final["usage"]["total_tokens"] == 230
    assert [x["settled"] for x in final["limits"] if "settled" in x] == ["reconciled"] * 3


def test_the_packed_state_completes_like_the_live_one() -> None:
    text = """
    policy "p" {
      on request {
        rule "v" { set-vars { vars: [{ "who": "${identity.team}" }] } }
        rule "tpm" { token-limit { name: "t", capacity: 100_000, rate: 60s, bucket_key: [identity.team],
                                   cost: ai.usage.total_tokens + (req.url.path == '/v1/chat/completions' ? 1 : 0) } }
      }
      on response {
        rule "r" { when req.headers['x-trace'][0] == 'yes' && ai.prompt.size() > 3
                   add-headers { headers: { "x-prompt": "${string(ai.prompt.size())} ${vars.who}" } } }
      }
    }"""
    policy = ap.loads(text)
    r = req(1)
    r["request"]["headers"]["x-trace"] = "yes"
    packed = ap.Engine(policy).evaluate(r)
    e = ap.Engine(policy)
    e.evaluate(r)
    final = e.complete("r1", RESP).to_dict()
    with_response = ap.Engine(policy).evaluate({**r, "response": RESP}).to_dict()
    assert packed.verdict == "allow"
    assert final == with_response
    assert final["effects"]["response_headers"]["add"]["x-prompt"].startswith(str(len(PROMPT)))
    assert final["limits"][0]["used"] == 231


def test_a_waiting_request_keeps_what_the_response_phase_reads_not_what_it_mentions() -> None:
    """Names inside string literals and plain header text are not reads (free variables of
    the parsed CEL, not a search of the text): the prompt, headers and URL parts are dropped."""
    policy = ap.loads("""
    policy "p" {
      on request { rule "a" { set-vars { vars: [{ "m": "${ai.model}" }] } } }
      on response {
        rule "r" { when res.status_code == 200 && 'req.url.path ai.prompt' != ''
                   add-headers { headers: { "x-h": "req.headers prompt ${identity.team}" } } }
      }
    }""")
    e = ap.Engine(policy)
    e.evaluate(req(1))
    parked = e._pending["r1"]
    assert parked.blob is not None
    act = parked.state()[0]
    assert "identity.team" in act and "req.url.path" not in act and "req.headers" not in act
    assert "ai.prompt" not in act and AiRequest(*parked.state()[1]).prompt == ""  # kept as its length
    final = e.complete("r1", RESP).to_dict()
    assert final["effects"]["response_headers"]["add"]["x-h"] == "req.headers prompt research"
    assert final["ai"]["prompt_chars"] == len(PROMPT)
