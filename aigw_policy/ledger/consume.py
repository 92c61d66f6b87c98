"""``ledger consume``: usage events from a JetStream stream into a ledger, exactly once.

A durable pull consumer fetches up to ``batch`` messages; their records are written to the
ledger in one transaction (``Sink.write_batch``: durable and idempotent by request id), and
only then acknowledged. A consumer killed mid-batch acknowledged nothing of that batch:
JetStream delivers it again after ``ack_wait`` seconds (to this consumer restarted, or to
another process sharing the durable name), and writing it again changes nothing, as a
request's final record is never replaced (its ``pending`` intent is, by the final record).
A message that is not a usage record is reported and terminated (never redelivered).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .nats_sink import connect, parse_nats_url
from .record import UsageRecord
from .usage_codec import decode, format_of

if TYPE_CHECKING:
    from .sinks import Sink

__all__ = ["ConsumeStats", "consume"]

_log = logging.getLogger("aigw_policy.ledger")


@dataclass
class ConsumeStats:
    written: int = 0  # records written (a redelivered one counts again: it was written again)
    batches: int = 0
    rejected: int = 0  # messages that were not usage records
    redelivered: int = 0


async def consume(source: str, into: Sink, *, durable: str = "aigw-ledger", batch: int = 256,
                  ack_wait: float = 30.0, idle_exit: float | None = None,
                  stop: asyncio.Event | None = None) -> ConsumeStats:
    """Consume ``source`` (``nats://HOST:PORT/SUBJECT``) into ``into`` until ``stop`` is set,
    or until no message came for ``idle_exit`` seconds."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    target = parse_nats_url(source)
    nc = await connect(target)
    stats = ConsumeStats()
    try:
        js = nc.jetstream(timeout=10.0)
        sub = await js.pull_subscribe(
            target.subject, durable=durable, stream=target.stream,
            config=ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                                  deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait,
                                  max_ack_pending=max(batch * 4, 1024)))
        idle_since = time.monotonic()
        while stop is None or not stop.is_set():
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except TimeoutError:  # nats-py's, or asyncio's when the wait ran out first
                if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            await _one_batch(msgs, into, stats)
    finally:
        await close(nc)
    return stats


async def close(nc: Any) -> None:
    """Send what is buffered (the last acknowledgements), then close: a ``drain`` would also
    wait for the pull subscription, which can outlast its timeout on a busy server. An
    acknowledgement lost here only means a redelivery, written again to no effect."""
    try:
        await nc.flush(timeout=5)
    except Exception:  # noqa: BLE001 - closing: the batch is committed either way
        pass
    await nc.close()


async def _one_batch(msgs: list[Any], into: Sink, stats: ConsumeStats) -> None:
    records: list[UsageRecord] = []
    good = []
    for m in msgs:
        try:
            records.append(decode(m.data, format_of((m.headers or {}).get("Content-Type"))))
            good.append(m)
        except ValueError as e:
            stats.rejected += 1
            _log.warning("ledger consume: message %s is not a usage record (%s): dropped",
                         m.metadata.sequence.stream, e)
            await m.term()
        if m.metadata.num_delivered > 1:
            stats.redelivered += 1
    await asyncio.to_thread(into.write_batch, records)  # committed: only now acknowledged
    for m in good:
        await m.ack()
    stats.written += len(records)
    stats.batches += 1
