"""What ``report``, ``reconcile`` and ``limits`` share: a ledger read without writing, a store
and the limits of a policy, each failing with exit 2 and a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..ledger.reader import Skipped, read_ledger
from ..ledger.sinks import LedgerError, local_path
from ..redact import redact
from .common import fail_usage, load_policy
from .failures import SKIPPED_LINES, UNAVAILABLE, UNREADABLE, warn

if TYPE_CHECKING:
    from ..ledger.record import UsageRecord
    from ..limits.model import LimitSpec, LimitStore


def shown_url(url: str) -> str:
    return redact(url)


def read_records(url: str, since: str | None = None, until: str | None = None) -> list[UsageRecord]:
    """Every record of the ledger in ``[since, until)``; a missing ledger file is exit 2 (and
    is never created: the readers open it read-only)."""
    return list(stream_records(url, since, until))


def stream_records(url: str, since: str | None = None, until: str | None = None) -> Iterator[UsageRecord]:
    """The records of :func:`read_records` as they are read (a page at a time), for a single
    pass; a ledger that fails, at once or midway, is exit 2."""
    local = local_path(url)
    if local is not None and not Path(local[1]).exists():
        raise fail_usage(f"ledger `{shown_url(url)}` does not exist", UNREADABLE, local[1])
    where = local[1] if local is not None else None
    try:
        source = read_ledger(url, since, until, skipped=warn_skipped(url))
    except LedgerError as exc:
        raise fail_usage(str(exc), UNAVAILABLE, where) from None
    return _failing_usage(source, where)


def warn_skipped(url: str) -> Skipped:
    """What a command says of a JSONL ledger's lines that hold no record: its totals leave
    them out, and the user should know (AIGW905, a warning on stderr; the command goes on)."""
    local = local_path(url)
    where = local[1] if local is not None else shown_url(url)

    def skipped(count: int, line: int, why: str) -> None:
        lines = "1 line of the ledger holds" if count == 1 else f"{count:,} lines of the ledger hold"
        warn(SKIPPED_LINES, f"{lines} no usage record and {'is' if count == 1 else 'are'} not counted", where, line=line,
             help=f"line {line}: {why}. A writer stopped mid-line leaves one such line at the end; more come "
                  "from a file edited by hand or joined with another")

    return skipped


def _failing_usage(source: Iterator[UsageRecord], where: str | None) -> Iterator[UsageRecord]:
    try:
        yield from source
    except LedgerError as exc:
        raise fail_usage(str(exc), UNAVAILABLE, where) from None


def open_store(url: str) -> LimitStore:
    from ..limits.store_url import from_url

    local = url.removeprefix("sqlite:").removeprefix("//") if url.startswith("sqlite:") else None
    if local is not None and not Path(local).exists():
        raise fail_usage(f"store `{shown_url(url)}` does not exist", UNREADABLE, local)
    try:
        return from_url(url)
    except Exception as exc:  # noqa: BLE001 - any failure to open is a usage error, named
        raise fail_usage(f"cannot open store `{shown_url(url)}`: {redact(str(exc))}", UNAVAILABLE) from None


def policy_limits(path: Path) -> tuple[object, list[LimitSpec]]:
    """The compiled policy and its limits' specs."""
    from ..engine.compile import compile_policy

    compiled = compile_policy(load_policy(path))
    return compiled, [action.limit.spec for _, action in compiled.limits.values() if action.limit is not None]


def open_limits(store: str | None, policy: Path | None) -> tuple[list[LimitSpec], LimitStore | None]:
    """``--store`` and ``--policy`` go together (the store holds counters, the policy says
    which limits and windows they are)."""
    if (store is None) != (policy is None):
        raise fail_usage("--store and --policy go together: the policy names the limits the store counts")
    if store is None or policy is None:
        return [], None
    _, specs = policy_limits(policy)
    return specs, open_store(store)
