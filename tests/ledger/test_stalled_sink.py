"""serve21: a ledger whose sink stalls fails its callers, boundedly, and keeps working after.

A PostgreSQL table locked by another session (or a network that drops packets without a
reset) held ``Ledger.arecord`` for ever: every request through ``serve`` waited on its
``pending`` intent with no answer, and the writer's queue kept every waiting record. Now:

- an async caller gets :class:`LedgerError` after ``write_timeout`` seconds (the gateway then
  fails the request before it is forwarded, as for any ledger error: docs/ledger.md);
- once ``max_queue`` records wait, a new one fails at once, so memory is bounded;
- a record whose caller gave up before its write began is not written, and the writer thread
  survives such a caller: a cancelled future's ``set_result`` raised in it and it ended, after
  which every record failed with "ledger is closed" until a restart.

The stall is an ``Event`` the sink waits on (and a real ``LOCK TABLE`` in PostgreSQL); the
tests bound nothing by time but the time-out under test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence

import pytest

from aigw_policy.ledger import Ledger, LedgerError, UsageRecord

from .test_ledger import _record


class StalledSink:
    """A sink that blocks each write until ``go`` is set, and keeps what it wrote."""

    url = "stalled:"

    def __init__(self) -> None:
        self.go = threading.Event()
        self.began = threading.Event()
        self.written: list[str] = []

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        self.began.set()
        self.go.wait()
        self.written += [r.request_id for r in records]

    def read(self, since: str | None = None) -> Iterator[UsageRecord]:
        return iter(())

    def close(self) -> None:
        self.go.set()


def test_a_stalled_write_fails_its_caller_and_the_ledger_recovers() -> None:
    sink = StalledSink()
    ledger = Ledger(sink, write_timeout=0.2)

    async def scenario() -> None:
        first = asyncio.ensure_future(ledger.arecord(_record("req-began")))  # the writer takes it, and stalls
        await asyncio.to_thread(sink.began.wait)
        with pytest.raises(LedgerError, match="durable"):
            await ledger.arecord(_record("req-queued"))  # queued behind it: given up before its write began
        with pytest.raises(LedgerError, match="durable"):
            await first
        sink.go.set()
        await ledger.arecord(_record("req-after"))

    asyncio.run(scenario())
    assert not ledger.closed
    assert "req-queued" not in sink.written and "req-after" in sink.written
    ledger.close()


def test_the_queue_is_bounded_while_the_sink_stalls() -> None:
    sink = StalledSink()
    ledger = Ledger(sink, max_queue=5, write_timeout=None)
    futures = [ledger.submit(_record("req-0"))]
    sink.began.wait()  # the writer holds req-0 and stalls: what comes now waits in the queue
    futures += [ledger.submit(_record(f"req-{i}")) for i in range(1, 6)]
    with pytest.raises(LedgerError, match="not keeping up"):
        ledger.submit(_record("req-6"))
    sink.go.set()
    for f in futures:
        f.result(30)
    assert sink.written == [f"req-{i}" for i in range(6)]
    ledger.close()


def test_a_cancelled_caller_leaves_the_writer_running() -> None:
    sink = StalledSink()
    ledger = Ledger(sink, write_timeout=None)

    async def scenario() -> None:
        first = asyncio.ensure_future(ledger.arecord(_record("req-began")))
        await asyncio.to_thread(sink.began.wait)
        gone = asyncio.ensure_future(ledger.arecord(_record("req-cancelled")))
        await asyncio.sleep(0)
        gone.cancel()  # a client that left: its task cancelled while the record waits
        await asyncio.gather(gone, return_exceptions=True)
        sink.go.set()
        await first
        await ledger.arecord(_record("req-after"))

    asyncio.run(scenario())
    assert not ledger.closed
    assert sink.written == ["req-began", "req-after"]
    ledger.close()


def test_a_locked_postgresql_table_fails_the_write(pg_url: str) -> None:
    import psycopg

    ledger = Ledger(pg_url, write_timeout=0.5)
    ledger.record(_record("req-before"))
    table = pg_url.rsplit("table=", 1)[1]
    with psycopg.connect(pg_url.split("?")[0]) as other:
        other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        with pytest.raises(LedgerError, match="durable"):
            asyncio.run(ledger.arecord(_record("req-locked")))
    asyncio.run(ledger.arecord(_record("req-after")))  # the lock gone: the writer goes on
    assert {r.request_id for r in ledger.sink.read()} >= {"req-before", "req-after"}
    ledger.close()
