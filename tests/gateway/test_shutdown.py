"""The gateway closes what it was given to run with: the limit store (its last try at queued
settlements, docs/limits.md) and the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aigw_policy.limits.memory import MemoryStore

POLICY = 'policy { on request { rule "rpm" { rate-limit { name: "rpm", capacity: 5, rate: 1m } } } }\n'


class ClosingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1
        await super().aclose()


def test_shutdown_closes_the_store_and_the_ledger(tmp_path: Path) -> None:
    from aigw_policy.gateway import Gateway

    (tmp_path / "p.aigw").write_text(POLICY)
    store = ClosingStore()
    app = Gateway(policy=tmp_path / "p.aigw", upstream="http://127.0.0.1:9", store=store,
                  ledger=f"jsonl:{tmp_path / 'u.jsonl'}", watch=0, sighup=False)

    async def run() -> None:
        await app.startup()
        await app.shutdown()

    asyncio.run(run())
    assert store.closed == 1
    assert app.ledger is not None and app.ledger.closed
