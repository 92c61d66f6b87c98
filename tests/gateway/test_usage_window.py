"""GET /v1/aigw/usage does bounded work: without ``since`` it reads the current month only, it
reads at most MAX_RECORDS records (then its totals are exactly those before ``until``), and the
SQL ledgers read through their time index. Work is counted in records read, never timed."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw_policy.gateway import usage_api
from aigw_policy.gateway.usage_api import _usage_report, month_start
from aigw_policy.ledger import make_record, open_sink
from aigw_policy.ledger.reader import read_ledger
from aigw_policy.ledger.record import format_time
from aigw_policy.ledger.report import summarize
from aigw_policy.ledger.sinks import COLUMNS, select
from aigw_policy.providers import Usage

from ledger.conftest import pg_base, pg_url  # noqa: F401 - fixtures
from ledger.test_nats import nats_base, subject_url  # noqa: F401 - fixtures


def records(start: datetime, n: int, per_time: int = 1, prefix: str = "r") -> list[Any]:
    """``n`` records from ``start``, ``per_time`` of them at each microsecond."""
    return [make_record(f"{prefix}{i:05d}", time=start + timedelta(microseconds=i // per_time),
                        usage=Usage.of(10, i % 7, source="provider"), identity={"key": f"k{i % 3}"})
            for i in range(n)]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many records the endpoint takes from a local ledger, per answer."""
    seen: list[int] = []

    def counting(*args: Any, **kw: Any) -> Any:
        seen.append(0)
        for r in read_ledger(*args, **kw):
            seen[-1] += 1
            yield r

    monkeypatch.setattr(usage_api, "read_ledger", counting)
    return seen


def test_without_since_only_the_current_month_is_read(tmp_path: Path, counted: list[int]) -> None:
    now = datetime.now(timezone.utc)
    start = datetime.fromisoformat(month_start(now).replace("Z", "+00:00"))
    sink = open_sink(f"sqlite:{tmp_path / 'u.db'}")
    sink.write_batch(records(start - timedelta(days=40), 50, prefix="old") + records(start, 30))
    report = _usage_report(sink, ("key",), month_start(now))
    sink.close()
    assert report["since"] == month_start(now) and report["since"].endswith("-01T00:00:00.000000Z")
    assert report["records"] == 30 and report["records_truncated"] is False and report["until"] is None
    assert counted == [30]  # the 50 older records were never read


def test_at_most_max_records_are_read_and_the_cut_is_between_two_times(
        tmp_path: Path, counted: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_api, "MAX_RECORDS", 10)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    recs = records(start, 30, per_time=3)  # three records at each time: the 11th shares its time with 10th
    sink = open_sink(f"sqlite:{tmp_path / 'u.db'}")
    sink.write_batch(recs)
    report = _usage_report(sink, ("key",), format_time(start))
    sink.close()
    assert counted == [11]
    until = format_time(start + timedelta(microseconds=3))
    assert report["until"] == until and report["records_truncated"] is True and report["records"] == 9
    exact = summarize([r for r in recs if r.time < until], ("key",), format_time(start)).to_dict()
    assert report["rows"] == exact["rows"] and report["total"] == exact["total"]


def test_the_sqlite_read_uses_the_time_index(tmp_path: Path) -> None:
    open_sink(f"sqlite:{tmp_path / 'u.db'}").close()
    db = sqlite3.connect(tmp_path / "u.db")
    sql, args = select("aigw_usage", COLUMNS, "2026-12-01T00:00:00.000000Z", None, 11, "?")
    plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, args))
    db.close()
    assert "SEARCH aigw_usage USING INDEX aigw_usage_time (time>?)" in plan, plan


