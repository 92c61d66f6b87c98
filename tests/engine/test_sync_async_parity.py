"""The sync and async engines are two shells over one driver: the same requests give the same
decisions and the same store calls, each need asking the store itself (its async method when
the store has the async twin of the contract, its sync one otherwise)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits import AsyncLimitStore, LimitStore
from aigw_policy.stores import MemoryStore

from .logged_store import LoggedStore

POLICY = ap.loads('''policy { on request {
  rule "tpm" { token-limit { name: "t", capacity: 2000, rate: 60s, bucket_key: [identity.key] } }
  rule "deny-x" { when identity.key == "x"
    deny 403 "x" }
} }''', "dsl")


def _request(key: str, i: int, response: bool) -> dict[str, Any]:
    r: dict[str, Any] = {"id": f"r{i}", "now": "2026-11-26T12:00:00Z", "identity": {"key": key},
                         "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                     "body": {"model": "gpt-4o", "max_tokens": 600, "messages": []}}}
    if response:
        r["response"] = {"status_code": 200, "body": {"usage": {"prompt_tokens": 5, "completion_tokens": 7}}}
    return r


REQUESTS = [_request(k, i, i % 2 == 0) for i, k in enumerate(["a", "a", "x", "a", "b", "a", "a"])]


class _SyncOnly:
    """A store of the embedder's own: the sync contract only (calls delegated)."""

    def __init__(self) -> None:
        self.inner = LoggedStore()
        self.calls = self.inner.calls

    def __getattr__(self, name: str) -> Any:
        if name.startswith("a"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def _decisions(engine: ap.Engine, run_async: bool) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [(await engine.aevaluate(r, expect_response=False)).to_dict() for r in REQUESTS]

    if run_async:
        return asyncio.run(go())
    return [engine.evaluate(r, expect_response=False).to_dict() for r in REQUESTS]


def test_the_built_in_stores_are_both_contracts() -> None:
    store = MemoryStore()
    assert isinstance(store, LimitStore) and isinstance(store, AsyncLimitStore)
    assert not isinstance(_SyncOnly(), AsyncLimitStore)


@pytest.mark.parametrize("make", [LoggedStore, _SyncOnly], ids=["async-store", "sync-only-store"])
def test_sync_and_async_give_the_same_decisions_and_store_calls(make: Any) -> None:
    sync_store, async_store = make(), make()
    sync = _decisions(ap.Engine(POLICY, store=sync_store), run_async=False)
    asyn = _decisions(ap.Engine(POLICY, store=async_store), run_async=True)
    assert sync == asyn
    asked = [c[1:] for c in async_store.calls if c.startswith("a")]
    assert asked == (sync_store.calls if make is LoggedStore else [])  # the async twin when there is one
    if make is _SyncOnly:
        assert async_store.calls == sync_store.calls
    assert "reserve" in sync_store.calls
    assert [d["verdict"] for d in sync] == ["allow", "allow", "deny", "allow", "allow", "allow", "deny"]
