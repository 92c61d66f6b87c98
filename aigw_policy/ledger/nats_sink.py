"""The ledger on NATS JetStream: usage records published as events, one message per record.

``nats://HOST:PORT/SUBJECT`` (``tls://`` too; ``?format=json`` for JSON instead of Protobuf,
``?stream=NAME`` to name the stream, default ``AIGW_`` and the subject in capitals). On open,
the sink makes sure a durable stream (file storage) takes the subject. ``write_batch`` publishes
every record and waits for JetStream's acknowledgements: the records are stored when it
returns. Each message's id (``Nats-Msg-Id``) is the request id (and ``<id>:pending`` for the
intent written before a request is forwarded), so a batch published again after a lost
acknowledgement is stored once (JetStream's duplicate window, two minutes by default), and
the consumer (``ledger consume``) writes by request id, so a redelivery never counts twice.

nats-py is asyncio; the sink runs a private event loop in a thread, so the ledger's writer
thread (and ``usage``) call it like the other sinks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ..redact import redact
from .record import PENDING, UsageRecord, keep_final
from .errors import LedgerError
from .usage_codec import FORMATS, Format, content_type, decode, encode, format_of

__all__ = ["NatsSink", "NatsTarget", "parse_nats_url"]

_log = logging.getLogger("aigw_policy.ledger")

TIMEOUT = 10.0
"""Seconds to connect, and to wait for a batch's acknowledgements."""


class NatsTarget:
    """What a ``nats://`` ledger URL names: the server, the subject, the stream, the format."""

    def __init__(self, server: str, subject: str, stream: str, fmt: Format, shown: str) -> None:
        self.server = server
        self.subject = subject
        self.stream = stream
        self.format: Format = fmt
        self.shown = shown  # the URL without its password


def parse_nats_url(url: str) -> NatsTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("nats", "tls") or not parts.hostname:
        raise LedgerError(f"bad NATS ledger url `{redact(url)}` (nats://HOST:PORT/SUBJECT)")
    subject = parts.path.lstrip("/")
    if not subject or any(c in subject for c in " *>") or "/" in subject:
        raise LedgerError(f"bad NATS ledger url `{redact(url)}`: give one subject without wildcards "
                          "(nats://HOST:PORT/SUBJECT)")
    query = dict(parse_qsl(parts.query))
    fmt = query.pop("format", "protobuf")
    if fmt not in FORMATS:
        raise LedgerError(f"bad NATS ledger url `{redact(url)}`: format is protobuf or json, not `{fmt}`")
    stream = query.pop("stream", "AIGW_" + subject.replace(".", "_").replace("-", "_").upper())
    if query:
        raise LedgerError(f"bad NATS ledger url `{redact(url)}`: unknown option "
                          f"{', '.join(sorted(query))} (format, stream)")
    server = urlunsplit(parts._replace(path="", query=""))
    return NatsTarget(server, subject, stream, fmt, redact(urlunsplit(parts._replace(query=""))))  # type: ignore[arg-type]


def msg_id(record: UsageRecord) -> str:
    return record.request_id + (":pending" if record.verdict == PENDING else "")


class _Loop:
    """An event loop in a daemon thread, for sync callers of an asyncio client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aigw-nats", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def _said(shown: str) -> Any:
    """nats-py's error callback: one line in the log for each error of the connection (a
    failed reconnect, a lost server). Its own default logs every one with a traceback: a
    NATS server down filled the operator's log with ~30 lines every 2 s."""
    async def said(error: Exception) -> None:
        _log.warning("NATS ledger `%s`: %s: %s", shown, type(error).__name__, str(error)[:200])

    return said