@pytest.mark.usefixtures("pg_base")
def test_postgresql_reads_a_window_a_page_at_a_time_through_the_index(pg_url: str) -> None:  # noqa: F811
    import psycopg

    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    sink = open_sink(pg_url)
    sink.write_batch(records(start - timedelta(days=3), 5, prefix="old") + records(start, 20))
    got = list(sink.read(format_time(start), None, 7))  # type: ignore[call-arg]
    assert [r.request_id for r in got] == [f"r{i:05d}" for i in range(7)]
    report = _usage_report(sink, ("key",), format_time(start))
    sink.close()
    assert report["records"] == 20 and report["until"] is None
    base, table = pg_url.split("?table=")
    with psycopg.connect(base) as db:
        db.execute("SET enable_seqscan = off")
        sql, args = select(table, COLUMNS, format_time(start), None, 7, "%s")
        plan = " ".join(row[0] for row in db.execute("EXPLAIN " + sql, args))
    assert f"{table}_time" in plan, plan


def test_served_without_since_answers_the_current_month(gateway: Any) -> None:
    r = httpx.get(gateway.url + "/v1/aigw/usage", headers={"authorization": "Bearer sk-gw-ops"}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["since"] == month_start(datetime.now(timezone.utc)) or body["since"] == month_start(
        datetime.now(timezone.utc) - timedelta(minutes=1))  # asked just as a month began
    assert body["records_truncated"] is False and body["records"] == body["total"]["requests"]


def test_a_record_at_the_cut_is_never_counted_twice() -> None:
    from aigw_policy.ledger.reader import Window

    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    recs = records(start, 12, per_time=4)
    for limit in range(0, 14):
        w = Window(iter(recs), limit)
        got = list(w)
        assert w.read <= limit + 1
        want = [r for r in recs if w.until is None or r.time < w.until]
        assert got == want and len(got) <= limit


def test_a_bad_group_is_told_the_groups_this_endpoint_takes(gateway: Any) -> None:
    for query in ("by=tema", "by=org"):
        r = httpx.get(gateway.url + f"/v1/aigw/usage?{query}", headers={"authorization": "Bearer sk-gw-ops"},
                      timeout=10)
        assert r.status_code == 400
        assert r.json()["error"]["message"].endswith("(use team, key, model, day)"), r.text


def test_a_nats_ledger_is_a_stream_not_a_ledger_to_query(subject_url: str, tmp_path: Path) -> None:  # noqa: F811
    """It was read whole (every message of the stream, up to ten minutes) on each question."""
    from aigw_policy.gateway import Gateway, load_keys

    from .conftest import POLICY, ServerThread

    (tmp_path / "policy.aigw").write_text(POLICY)
    (tmp_path / "keys.yaml").write_text("keys:\n  - key: sk-gw-ops\n    identity: {key: k-ops, team: ops}\n"
                                        "admin_keys: [k-ops]\n")
    app = Gateway(policy=tmp_path / "policy.aigw", upstream="http://127.0.0.1:9", keys=load_keys(tmp_path / "keys.yaml"),
                  store="memory:", ledger=subject_url, watch=0)
    with ServerThread(app) as gw:
        r = httpx.get(gw.url + "/v1/aigw/usage", headers={"authorization": "Bearer sk-gw-ops"}, timeout=10)
    assert r.status_code == 404 and r.json()["aigw"]["code"] == "no_ledger"


def test_a_jsonl_ledgers_lines_without_a_record_are_counted_in_the_answer(tmp_path: Path) -> None:
    """A torn line (a writer killed mid-line) is not counted in the totals; the answer says
    how many such lines the file holds, so a reader knows the totals leave them out."""
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    path = tmp_path / "u.jsonl"
    sink = open_sink(f"jsonl:{path}")
    sink.write_batch(records(start, 4))
    sink.close()
    clean = _usage_report(open_sink(f"jsonl:{path}"), ("key",), format_time(start))
    assert clean["skipped_lines"] == 0 and clean["records"] == 4
    with path.open("a") as f:
        f.write('5\n{"torn": ')
    report = _usage_report(open_sink(f"jsonl:{path}"), ("key",), format_time(start))
    assert report["skipped_lines"] == 2 and report["records"] == 4 and report["total"] == clean["total"]
