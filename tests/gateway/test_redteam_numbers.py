"""serve20: a number a client writes is ASCII digits, or it is no number.

``str.isdigit`` and ``\\d`` take any Unicode digit: ``Content-Length: ²`` (a Latin-1
superscript, which a header's bytes can carry) passed ``isdigit`` and then ``int()`` raised,
a 500 ``gateway_error`` with a traceback in the log for a request an embedder's server handed
on; ``/v1/aigw/usage?since=٣d`` (Arabic-Indic three) read as three days. llhttp refuses such a
``Content-Length`` before the app, so ``serve`` itself never met it; ``PolicyMiddleware`` runs
under any ASGI server.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware
from aigw_policy.ledger.report import ReportError, parse_since

from .stub import StubUpstream

BODY = b'{"model": "gpt-4o", "messages": []}'


def _call(app: Any, length: bytes) -> list[dict[str, Any]]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"",
             "headers": [(b"host", b"gw"), (b"content-type", b"application/json"), (b"content-length", length)],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


@pytest.mark.parametrize("length", ["\u00b2", "\u00b3\u00b9", "\u00b9" * 30])
def test_a_content_length_of_other_digits_is_no_length(tmp_path: Path, length: str) -> None:
    (tmp_path / "p.aigw").write_text('policy "n" { default allow }')
    app = PolicyMiddleware(StubUpstream(), ap.Engine(ap.load(tmp_path / "p.aigw")))
    sent = _call(app, length.encode("latin-1"))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] != 500, sent


NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


@pytest.mark.parametrize("since", ["\u0663d", "\uff17d", "\u0967h", "\U0001d7d5w"])
def test_since_of_other_digits_is_refused(since: str) -> None:
    with pytest.raises(ReportError):
        parse_since(since, NOW, "since")


def test_since_of_ascii_digits_is_read() -> None:
    assert parse_since("3d", NOW, "since") == "2026-12-03T00:00:00.000000Z"
