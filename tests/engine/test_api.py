"""The public API of SPEC §10: Engine, evaluate/complete and their async twins, Request."""

from __future__ import annotations

import asyncio

import pytest

import aigw_policy as ap

REQ = {"id": "r1", "now": "2026-11-26T12:00:00Z", "identity": {"key": "k1", "team": "research"},
       "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                   "body": {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}}}
RESP = {"status_code": 200, "body": {"model": "gpt-4o", "usage": {"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15}}}


def engine() -> ap.Engine:
    return ap.Engine(ap.load("examples/acme-gateway.aigw"), store=ap.stores.MemoryStore())


def test_evaluate_then_complete_reconciles() -> None:
    e = engine()
    d = e.evaluate(REQ)
    assert (d.verdict, d.status_code, d.rule, d.complete) == ("allow", 200, None, False)
    assert d.to_dict()["limits"][0]["cost"] == 105
    final = e.complete("r1", RESP)
    out = final.to_dict()
    assert out["usage"]["total_tokens"] == 15 and out["cost_usd"] is not None
    assert out["limits"][0]["used"] == 15 and out["limits"][0]["settled"] == "reconciled"
    assert e.complete("r1", RESP).to_dict() == out  # a repeated complete gets the same answer
    with pytest.raises(LookupError):
        e.complete("nope", RESP)


def test_async_twins() -> None:
    async def go() -> tuple[ap.Decision, ap.Decision]:
        e = engine()
        d = await e.aevaluate(ap.Request.parse(REQ))
        return d, await e.acomplete("r1", RESP)

    d, final = asyncio.run(go())
    assert d.verdict == "allow" and final.usage["total_tokens"] == 15


def test_request_errors_name_the_field() -> None:
    with pytest.raises(ap.RequestError, match="`identity.team`"):
        ap.Request.parse({**REQ, "identity": {"team": 1}})


def test_store_outage_fails_closed_and_is_visible() -> None:
    class Down:
        def check(self, *a): raise ap.stores.StoreUnavailable("timeout")  # noqa: E704
        reserve = reconcile = release = check

    d = ap.Engine(ap.load("examples/acme-gateway.aigw"), store=Down()).evaluate(REQ)
    assert (d.verdict, d.status_code) == ("deny", 503) and d.store["mode"] == "fail_closed"
    p = ap.loads('policy { store-failure fail_open\n on request { rule "l" { rate-limit { name: "x", capacity: 1, rate: 1m } } } }')
    d = ap.Engine(p, store=Down()).evaluate(REQ)
    assert d.verdict == "allow" and d.store["mode"] == "fail_open"


def test_ledger_records_finished_requests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aigw_policy.ledger import Ledger

    ledger = Ledger(f"jsonl:{tmp_path / 'u.jsonl'}")
    e = ap.Engine(ap.load("examples/acme-gateway.aigw"), ledger=ledger)
    e.evaluate({**REQ, "response": RESP})
    e.evaluate({**REQ, "id": "r2", "identity": {"key": "k2", "team": "growth"},
                "request": {**REQ["request"], "body": {"model": "gpt-4.1", "messages": []}}})
    ledger.close()
    text = (tmp_path / "u.jsonl").read_text()
    assert '"r1"' in text and '"r2"' in text and "premium-models-for-research" in text


def test_the_subpackages_an_embedder_names_load_on_first_use() -> None:
    """`ap.stores`, `ap.cel` and `ap.ledger` (docs/gateway.md: `ap.ledger.Ledger(url)`) without
    importing them by hand, in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import aigw_policy as ap; print(ap.stores.MemoryStore.__name__, ap.ledger.Ledger.__name__, "
            "ap.cel.CelError.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["MemoryStore", "Ledger", "CelError"]


@pytest.mark.parametrize(("identity", "hint"), [
    ({"tem": "x"}, "did you mean `identity.team`?"),
    ({"zzz": "x"}, "`identity` has `key`, `user`, `team`"),
])
def test_an_unknown_identity_field_gets_a_hint(identity: dict, hint: str) -> None:
    engine = ap.Engine(ap.loads("policy { default allow }"))
    with pytest.raises(ap.RequestError, match="identity") as info:
        engine.evaluate({"identity": identity, "request": {"url": "/v1/chat/completions"}})
    assert hint in str(info.value)
