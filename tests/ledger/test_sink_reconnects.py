"""serve26: a network ledger whose connection broke comes back with its server.

- PostgreSQL: the sink held one connection and never opened another; once it broke (the
  server restarted, a proxy or the network cut it) every write failed with "the connection is
  lost" until the gateway restarted, so every request through ``serve`` was a 503
  ``ledger_unavailable`` while PostgreSQL was up. A server ending the sink's session
  (``pg_terminate_backend``) is the break here.
- NATS: nats-py gave up after three reconnect attempts (~6 s) and the connection stayed
  closed: the same 503 for good. Each failed attempt was also logged by nats-py with a
  traceback (~30 lines every 2 s). A ``nats-server`` of the test's own is stopped and started
  again on the same port and store.
- A final record kept queued past its caller's wait whose write then failed was never read:
  asyncio logged it with a traceback ("Future exception was never retrieved").
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from aigw_policy.ledger import Ledger, LedgerError, UsageRecord, open_sink
from redis_cluster import free_ports

from .test_ledger import _record


def test_a_postgresql_sink_opens_a_broken_connection_again(pg_url: str) -> None:
    import psycopg

    sink = open_sink(pg_url)
    try:
        sink.write_batch([_record("req-before")])
        pid = sink._db.info.backend_pid  # the sink's own session, ended by the server
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        sink.write_batch([_record("req-after")])  # the first write after the break lands
        sink.write_batch([_record("req-later")])
        assert sorted(r.request_id for r in sink.read()) == ["req-after", "req-before", "req-later"]
    finally:
        sink.close()


def test_a_postgresql_sink_still_refuses_rows_the_server_refuses(pg_url: str) -> None:
    """A write the server refuses on a sound connection is the write's error, not a reason to
    open another connection (and it is said once, not retried)."""
    sink = open_sink(pg_url)
    try:
        sink._insert = sink._insert.replace("INSERT INTO", "INSERT INTO no_such_table_x, ")  # a refused statement
        with pytest.raises(LedgerError, match="cannot write ledger"):
            sink.write_batch([_record("req-refused")])
        assert not sink._db.closed
    finally:
        sink.close()


# -- NATS -----------------------------------------------------------------------------------

NATS_DOWN = 8.0
"""Seconds the NATS server stays away: past nats-py's three reconnect attempts, 2 s apart."""


class OwnNats:
    def __init__(self) -> None:
        if shutil.which("nats-server") is None:
            pytest.skip("nats-server is not installed")
        self.root = Path(tempfile.mkdtemp(prefix="aigw-nats-"))
        (self.port,) = free_ports(1)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["nats-server", "-p", str(self.port), "-js", "-sd", str(self.root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket

        for _ in range(300):  # up once it takes a connection
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def own_nats() -> Iterator[OwnNats]:
    pytest.importorskip("nats")
    server = OwnNats()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def test_a_nats_sink_comes_back_with_its_server_and_logs_no_traceback(
        own_nats: OwnNats, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sink = open_sink(f"nats://127.0.0.1:{own_nats.port}/aigw.test.back")
    try:
        sink.write_batch([_record("req-before")])
        own_nats.stop()
        time.sleep(NATS_DOWN)  # nats-py's reconnect attempts run out meanwhile
        with pytest.raises(LedgerError):
            sink.write_batch([_record("req-down")])
        own_nats.start()
        sink.write_batch([_record("req-after")])  # reconnected by the write itself
        assert {r.request_id for r in sink.read()} >= {"req-before", "req-after"}
    finally:
        sink.close()
    assert not [r for r in caplog.records if r.exc_info], "a traceback in the log"
    said = [r.getMessage() for r in caplog.records if r.name == "aigw_policy.ledger"]
    assert said and all("\n" not in line for line in said)


# -- a kept record failing after its wait --------------------------------------------------


class FailingLateSink:
    """A sink whose write waits for ``go``, then fails."""

    url = "failing:"

    def __init__(self) -> None:
        self.go = threading.Event()

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        self.go.wait()
        raise LedgerError("cannot write ledger `failing:`: the disk is full")

    def read(self, since: str | None = None) -> Iterator[UsageRecord]:
        return iter(())

    def close(self) -> None:
        self.go.set()


def test_a_kept_record_failing_after_its_wait_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    sink = FailingLateSink()
    ledger = Ledger(sink, write_timeout=0.2)
    unread: list[dict[str, object]] = []

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unread.append(context))
        with pytest.raises(LedgerError, match="durable"):
            await ledger.arecord(_record("req-kept"))
        sink.go.set()
        for _ in range(200):  # the write's failure reaches the loop
            if any("kept past its wait" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
        gc.collect()

    caplog.set_level(logging.WARNING)
    asyncio.run(scenario())
    ledger.close()
    assert unread == []
    lines = [r.getMessage() for r in caplog.records if "kept past its wait" in r.getMessage()]
    assert lines == ["a usage record kept past its wait was not written: cannot write ledger `failing:`: "
                     "the disk is full"]
