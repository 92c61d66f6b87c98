"""Money and state when the library is embedded: a bad response, two completions of one id at
once, an unknown id, an interrupted evaluation. On memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.ledger import Ledger, LedgerError
from aigw_policy.limits import Charge

from .stores_for_tests import STORES, each_store

POLICY = ap.loads('policy { on request { rule "tpm" { token-limit { name: "team-tpm", capacity: 1000, '
                  'rate: 60s, bucket_key: [identity.team] } } } }')
NOW = "2026-11-26T12:00:00Z"
REQ: dict[str, Any] = {
    "id": "r1", "now": NOW, "identity": {"key": "k1", "team": "research"},
    "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                "body": {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}}}
RESP = {"status_code": 200, "body": {"model": "gpt-4o", "usage": {"prompt_tokens": 5, "completion_tokens": 10,
                                                                   "total_tokens": 15}}}
BAD = {"status_code": "200 OK", "body": RESP["body"]}


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from each_store(request.param, tmp_path)


def used(engine: ap.Engine) -> float:
    """Tokens the team has used in the window, as the store says."""
    spec = engine.compiled.limits["team-tpm"][1].limit.spec  # type: ignore[union-attr]
    now = ap.Request.parse(REQ).unix_now()
    assert now is not None
    return engine.store.check([Charge(spec, "research", 0)], now)[0].used


def ledger_lines(path: Path, rid: str) -> int:
    """Final records of ``rid`` (the intent line written before forwarding is not one)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return sum(1 for r in records if r.get("aigw.request.id") == rid and r.get("aigw.verdict") != "pending")


# -- a malformed response ------------------------------------------------------------------


def test_bad_response_leaves_the_request_completable(store: Any) -> None:
    e = ap.Engine(POLICY, store=store)
    e.evaluate(REQ)
    assert used(e) == 105
    with pytest.raises(ap.RequestError) as bad:
        e.complete("r1", BAD)
    assert str(bad.value).startswith("invalid response: ") and "status_code" in str(bad.value)
    assert used(e) == 105  # the reservation stands, until the corrected complete
    final = e.complete("r1", RESP)
    assert final.complete and final.limits[0]["settled"] == "reconciled"
    assert used(e) == 15


def test_bad_response_leaves_the_request_completable_async(store: Any) -> None:
    async def go() -> ap.Decision:
        e = ap.Engine(POLICY, store=store)
        await e.aevaluate(REQ)
        with pytest.raises(ap.RequestError):
            await e.acomplete("r1", BAD)
        with pytest.raises(ap.RequestError):
            await e.acomplete("r1", ["not", "a", "response"])  # type: ignore[arg-type]
        return await e.acomplete("r1", RESP)

    assert asyncio.run(go()).limits[0]["used"] == 15


# -- two completions of one id at once -------------------------------------------------------


