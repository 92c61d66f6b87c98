"""``aigw-policy ledger ...``: the ledger's plumbing. ``ledger consume`` moves usage events
from NATS JetStream into a ledger (``ledger/consume.py``)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from ..redact import scrub
from .common import fail_usage
from .failures import UNAVAILABLE, USAGE, CommandFailure

app = typer.Typer(name="ledger", no_args_is_help=True, rich_markup_mode=None,
                  help="The usage ledger's plumbing: usage events into a ledger.")


@app.command()
def consume(
    source: Annotated[str, typer.Argument(help="The usage events: nats://HOST:PORT/SUBJECT "
                                               "(?stream=NAME when the stream is not AIGW_<SUBJECT>).")],
    into: Annotated[str, typer.Option("--into", envvar="AIGW_LEDGER",
                                      help="The ledger to write: postgresql://..., sqlite:PATH or jsonl:PATH.")],
    durable: Annotated[str, typer.Option("--durable", help="The JetStream durable consumer's name "
                                                           "(processes sharing it share the work).")] = "aigw-ledger",
    batch: Annotated[int, typer.Option("--batch", min=1, max=10_000,
                                       help="Records per transaction.")] = 256,
    ack_wait: Annotated[float, typer.Option("--ack-wait", min=0.5,
                                            help="Seconds before an unacknowledged batch is delivered again.")] = 30.0,
    idle_exit: Annotated[float | None, typer.Option("--idle-exit", min=0.1,
                                                    help="Exit after this many seconds without a message "
                                                         "(default: run until SIGTERM).")] = None,
) -> None:
    """Consume usage events from NATS JetStream into a ledger, exactly once: each batch is
    written in one transaction, by request id, and acknowledged only once committed."""
    from ..ledger import LedgerError, open_sink
    from ..ledger.consume import consume as run

    urls = [source, into]

    def fail(message: str, code: str = UNAVAILABLE) -> CommandFailure:
        return fail_usage(scrub(message, urls), code)

    if not source.startswith(("nats://", "tls://")):
        raise fail("ledger consume reads nats://HOST:PORT/SUBJECT", USAGE)
    try:
        sink = open_sink(into)
    except LedgerError as error:
        raise fail(str(error)) from None

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run(source, sink, durable=durable, batch=batch, ack_wait=ack_wait,
                         idle_exit=idle_exit, stop=stop)

    try:
        stats = asyncio.run(main())
    except LedgerError as error:
        raise fail(str(error)) from None
    except Exception as error:  # noqa: BLE001 - never a traceback: say what failed
        raise fail(f"ledger consume stopped: {type(error).__name__}: {error}") from None
    finally:
        sink.close()
    typer.echo(f"ledger consume: {stats.written} records written in {stats.batches} batches "
               f"({stats.redelivered} redelivered, {stats.rejected} rejected)", err=True)
