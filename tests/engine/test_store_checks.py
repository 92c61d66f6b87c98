"""Mistakes raised where they are made: a wrong store at construction, an unreachable store
or a closed ledger at the start-up check, never on every request as a 503."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.ledger import Ledger

from .stores_for_tests import redis_url

POLICY = ap.loads('policy { on request { rule "tpm" { token-limit { name: "t", capacity: 1000, rate: 60s } } } }')


@pytest.mark.parametrize("store", [object(), 42, b"redis://x"])
def test_a_store_of_the_wrong_type_is_refused_at_construction(store: object) -> None:
    with pytest.raises(TypeError, match=r"store= takes a limit store .*MemoryStore.*'redis://\.\.\.'"):
        ap.Engine(POLICY, store=store)  # type: ignore[arg-type]


def test_a_store_url_is_accepted_or_refused_saying_how(tmp_path: Path) -> None:
    assert isinstance(ap.Engine(POLICY, store="memory:").store, ap.stores.MemoryStore)
    assert isinstance(ap.Engine(POLICY, store=f"sqlite:{tmp_path / 'l.db'}").store, ap.stores.SQLiteStore)
    with pytest.raises(ValueError, match=r"store='not-a-url'.*sqlite:PATH.*store=ap\.stores\.RedisStore"):
        ap.Engine(POLICY, store="not-a-url")


def test_a_redis_url_is_a_redis_store() -> None:
    e = ap.Engine(POLICY, store=redis_url())
    assert isinstance(e.store, ap.stores.RedisStore)
    e.check()
    asyncio.run(e.acheck())


def test_the_start_up_check_names_an_unreachable_store_without_its_password() -> None:
    e = ap.Engine(POLICY, store="redis://:s3cret-pw@127.0.0.1:1/0")
    for check in (e.check, lambda: asyncio.run(e.acheck())):
        with pytest.raises(ap.StoreUnavailableError) as err:
            check()
        text = str(err.value)
        assert "RedisStore(redis://:***@127.0.0.1:1/0)" in text and "unreachable" in text
        assert "s3cret-pw" not in text
        assert isinstance(err.value, ap.stores.StoreUnavailable)


def test_the_start_up_check_passes_on_a_working_store_and_names_a_closed_ledger(tmp_path: Path) -> None:
    ledger = Ledger(f"jsonl:{tmp_path / 'u.jsonl'}")
    e = ap.Engine(POLICY, ledger=ledger)
    assert e.check() is None
    asyncio.run(e.acheck())
    ledger.close()
    with pytest.raises(ap.StoreUnavailableError, match="ledger .*closed"):
        e.check()


def test_a_ledger_of_the_wrong_type_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="ledger= takes an aigw_policy.ledger.Ledger"):
        ap.Engine(POLICY, ledger="jsonl:usage.jsonl")