class Slow:
    """A store whose reconcile waits (bounded) until the other callers have returned, and
    whose async reconcile yields to the event loop first: completions overlap."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.others_done = threading.Event()
        self.reconciles = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def reconcile(self, *args: Any) -> Any:
        self.reconciles += 1
        self.others_done.wait(0.5)  # set at once when the others fail; a bound when they wait
        return self.inner.reconcile(*args)

    async def areconcile(self, *args: Any) -> Any:
        self.reconciles += 1
        for _ in range(3):
            await asyncio.sleep(0)
        return await self.inner.areconcile(*args)


def test_concurrent_completions_in_threads_are_one(store: Any, tmp_path: Path) -> None:
    slow = Slow(store)
    ledger = Ledger(f"jsonl:{tmp_path / 'u.jsonl'}")
    e = ap.Engine(POLICY, store=slow, ledger=ledger)
    e.evaluate(REQ)
    results: list[Any] = [None] * 4
    first = threading.Thread(target=lambda: results.__setitem__(0, _call(e.complete, "r1", RESP)))
    first.start()
    while slow.reconciles == 0 and first.is_alive():
        first.join(0.01)
    others = [threading.Thread(target=lambda i=i: results.__setitem__(i, _call(e.complete, "r1", RESP)))
              for i in range(1, 4)]
    for t in others:
        t.start()
    for t in others:
        t.join()
    slow.others_done.set()
    first.join()
    ledger.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert len({json.dumps(r.to_dict(), sort_keys=True) for r in results}) == 1
    assert ledger_lines(tmp_path / "u.jsonl", "r1") == 1
    assert slow.reconciles == 1 and used(e) == 15


def test_concurrent_completions_under_gather_are_one(store: Any, tmp_path: Path) -> None:
    slow = Slow(store)
    ledger = Ledger(f"jsonl:{tmp_path / 'u.jsonl'}")
    e = ap.Engine(POLICY, store=slow, ledger=ledger)

    async def go() -> list[Any]:
        await e.aevaluate(REQ)
        return await asyncio.gather(*(e.acomplete("r1", RESP) for _ in range(4)), return_exceptions=True)

    results = asyncio.run(go())
    ledger.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert all(r is results[0] for r in results)
    assert ledger_lines(tmp_path / "u.jsonl", "r1") == 1
    assert slow.reconciles == 1 and used(e) == 15


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except BaseException as error:  # noqa: BLE001 - the test reports it
        return error


# -- a completion that fails stays completable --------------------------------------------------


class FlakyLedger:
    """Fails its first write, like a database that was restarting."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.failures = 1

    def record(self, rec: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise LedgerError("database is restarting")
        self.records.append(rec)

    async def arecord(self, rec: Any) -> None:
        self.record(rec)


def test_a_failed_completion_can_be_retried() -> None:
    ledger = FlakyLedger()
    e = ap.Engine(POLICY, ledger=ledger)
    e.evaluate(REQ)
    with pytest.raises(LedgerError, match="restarting"):
        e.complete("r1", RESP)
    final = e.complete("r1", RESP)
    assert final.limits[0]["used"] == 15 and used(e) == 15  # reconciled once
    assert [r.request_id for r in ledger.records] == ["r1"]


# -- an unknown id -----------------------------------------------------------------------------


def test_unknown_id_raises_a_named_error() -> None:
    e = ap.Engine(POLICY)
    with pytest.raises(ap.UnknownRequestError) as err:
        e.complete("never-seen", RESP)
    assert isinstance(err.value, LookupError) and err.value.request_id == "never-seen"
    text = str(err.value)
    assert "never-seen" in text and "never evaluated" in text and "another process" in text
    with pytest.raises(ap.UnknownRequestError):
        asyncio.run(e.acomplete("never-seen", RESP))
    e.evaluate(REQ, expect_response=False)
    with pytest.raises(ap.UnknownRequestError):
        e.complete("r1", RESP)


# -- an evaluation interrupted after its reservation ------------------------------------------------


class Hangs:
    """A store whose async reserve goes through, then never answers (a lost connection)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reserved = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def areserve(self, *args: Any) -> Any:
        await self.inner.areserve(*args)
        self.reserved.set()
        await asyncio.Event().wait()


def test_a_cancelled_evaluation_releases_its_reservation(store: Any) -> None:
    hangs = Hangs(store)
    e = ap.Engine(POLICY, store=hangs)

    async def go() -> None:
        task = asyncio.create_task(e.aevaluate(REQ))
        await hangs.reserved.wait()
        assert used(e) == 105
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert used(e) == 0
    with pytest.raises(ap.UnknownRequestError):
        e.complete("r1", RESP)


def test_a_bad_state_seeds_nothing() -> None:
    e = ap.Engine(POLICY)
    bad = {**REQ, "state": {"limits": {"team-tpm": {"research": {"used": 500}}, "nope": {"": {"used": 1}}}}}
    with pytest.raises(ap.RequestError, match="no limit named `nope`"):
        e.evaluate(bad, apply_state=True)
    assert used(e) == 0


class Stalls:
    """A store whose async reconcile stalls until released: the first completion is cancelled
    while a second caller waits for it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.reconciles = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def areconcile(self, *args: Any) -> Any:
        self.reconciles += 1
        self.entered.set()
        await self.go.wait()
        return await self.inner.areconcile(*args)


def test_a_waiter_completes_when_the_first_completion_is_cancelled() -> None:
    stalls = Stalls(ap.stores.MemoryStore())
    e = ap.Engine(POLICY, store=stalls)

    async def go() -> ap.Decision:
        await e.aevaluate(REQ)
        first = asyncio.create_task(e.acomplete("r1", RESP))
        await stalls.entered.wait()
        second = asyncio.create_task(e.acomplete("r1", RESP))
        for _ in range(3):
            await asyncio.sleep(0)  # the second is now waiting for the first
        first.cancel()
        stalls.go.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    final = asyncio.run(go())
    assert final.complete and final.limits[0]["used"] == 15 and stalls.reconciles == 2
    assert e.complete("r1", RESP) is final
