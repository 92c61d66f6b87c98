"""A report reads a SQL ledger a page at a time: the memory a read holds does not grow with the
window (a PostgreSQL read held every row and every record at once). Measured by allocations
(tracemalloc's peak), not by time: reading ten times the rows must not take ten times the
memory."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

from aigw_policy.ledger import make_record
from aigw_policy.ledger.reader import PAGE, read_ledger
from aigw_policy.ledger.sinks import open_sink
from aigw_policy.providers import Usage

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _fill(url: str, n: int) -> None:
    sink = open_sink(url)
    try:
        sink.write_batch([make_record(f"r{i}", time=T0 + timedelta(seconds=i),
                                      usage=Usage.of(10, 5, source="provider", model="gpt-4o"),
                                      identity={"key": f"k{i % 7}", "team": "t"}) for i in range(n)])
    finally:
        sink.close()


def _peak(url: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_ledger(url))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("scheme", ["sqlite", "postgresql"])
def test_a_read_holds_a_page_not_the_window(scheme: str, tmp_path, request: pytest.FixtureRequest) -> None:
    peaks = []
    for n in (2 * PAGE, 20 * PAGE):
        url = f"sqlite:{tmp_path / f'{n}.db'}" if scheme == "sqlite" else request.getfixturevalue("pg_url") + f"_{n}"
        _fill(url, n)
        try:
            count, peak = _peak(url)
        finally:
            if scheme == "postgresql":
                import psycopg

                base, _, table = url.partition("?table=")
                with psycopg.connect(base) as db:
                    db.execute(f"DROP TABLE IF EXISTS {table}")
        assert count == n
        peaks.append(peak)
    assert peaks[1] < 3 * peaks[0], peaks


def test_the_html_report_reads_the_ledger_once_a_page_at_a_time(tmp_path) -> None:
    from aigw_policy.report.facts import gather

    peaks = []
    for n in (2 * PAGE, 20 * PAGE):
        url = f"sqlite:{tmp_path / f'{n}.db'}"
        _fill(url, n)
        tracemalloc.start()
        try:
            facts = gather(read_ledger(url), since=None, until=None, now=T0 + timedelta(days=1))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert facts.total.total.requests == n and sum(r.requests for r in facts.by_key.rows) == n
    assert peaks[1] < 3 * peaks[0], peaks
