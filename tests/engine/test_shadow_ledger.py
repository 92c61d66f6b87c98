"""``would_deny`` in the ledger: every sink and the reader, the NATS codecs, and a table made
before the column existed gets it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.ledger import Ledger, open_sink
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.ledger.usage_codec import decode, encode

from ledger.conftest import ledger_url, pg_base, pg_url  # noqa: F401 - fixtures

POLICY = ap.loads('''policy "s" {
  on request {
    rule "no-big" {
      mode shadow
      when ai.model == "gpt-4.1"
      deny 451 "no gpt-4.1"
    }
  }
}''', "dsl")
WOULD = {"status": 451, "reason": "no gpt-4.1", "rule": "no-big"}


def request(rid: str, model: str) -> dict[str, object]:
    return {"id": rid, "now": "2026-11-26T12:00:00Z", "identity": {"key": "k1", "team": "t"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}},
            "response": {"status_code": 200, "body": {"model": model, "usage": {
                "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}}}


def record_two(url: str) -> dict[str, object]:
    ledger = Ledger(url)
    e = ap.Engine(POLICY, ledger=ledger)
    assert e.evaluate(request("r1", "gpt-4.1")).verdict == "allow"
    e.evaluate(request("r2", "gpt-4o"))
    ledger.close()
    return {r.request_id: r for r in read_ledger(url)}


def test_every_sink_keeps_would_deny(ledger_url: str) -> None:  # noqa: F811
    got = record_two(ledger_url)
    assert got["r1"].to_dict()["aigw.would_deny"] == WOULD and got["r1"].verdict == "allow"
    assert got["r2"].would_deny is None and got["r2"].to_dict()["aigw.would_deny"] is None
    for fmt in ("protobuf", "json"):
        assert decode(encode(got["r1"], fmt), fmt) == got["r1"]
        assert decode(encode(got["r2"], fmt), fmt) == got["r2"]


def test_an_older_sqlite_table_gets_would_deny(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    open_sink(f"sqlite:{path}").close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE aigw_usage DROP COLUMN would_deny")
    db.commit()
    db.close()
    assert record_two(f"sqlite:{path}")["r1"].to_dict()["aigw.would_deny"] == WOULD


@pytest.mark.usefixtures("pg_base")
def test_an_older_postgresql_table_gets_would_deny(pg_url: str) -> None:  # noqa: F811
    import psycopg

    open_sink(pg_url).close()
    base, table = pg_url.split("?table=")
    with psycopg.connect(base) as db:
        db.execute(f"ALTER TABLE {table} DROP COLUMN would_deny")
    assert record_two(pg_url)["r1"].to_dict()["aigw.would_deny"] == WOULD
