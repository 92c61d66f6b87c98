"""A denied request's record keeps why (``aigw.reason``, short, no secrets) beside its rule, in
every sink and on the wire; the report and ``usage --shadow`` read it; a ledger written before
the column existed still reads, and reading it alters nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.ledger import Ledger, make_record, open_sink
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.ledger.record import REASON_CHARS, short_reason
from aigw_policy.ledger.usage_codec import decode, encode
from aigw_policy.report.facts import gather

from ledger.conftest import ledger_url, pg_base, pg_url  # noqa: F401 - fixtures

POLICY = ap.loads('''policy "r" {
  on request {
    rule "no-interns" {
      when identity.tier == "intern"
      deny 403 "gpt-4.1 is not for interns (you sent ${req.headers['authorization'][0]})"
    }
    rule "rpm" {
      rate-limit { name: "rpm", capacity: 1, rate: 1m, bucket_key: [identity.key] }
    }
  }
}''', "dsl")
SECRET = "sk-live-0123456789abcdefghijklmn"
NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


def request(rid: str, tier: str, key: str) -> dict[str, object]:
    return {"id": rid, "now": "2026-11-26T12:00:00Z", "identity": {"key": key, "team": "t", "tier": tier},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "headers": {"authorization": f"Bearer {SECRET}"},
                        "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}},
            "response": {"status_code": 200, "body": {"model": "gpt-4.1", "usage": {
                "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}}}


def record_three(url: str) -> dict[str, object]:
    ledger = Ledger(url)
    e = ap.Engine(POLICY, ledger=ledger)
    assert e.evaluate(request("r1", "intern", "k1")).verdict == "deny"
    assert e.evaluate(request("r2", "staff", "k2")).verdict == "allow"
    assert e.evaluate(request("r3", "staff", "k2")).status_code == 429
    ledger.close()
    return {r.request_id: r for r in read_ledger(url)}


def test_every_sink_keeps_the_reason_and_rule_of_a_denial(ledger_url: str) -> None:  # noqa: F811
    got = record_three(ledger_url)
    intern, allowed, limited = got["r1"], got["r2"], got["r3"]
    assert (intern.rule, intern.status_code) == ("no-interns", 403)
    assert intern.reason == "gpt-4.1 is not for interns (you sent ***)"
    assert SECRET not in str(intern.to_dict())
    assert limited.rule == "rpm" and limited.reason is not None and limited.reason.startswith("limit rpm: 1 of 1")
    assert allowed.reason is None and allowed.to_dict()["aigw.reason"] is None
    for rec in (intern, allowed, limited):
        for fmt in ("protobuf", "json"):
            assert decode(encode(rec, fmt), fmt) == rec


def test_a_reason_is_one_short_line() -> None:
    long = "why " * 200 + "\nline two"
    kept = short_reason(long)
    assert kept is not None and len(kept) == REASON_CHARS and "\n" not in kept and kept.endswith("\u2026")
    assert short_reason("model gpt-4.1-2025-04-14 is not allowed") == "model gpt-4.1-2025-04-14 is not allowed"
    rec = make_record("r", time=NOW, verdict="deny", status_code=403, reason=long,
                      would_deny={"status": 403, "reason": long, "rule": "x"})
    assert rec.reason == kept and rec.to_dict()["aigw.would_deny"]["reason"] == kept
    assert make_record("a", time=NOW, verdict="allow", reason="no rule denied the request").reason is None


def test_the_report_counts_denials_by_their_recorded_reason() -> None:
    recs = [make_record("1", time=NOW, verdict="deny", status_code=403, rule="no-interns", reason="not for interns"),
            make_record("2", time=NOW, verdict="deny", status_code=403, rule="no-interns", reason="not for interns"),
            make_record("3", time=NOW, verdict="deny", status_code=403, rule="no-interns",
                        reason="not on weekends"),
            make_record("4", time=NOW, verdict="deny", status_code=418, rule="old")]  # a record from before
    facts = gather(recs, since=None, until=None, now=NOW)
    assert facts.denials == [("no-interns", "not for interns", 2), ("no-interns", "not on weekends", 1),
                             ("old", "denied with status 418", 1)]


def _old_sqlite(path: Path) -> None:
    """A ledger table as written before ``would_deny`` and ``reason`` existed, with one record."""
    open_sink(f"sqlite:{path}").close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE aigw_usage DROP COLUMN reason")
    db.execute("ALTER TABLE aigw_usage DROP COLUMN would_deny")
    db.execute("INSERT INTO aigw_usage (request_id, time, stream, input_tokens, output_tokens, cached_input_tokens, "
               "cache_creation_input_tokens, reasoning_tokens, total_tokens, usage_source, cost_source, verdict, "
               "status_code, rule, limits) VALUES ('old-1', '2026-11-26T12:00:00.000000Z', 0, 0, 0, 0, 0, 0, 0, "
               "'none', 'not_forwarded', 'deny', 403, 'no-interns', '[]')")
    db.commit()
    db.close()


def _columns(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {row[1] for row in db.execute("PRAGMA table_info(aigw_usage)")}
    finally:
        db.close()


def test_an_older_sqlite_ledger_reads_and_is_not_altered(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_sqlite(path)
    (old,) = read_ledger(f"sqlite:{path}")
    assert (old.request_id, old.rule, old.reason, old.would_deny) == ("old-1", "no-interns", None, None)
    assert not {"reason", "would_deny"} & _columns(path)  # a read changed nothing
    open_sink(f"sqlite:{path}").close()  # a writer migrates
    assert {"reason", "would_deny"} <= _columns(path)


@pytest.mark.usefixtures("pg_base")
def test_an_older_postgresql_ledger_reads_then_gets_the_column(pg_url: str) -> None:  # noqa: F811
    import psycopg

    open_sink(pg_url).close()
    base, table = pg_url.split("?table=")
    with psycopg.connect(base) as db:
        db.execute(f"ALTER TABLE {table} DROP COLUMN reason")
        db.execute(f"INSERT INTO {table} (request_id, time, stream, input_tokens, output_tokens, "
                   "cached_input_tokens, cache_creation_input_tokens, reasoning_tokens, total_tokens, usage_source, "
                   "cost_source, verdict, status_code, rule, limits) VALUES ('old-1', '2026-11-26T12:00:00.000000Z', "
                   "false, 0, 0, 0, 0, 0, 0, 'none', 'not_forwarded', 'deny', 403, 'no-interns', '[]')")
    (old,) = read_ledger(pg_url)
    assert (old.request_id, old.rule, old.reason) == ("old-1", "no-interns", None)
    got = record_three(pg_url)  # the writer adds the column, then keeps reasons
    assert got["r1"].reason == "gpt-4.1 is not for interns (you sent ***)" and got["old-1"].reason is None
