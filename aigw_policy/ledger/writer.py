"""Group commit: many concurrent completions, one transaction per batch, nothing lost.

Two writes per forwarded request close the crash window: :meth:`Ledger.intent` (a
``pending`` record at the estimate, durable before the request goes upstream) and
:meth:`Ledger.record` (the final record, which replaces it). A gateway killed in between
leaves the intent: the request is in the ledger at its estimate, never missing.

``Ledger.record(rec)`` returns only after the batch holding ``rec`` is durable in the sink
(committed / fsynced), so a completion never reports success for a record that a crash could
lose. Concurrent callers share one write: a single writer thread takes whatever is queued
(up to ``max_batch`` records) and writes it in one transaction; records that arrive while a
write is under way form the next batch. It never waits for company when nothing else is
queued (a lone record is written at once), unless ``max_delay`` asks it to linger that many
seconds for more.
A failed write fails every caller of that batch with :class:`LedgerError`; nothing is retried
silently (the caller decides; sinks are idempotent by request id, so a retry is safe).

A stalled sink (a PostgreSQL table locked, a network that drops packets without a reset) fails
its async callers too, after ``write_timeout`` seconds, and once ``max_queue`` records wait,
every new one at once: before, each request waited for the sink for ever, and the queue held
every record of every waiting request.

While a write has been under way longer than ``write_timeout`` (or one has, and a write is
under way again) the ledger is *stalled* (a circuit breaker): a new ``pending`` intent
(:meth:`Ledger.aintent`) fails at once, unqueued, rather than each request waiting out its own
``write_timeout`` behind the same stuck write (serve25: every request through ``serve`` took
10 s to get its 503). The write under way is the probe: once it succeeds the breaker is closed,
so the first request after the sink answers is served; when the writer is idle an intent goes
(and probes). Final records are never refused by the breaker nor withdrawn when their caller's
wait times out: they stay queued (within ``max_queue``) and land when the sink is back,
replacing their intents, so the accounting stays exact. While stalled, :meth:`Ledger.arecord`
queues its record and returns at once (serve26): its caller's wait could only end in that same
queued record, ten seconds later (a denial was then answered as a 503 ``ledger_unavailable``,
a completion's answer waited); a write that then fails is logged.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from ..providers.classify import AiRequest
from .record import UsageRecord, as_pending, not_forwarded
from .sinks import LedgerError, Sink, open_sink

_log = logging.getLogger("aigw_policy.ledger")

_STOP = object()
WRITE_TIMEOUT = 10.0
"""Seconds an async caller waits for its record to be durable (:meth:`Ledger.arecord`)."""
MAX_QUEUE = 10_000
"""Records that may wait for the sink; past it a new one fails at once (:meth:`Ledger.submit`)."""


class Ledger:
    def __init__(self, sink: Sink | str, *, max_batch: int = 256, max_delay: float = 0.0,
                 write_timeout: float | None = WRITE_TIMEOUT, max_queue: int = MAX_QUEUE) -> None:
        self.sink = open_sink(sink) if isinstance(sink, str) else sink
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.write_timeout = write_timeout
        self.max_queue = max_queue
        self._queue: queue.Queue[object] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._writing: float | None = None  # when the write under way began (monotonic)
        self._tripped = False  # a write took longer than write_timeout, and none has succeeded since
        self._thread = threading.Thread(target=self._run, name="aigw-ledger", daemon=True)
        self._thread.start()
        # what each record is written as (Gateway: the keys file's keys masked in the fields that
        # quote a client, KeyRing.masked_record); None: as it is
        self.mask: Callable[[UsageRecord], UsageRecord] | None = None

    # -- public ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the ledger can record nothing more (closed, or its writer thread ended)."""
        return self._closed or not self._thread.is_alive()

    def submit(self, record: UsageRecord) -> Future[None]:
        """Queue ``record``; the future completes when it is durable (or fails)."""
        if self.closed:  # (a writer thread that ended would never answer)
            raise LedgerError("ledger is closed")
        if self._queue.qsize() >= self.max_queue:
            raise LedgerError(f"the ledger is not keeping up: {self.max_queue:,} records wait for the sink")
        fut: Future[None] = Future()
        self._queue.put((record if self.mask is None else self.mask(record), fut))
        return fut

    def record(self, record: UsageRecord, timeout: float | None = 60.0) -> None:
        """Write ``record`` and return once it is durable."""
        self.submit(record).result(timeout)

    def intent(self, record: UsageRecord, ai: AiRequest | None = None,
               timeout: float | None = 60.0) -> None:
        """Write the ``pending`` intent of a request about to be forwarded (see
        :func:`~aigw_policy.ledger.record.as_pending`) and return once it is durable: a
        gateway killed before the final record keeps this one, at the estimate."""
        self.record(as_pending(record, ai), timeout)

    @property
    def stalled(self) -> bool:
        """Whether the sink is stalled: a write is under way, and it began more than
        ``write_timeout`` seconds ago or one took that long and none has succeeded since."""
        limit, began = self.write_timeout, self._writing
        return began is not None and (self._tripped or (limit is not None and time.monotonic() - began > limit))

    async def aintent(self, record: UsageRecord, ai: AiRequest | None = None) -> None:
        """:meth:`intent`'s async twin. While the sink is :attr:`stalled` it fails at once and
        queues nothing (the request is not forwarded)."""
        if self.stalled:
            raise LedgerError("the ledger's sink is stalled (a write has taken longer than "
                              f"{self.write_timeout:g}s): nothing is forwarded until it answers")
        cf = self.submit(as_pending(record, ai))
        try:
            await self._durable(cf, keep=False)
        except LedgerError:
            if not cf.cancelled() and (not cf.done() or cf.exception() is None):
                # its write had begun (and may land, or just did): the final record (nothing
                # was forwarded) goes after it, or the request would stay in the ledger at its estimate
                try:
                    self.submit(not_forwarded(record))
                except LedgerError:
                    pass  # the queue is full: it stays at the estimate, as a gateway killed would
            raise

    def _trip(self) -> None:
        """A caller's wait ran out: the write under way (if still) is stuck."""
        with self._lock:
            self._tripped = self._writing is not None

    def record_many(self, records: Iterable[UsageRecord], timeout: float | None = 60.0) -> None:
        futures = [self.submit(r) for r in records]
        for f in futures:
            f.result(timeout)

    async def arecord(self, record: UsageRecord) -> None:
        """Async twin of :meth:`record` (the event loop is never blocked): :class:`LedgerError`
        when the write is not durable within ``write_timeout`` seconds. The record stays queued
        and lands once the sink answers (a final record replaces its intent then: the usage is
        not lost to a stall), and the breaker trips (:attr:`stalled`). While it is stalled the
        record is queued so and this returns at once. A caller cancelled (a client that left)
        withdraws a record whose write had not begun."""
        cf = self.submit(record)
        if self.stalled:  # its wait would end in the same queued record, write_timeout later
            asyncio.wrap_future(cf).add_done_callback(_kept_failed)
            return
        await self._durable(cf, keep=True)

    async def _durable(self, cf: Future[None], keep: bool) -> None:
        """Wait for a submitted record to be durable; past ``write_timeout`` it stays queued if ``keep``
        (a final record), else is withdrawn if its write has not begun (an intent: its request
        is not forwarded, and an intent landing later would charge the estimate for nothing)."""
        fut = asyncio.wrap_future(cf)
        try:
            await asyncio.wait_for(asyncio.shield(fut) if keep else fut, self.write_timeout)
        except asyncio.CancelledError:
            fut.cancel()  # withdrawn if its write has not begun
            raise
        except TimeoutError:
            self._trip()
            if keep:  # its write's end is nobody's to await now: its failure goes to the log, once
                fut.add_done_callback(_kept_failed)
            raise LedgerError(f"the ledger did not make a record durable within {self.write_timeout:g}s "
                              "(its sink is stalled or overloaded)") from None

    def close(self) -> None:
        """Flush what is queued, stop the writer and close the sink."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self.sink.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < self.max_batch:
                try:  # what is already queued; a wait only when asked to linger
                    nxt = self._queue.get_nowait() if self.max_delay <= 0 else self._queue.get(timeout=self.max_delay)
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._write(batch)  # type: ignore[arg-type]

    def _write(self, batch: list[tuple[UsageRecord, Future[None]]]) -> None:
        # a record whose caller gave up (timed out, cancelled) is not written, and a caller that gives
        # up from now on finds its write under way (a cancelled future's `set_result` raised in this
        # thread, which then ended: every later record failed with "ledger is closed")
        batch = [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]
        if not batch:
            return
        self._writing = began = time.monotonic()
        try:
            self.sink.write_batch([r for r, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
            self._wrote(ok=False, took=time.monotonic() - began)
            err = exc if isinstance(exc, LedgerError) else LedgerError(f"ledger write failed: {exc}")
            for _, fut in batch:
                fut.set_exception(err)
            return
        self._wrote(ok=True, took=0.0)
        for _, fut in batch:
            fut.set_result(None)

    def _wrote(self, ok: bool, took: float) -> None:
        """The breaker after a write: closed by a success or a quick failure (the sink answers),
        tripped by a failure that took longer than ``write_timeout``."""
        with self._lock:
            self._writing = None
            self._tripped = not (ok or self.write_timeout is None or took <= self.write_timeout)


def _kept_failed(fut: asyncio.Future[None]) -> None:
    """A record kept queued past its caller's wait (:meth:`Ledger.arecord`) whose write then
    failed: a line in the log. Nobody read the failure before, so asyncio logged it with a
    traceback ("Future exception was never retrieved") when the future was collected."""
    if not fut.cancelled() and (error := fut.exception()) is not None:
        _log.warning("a usage record kept past its wait was not written: %s", error)
