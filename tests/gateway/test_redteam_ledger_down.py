"""serve23: a ledger that cannot take a request's intent is a 503 the client may retry.

SPEC: a request is not forwarded without a durable ``pending`` intent. When the ledger could
not write it (its sink failing, stalled past ``write_timeout``, its queue full), the request
was answered like a bug of the gateway's: 500 ``gateway_error``, with a traceback in the
operator's log. It is the gateway's dependency that is down, not its code: now 503
``ledger_unavailable`` with ``Retry-After: 1`` (the SDKs retry a 503, and wait what it says),
one log line without a traceback, the upstream never reached, and the next request served once
the ledger is back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from aigw_policy.ledger import Ledger, LedgerError, UsageRecord

from .conftest import ServerThread

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


class SwitchedSink:
    """A sink that fails every write while ``down``."""

    url = "switched:"

    def __init__(self) -> None:
        self.down = False
        self.written: list[str] = []

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        if self.down:
            raise LedgerError("switched sink: connection refused (host db.internal)")
        self.written += [r.request_id for r in records]

    def read(self, since: str | None = None) -> Iterator[UsageRecord]:
        return iter(())

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def gw(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    d = tmp_path_factory.mktemp("ledger-down")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    sink = SwitchedSink()
    app = Gateway(policy=d / "policy.yaml", upstream=stub.url, watch=0, ledger=Ledger(sink))
    with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
        server.sink = sink  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_a_ledger_that_fails_is_a_503_to_retry_and_the_upstream_never_hears(
        gw: Any, stub: Any, caplog: pytest.LogCaptureFixture, stream: bool) -> None:
    before = len(stub.app.seen)
    gw.sink.down = True
    try:
        with caplog.at_level(logging.INFO, logger="aigw_policy"):
            r = httpx.post(f"{gw.url}/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=30)
    finally:
        gw.sink.down = False
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    body = r.json()
    assert body["error"]["code"] == "ledger_unavailable"
    assert "db.internal" not in r.text and "switched" not in r.text
    assert len(stub.app.seen) == before
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"
    assert any("ledger" in rec.getMessage() and r.headers["x-request-id"] in rec.getMessage()
               for rec in caplog.records)
    decisions = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name.endswith("decisions")]
    assert [(d["http.response.status_code"], d["aigw.verdict"]) for d in decisions] == [(503, "error")]
    again = httpx.post(f"{gw.url}/v1/chat/completions", json=CHAT, timeout=30)
    assert again.status_code == 200 and len(stub.app.seen) == before + 1


class StuckSink(SwitchedSink):
    """A sink whose writes block while ``stuck`` is clear... until ``go`` is set."""

    def __init__(self) -> None:
        import threading

        super().__init__()
        self.go = threading.Event()
        self.go.set()

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        self.go.wait()
        super().write_batch(records)

    def close(self) -> None:
        self.go.set()


def test_a_stalled_ledger_fails_requests_at_once_not_each_after_its_own_wait(
        stub: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    """serve25: behind one stuck write (a locked table) each request waited the ledger's full
    ``write_timeout`` (10 s) for its own 503. Once one has waited it out, the next fail at once
    (their log line says the sink is stalled, not that their own wait ran out), none reaches
    the upstream, and the first request after the sink answers is served."""
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    (tmp_path / "policy.yaml").write_text("on_http_request: []\n")
    sink = StuckSink()
    ledger = Ledger(sink, write_timeout=0.3)
    app = Gateway(policy=tmp_path / "policy.yaml", upstream=stub.url, watch=0, ledger=ledger)
    with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
        assert httpx.post(f"{gw.url}/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
        before = len(stub.app.seen)
        sink.go.clear()
        try:
            with caplog.at_level(logging.INFO, logger="aigw_policy"):
                answers = [httpx.post(f"{gw.url}/v1/chat/completions", json=CHAT, timeout=30) for _ in range(5)]
        finally:
            sink.go.set()
        assert [a.status_code for a in answers] == [503] * 5
        assert {a.json()["error"]["code"] for a in answers} == {"ledger_unavailable"}
        lines = [r.getMessage() for r in caplog.records if "usage ledger failed" in r.getMessage()]
        waited = [line for line in lines if "durable within" in line]
        assert len(lines) == 5 and len(waited) == 1, lines
        assert len(stub.app.seen) == before
        while ledger.stalled:  # the stuck write lands: the sink answers again
            sink.go.wait(0.01)
        assert httpx.post(f"{gw.url}/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
