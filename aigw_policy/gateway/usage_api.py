"""The gateway's own read-only endpoints (SPEC section 14): what's left for me, and where the tokens went.

- ``GET /v1/aigw/limits``: every limit that applies to the calling key (name, rule, type, key,
  unit, used, limit, remaining, reset_after, reset_at (RFC 3339), outcome, enforce, applies),
  read with :func:`~aigw_policy.engine.limit_view.limits_for` from the store that enforces and
  charging nothing, so it agrees with the next decision.
- ``GET /v1/aigw/usage?by=team,key,model,day&since=7d``: totals from the ledger, for the keys the
  keys file lists in ``admin_keys`` only (any other key: 403); at most :data:`MAX_ROWS` groups,
  biggest first (``truncated`` says when more exist). Keys are named by ``identity.key``, never
  by their secret. Bounded work: without ``since`` the window is the current month (UTC); at
  most :data:`MAX_RECORDS` records are read, in time order from ``since`` (an SQL ledger reads
  them through its time index, a page at a time); when the window holds more, the totals are
  those of ``since <= time < until`` and ``records_truncated`` says so.

Both authenticate exactly as proxied requests do (the same code): an unknown key is a 401 in the
provider's error shape, with the ``aigw`` object. Without authentication (no keys file, no
identity hook) there is no calling key: 401. Every answer says ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from ..engine.limit_view import limits_for
from ..env.activation import format_now
from ..ledger.reader import Window, read_ledger
from ..ledger.record import format_time
from ..ledger.report import ReportError, parse_by, parse_since, summarize
from ..ledger.sinks import READABLE, JsonlSink, LedgerError, SqliteSink
from ..limits.model import StoreUnavailable
from .errors import STORE_UNAVAILABLE

__all__ = ["LIMITS_PATH", "MAX_RECORDS", "MAX_ROWS", "USAGE_BY", "USAGE_PATH", "answer", "handles", "month_start"]

_log = logging.getLogger(__name__)
LIMITS_PATH = "/v1/aigw/limits"
USAGE_PATH = "/v1/aigw/usage"
MAX_ROWS = 1000
"""The most groups ``/v1/aigw/usage`` returns (biggest total_tokens first)."""
MAX_RECORDS = 200_000
"""The most ledger records one ``/v1/aigw/usage`` answer reads (a narrower ``since`` reads fewer)."""
USAGE_BY = ("team", "key", "model", "day")
"""What ``by=`` may group on (comma-separated, in order)."""


def handles(exchange: Any) -> bool:
    """Whether ``exchange`` asks for one of these endpoints (its canonical path)."""
    return exchange.path_error is None and exchange.failed is None \
        and exchange.scope["path"] in (LIMITS_PATH, USAGE_PATH)


async def answer(exchange: Any) -> None:
    """Authenticate the caller as for a proxied request, then answer the endpoint. Every
    answer, refusals and failures included, carries ``Cache-Control: no-store``: a 401 or 403
    cached by a proxy in front would be served to the next caller of that URL, whatever its key
    (called by ``Exchange.run``: each request is logged and counted as every other is)."""
    exchange.send = _no_store(exchange.send)
    if exchange.scope.get("method") != "GET":
        await exchange._answer(405, f"{exchange.scope['path']} answers GET only", None,
                               [(b"allow", b"GET")], code="method_not_allowed")
        return
    query = exchange.scope.get("query_string", b"")
    identity = await exchange._identify(query)
    if identity is None:
        return
    exchange.event["identity"] = identity
    if not exchange.mw.authenticates:
        await exchange._answer(401, "the gateway does not authenticate callers, so there is no calling key "
                               "(give `serve` a keys file)", None, code="unauthenticated")
        return
    params: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in params:  # `since=7d&since=1d`: which one counts is no client's guess to make
            named = f"`{name}`" if name in ("by", "since", "key") else "a parameter"  # (never echo a secret)
            await exchange._answer(400, f"the query names {named} twice", None, code="invalid_query")
            return
        params[name] = value
    if exchange.scope["path"] == LIMITS_PATH:
        await _limits(exchange, identity)
    else:
        await _usage(exchange, identity, params)


async def _limits(exchange: Any, identity: Any) -> None:
    engine = exchange.engine
    now = time.time()
    try:
        views = await asyncio.to_thread(limits_for, engine.compiled, engine.store, identity, now)
    except StoreUnavailable:
        await exchange._answer(503, STORE_UNAVAILABLE, None, code="store_unavailable")
        return
    await _json(exchange, {"key": identity.get("key"), "now": format_now(now),
                           "limits": [v.to_dict() for v in views]})


async def _usage(exchange: Any, identity: Any, params: dict[str, str]) -> None:
    keys = exchange.mw.keys
    if keys is None or not keys.is_admin(identity):
        await exchange._answer(403, "usage across keys is for admin keys only (`admin_keys` in the keys file); "
                               f"GET {LIMITS_PATH} shows your own limits", None, code="not_an_admin_key")
        return
    unknown = sorted(set(params) - {"by", "since"})
    try:
        if unknown:
            raise ReportError(f"unknown query parameter `{unknown[0]}` (use `by` and `since`)")
        asked = [k.strip() for k in (params.get("by") or "key").split(",") if k.strip()]
        wrong = [k for k in asked if k not in USAGE_BY]
        if wrong:  # before parse_by, whose message would offer the command line's groups
            raise ReportError(f"unknown group `{wrong[0]}` (use {', '.join(USAGE_BY)})")
        if len(set(asked)) < len(asked):  # each group once: `by=team,team,...` would widen every row's key
            raise ReportError(f"`by` names a group twice (use each of {', '.join(USAGE_BY)} at most once)")
        by = parse_by(",".join(asked))
        now = datetime.now(timezone.utc)
        since = _since(params.get("since"), now) or month_start(now)
    except ReportError as error:
        await exchange._answer(400, str(error), None, code="invalid_query")
        return
    sink = getattr(exchange.engine.ledger, "sink", None)
    if not isinstance(sink, READABLE):
        await exchange._answer(404, "this gateway keeps no ledger it can read (`serve --ledger` sqlite:, "
                               "jsonl: or postgresql://)", None, code="no_ledger")
        return
    try:
        report = await asyncio.to_thread(_usage_report, sink, by, since)
    except LedgerError as error:  # its text may name a host: the client learns only that it failed
        _log.warning("%s: %s", USAGE_PATH, error)
        await exchange._answer(503, "the ledger could not be read; try again later", None,
                               code="ledger_unavailable")
        return
    await _json(exchange, report)


def _since(text: str | None, now: datetime) -> str | None:
    """``since`` as :func:`~aigw_policy.ledger.report.parse_since` reads it (a count of days
    no date can be that far back is a bad ``since`` there too)."""
    return parse_since(text, now, "since")


def month_start(now: datetime) -> str:
    """The first instant of ``now``'s month, UTC: ``/v1/aigw/usage``'s window without ``since``."""
    return format_time(now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0))


def _usage_report(sink: Any, by: tuple[str, ...], since: str) -> dict[str, Any]:
    """The totals of at most :data:`MAX_RECORDS` records from ``since`` on (see the module)."""
    # a file is read on a read-only connection of its own, beside the writer; PostgreSQL (and
    # an in-memory SQLite) by the sink, which reads on a connection of its own too
    on_file = isinstance(sink, JsonlSink) or (isinstance(sink, SqliteSink) and sink.path != ":memory:")
    skipped: list[int] = []  # a JSONL ledger's lines that hold no record (a torn line): not counted
    source = (read_ledger(sink.url, since, None, MAX_RECORDS + 1, skipped=lambda n, _line, _why: skipped.append(n))
              if on_file else sink.read(since, None, MAX_RECORDS + 1))
    window = Window(source, MAX_RECORDS)
    report = summarize(window, by, since).to_dict()
    report["until"] = window.until
    report["records"] = report["total"]["requests"]
    report["records_truncated"] = window.until is not None
    report["skipped_lines"] = sum(skipped)
    rows = report["rows"]
    report["truncated"] = len(rows) > MAX_ROWS
    report["rows"] = rows[:MAX_ROWS]
    return report


async def _json(exchange: Any, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    exchange.event.update(verdict="allow", status_code=200)
    await exchange._send_whole(200, [(b"content-type", b"application/json"),
                                     (b"content-length", str(len(data)).encode())], data)


def _no_store(send: Any) -> Any:
    """``send`` with ``Cache-Control: no-store`` in place of any ``Cache-Control`` of an answer's head."""
    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"cache-control"]
            message = {**message, "headers": [*kept, (b"cache-control", b"no-store")]}
        await send(message)

    return sending