async def connect(target: NatsTarget, timeout: float = TIMEOUT) -> Any:
    """A connection to the target's server and its stream, created when missing."""
    import nats
    from nats.js.api import StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    nc = await nats.connect(target.server, connect_timeout=timeout, max_reconnect_attempts=3,
                            allow_reconnect=True, error_cb=_said(target.shown))
    js = nc.jetstream(timeout=timeout)
    try:
        info = await js.stream_info(target.stream)
        if target.subject not in (info.config.subjects or []):
            await nc.close()
            raise LedgerError(f"NATS stream `{target.stream}` does not take subject `{target.subject}`")
    except NotFoundError:
        await js.add_stream(StreamConfig(name=target.stream, subjects=[target.subject],
                                         storage=StorageType.FILE, duplicate_window=120.0))
    return nc


class NatsSink:
    """Usage records published to a JetStream stream (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        try:
            import nats  # noqa: F401
        except ImportError:
            raise LedgerError("the NATS ledger needs nats-py and protobuf "
                              "(`pip install aigw-policy[nats]`)") from None
        self.target = parse_nats_url(url)
        self.url = self.target.shown
        self._lock = threading.Lock()
        self._loop = _Loop()
        try:
            self._nc = self._loop.run(connect(self.target), TIMEOUT * 2)
        except LedgerError:
            self._loop.stop()
            raise
        except Exception as e:  # noqa: BLE001 - any failure to connect is the ledger's
            self._loop.stop()
            raise LedgerError(f"cannot open ledger `{self.url}`: {type(e).__name__}: {e}") from None

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        """Publish ``records`` and wait for their acknowledgements. A connection nats-py gave
        up on (its server away past its reconnect attempts) is opened again, once a batch:
        it stayed closed before, and every later write failed until the gateway restarted."""
        if not records:
            return
        with self._lock:
            try:
                if self._nc.is_closed:
                    self._nc = self._loop.run(connect(self.target), TIMEOUT * 2)
                self._loop.run(self._publish(records), TIMEOUT * 2)
            except Exception as e:  # noqa: BLE001 - the writer keeps the batch and says so
                raise LedgerError(f"cannot write ledger `{self.url}`: {type(e).__name__}: {e}") from None

    async def _publish(self, records: Sequence[UsageRecord]) -> None:
        js = self._nc.jetstream(timeout=TIMEOUT)
        ctype = content_type(self.target.format)
        await asyncio.gather(*(
            js.publish(self.target.subject, encode(r, self.target.format), stream=self.target.stream,
                       headers={"Nats-Msg-Id": msg_id(r), "Content-Type": ctype})
            for r in records))

    def read(self, since: str | None = None) -> Iterator[UsageRecord]:
        """Every record in the stream (the first final one per request id, else its intent)."""
        with self._lock:
            try:
                found = self._loop.run(self._read_all(), 600.0)
            except Exception as e:  # noqa: BLE001
                raise LedgerError(f"cannot read ledger `{self.url}`: {type(e).__name__}: {e}") from None
        for rec in found.values():
            if since is None or rec.time >= since:
                yield rec

    async def _read_all(self) -> dict[str, UsageRecord]:
        from nats.js.api import AckPolicy, ConsumerConfig

        js = self._nc.jetstream(timeout=TIMEOUT)
        sub = await js.pull_subscribe(self.target.subject, stream=self.target.stream,
                                      config=ConsumerConfig(ack_policy=AckPolicy.NONE,
                                                            inactive_threshold=60.0))
        found: dict[str, UsageRecord] = {}
        try:
            while True:
                info = await sub.consumer_info()
                if info.num_pending == 0:
                    break
                try:
                    msgs = await sub.fetch(min(1000, info.num_pending), timeout=2.0)
                except TimeoutError:  # nats-py's, or asyncio's when the wait ran out first
                    continue
                for m in msgs:
                    try:
                        keep_final(found, decode(m.data, format_of((m.headers or {}).get("Content-Type"))))
                    except ValueError:
                        continue  # not a usage record: ``ledger consume`` reports such messages
        finally:
            await sub.unsubscribe()
        return found

    def close(self) -> None:
        with self._lock:
            try:  # every publish was acknowledged: nothing is buffered
                self._loop.run(self._nc.close(), TIMEOUT)
            except Exception:  # noqa: BLE001 - closing: nothing left to report to
                pass
            self._loop.stop()
