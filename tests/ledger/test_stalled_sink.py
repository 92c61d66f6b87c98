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
from dataclasses import replace
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
        self.records: list[UsageRecord] = []

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        self.began.set()
        self.go.wait()
        self.written += [r.request_id for r in records]
        self.records += records

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
    # serve25: a final record whose caller gave up stays queued and lands (its usage is not lost)
    assert sink.written == ["req-began", "req-queued", "req-after"]
    ledger.close()


def test_a_final_record_during_a_stall_is_queued_at_once() -> None:
    """serve26: once the stall is known, a final record (a denial's, a completion's) is
    queued and its caller goes on: it waited its own ``write_timeout`` for the same queued
    record (through ``serve`` a denial took 10 s and became a 503 ``ledger_unavailable``)."""
    sink = StalledSink()
    ledger = Ledger(sink, write_timeout=0.2)

    async def scenario() -> list[str]:
        stuck = asyncio.ensure_future(ledger.arecord(_record("req-began")))
        await asyncio.to_thread(sink.began.wait)
        with pytest.raises(LedgerError, match="durable"):
            await stuck  # the stall is known from here
        outcomes = []
        for i in range(4):
            try:
                await ledger.arecord(_record(f"req-stalled-{i}"))
                outcomes.append("queued")
            except LedgerError:
                outcomes.append("failed")
        sink.go.set()
        await ledger.arecord(_record("req-after"))
        return outcomes

    assert asyncio.run(scenario()) == ["queued"] * 4
    ledger.close()
    assert sink.written == ["req-began"] + [f"req-stalled-{i}" for i in range(4)] + ["req-after"]


def _intents(ledger: Ledger, n: int, name: str = "int") -> list[str]:
    """The outcome of ``n`` intents asked for one after the other."""
    async def one(i: int) -> str:
        try:
            await ledger.aintent(_record(f"{name}-{i}"))
        except LedgerError as error:
            return "timed out" if "durable within" in str(error) else "stalled"
        return "durable"
    return [asyncio.run(one(i)) for i in range(n)]


def test_a_stalled_sink_fails_intents_at_once_and_queues_none() -> None:
    """serve25: behind one stuck write every intent waited its own ``write_timeout`` (through
    ``serve``: each request 10 s to its 503). Once the stall is known, intents fail at once and
    none is queued (its request is not forwarded: an intent landing later would charge it)."""
    sink = StalledSink()
    ledger = Ledger(sink, write_timeout=0.2)
    stuck = ledger.submit(_record("req-began"))
    sink.began.wait()
    assert _intents(ledger, 6) == ["timed out"] + ["stalled"] * 5
    assert ledger._queue.qsize() <= 1  # only the one that timed out was queued (and is withdrawn)
    sink.go.set()
    stuck.result(30)
    assert not ledger.stalled  # the stuck write succeeded: the sink answers again
    assert _intents(ledger, 2, "after") == ["durable", "durable"]
    assert sink.written == ["req-began", "after-0", "after-1"]
    ledger.close()


class SlowFailingSink(StalledSink):
    """Each write blocks until ``go``, then fails (a statement time-out past the ledger's)."""

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        self.began.set()
        self.go.wait()
        raise LedgerError("statement timeout")


def test_a_sink_that_fails_slowly_is_probed_when_the_writer_is_idle() -> None:
    """The write under way is the probe: while it is stuck, intents fail at once; once it has
    failed (slowly) and the writer is idle, the next intent goes and probes the sink."""
    sink = SlowFailingSink()
    ledger = Ledger(sink, write_timeout=0.2)
    assert _intents(ledger, 1) == ["timed out"]  # its write is under way, stuck
    assert _intents(ledger, 3) == ["stalled"] * 3  # no probe while a write is under way
    sink.go.set()  # the stuck write fails, slowly
    while ledger._writing is not None:
        sink.began.wait(0.01)
    assert not ledger.stalled  # nothing under way: the next intent probes
    sink.go.clear()
    sink.began.clear()
    assert _intents(ledger, 1, "probe") == ["timed out"]  # the probe, stuck in turn
    assert _intents(ledger, 2, "after") == ["stalled"] * 2
    sink.go.set()
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
    # (returned at once if the stuck write had not landed yet: serve26 queues a final record
    # during a stall; the next one waited for is written after it)
    ledger.record(_record("req-flush"))
    assert {r.request_id for r in ledger.sink.read()} >= {"req-before", "req-after", "req-flush"}
    ledger.close()


def test_an_intent_whose_write_had_begun_gets_its_final_record() -> None:
    """serve25: an intent that timed out once its write had begun could not be withdrawn: it
    landed when the sink answered, and the request (answered 503, never forwarded) stayed in
    the ledger at its estimate. Its final record now follows it: no usage, $0, status 503."""
    from aigw_policy.ledger.record import keep_final

    sink = StalledSink()
    ledger = Ledger(sink, write_timeout=0.2)
    record = replace(_record("req-stuck"), input_tokens=500, total_tokens=500)
    with pytest.raises(LedgerError, match="durable"):
        asyncio.run(ledger.aintent(record))  # the writer took it, and stalls
    sink.go.set()
    ledger.close()
    assert sink.written == ["req-stuck", "req-stuck"]
    found: dict[str, UsageRecord] = {}
    for rec in sink.records:
        keep_final(found, rec)
    final = found["req-stuck"]
    assert (final.verdict, final.status_code, final.total_tokens, final.input_tokens, final.cost_usd) == \
        ("error", 503, 0, 0, 0.0)
