"""Ledger sinks against real SQLite, JSONL files and PostgreSQL: round trips, idempotence,
concurrent writers, and a writer killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aigw_policy.ledger import FIELDS, Ledger, LedgerError, UsageRecord, make_record, open_sink
from aigw_policy.providers import PriceBook, classify, extract_usage

T0 = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
WRITER = Path(__file__).with_name("writer_proc.py")


def _record(rid: str = "req-1") -> UsageRecord:
    ai = classify({"url": "https://api.anthropic.com/v1/messages",
                   "body": {"model": "claude-sonnet-4-20250514", "max_tokens": 100, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}})
    usage = extract_usage(ai, {"status_code": 200, "body": {"model": "claude-sonnet-4-20250514", "usage": {
        "input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 7}}})
    cost = PriceBook().cost(ai.provider, usage.model, usage, at=T0)
    return make_record(rid, time=T0, ai=ai, usage=usage, cost=cost,
                       identity={"key": "k1", "user": "alice", "team": "research", "org": "acme"},
                       verdict="allow", status_code=200, rule=None,
                       limits=[{"name": "team-tpm", "outcome": "ok", "used": 122}], latency_ms=12.5)


def test_record_uses_otel_names() -> None:
    d = _record().to_dict()
    assert d["gen_ai.provider.name"] == "anthropic"
    assert d["gen_ai.operation.name"] == "chat" and d["aigw.operation"] == "messages"
    assert d["gen_ai.request.model"] == "claude-sonnet-4-20250514"
    assert (d["gen_ai.usage.input_tokens"], d["gen_ai.usage.output_tokens"]) == (115, 7)
    assert d["gen_ai.usage.cache_read.input_tokens"] == 100
    assert d["gen_ai.usage.cache_creation.input_tokens"] == 5
    assert d["aigw.identity.team"] == "research" and d["aigw.request.id"] == "req-1"
    assert d["aigw.cost_usd"] > 0 and d["aigw.usage.source"] == "provider"
    assert d["aigw.limits"] == [{"name": "team-tpm", "outcome": "ok", "used": 122}]
    assert set(d) == set(FIELDS.values())
    assert UsageRecord.from_dict(d) == _record()


def test_unknown_price_is_recorded_as_null_not_zero() -> None:
    ai = classify({"url": "http://localhost:11434/api/chat", "body": {"model": "llama3.2", "messages": []}})
    usage = extract_usage(ai, {"status_code": 200, "body": {"prompt_eval_count": 3, "eval_count": 4, "done": True}})
    rec = make_record("r", time=T0, ai=ai, usage=usage, cost=PriceBook().cost(ai.provider, ai.model, usage))
    assert rec.cost_usd is None and rec.cost_source == "unknown"


def test_round_trip_and_idempotent(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        ledger.record(_record("a"))
        ledger.record(_record("a"))  # a retry: still one record
        ledger.record_many([_record("b"), _record("c")])
    sink = open_sink(ledger_url)
    try:
        got = list(sink.read())
        assert [r.request_id for r in got] == ["a", "b", "c"]
        assert got[0] == _record("a")
        assert [r.request_id for r in sink.read(since="2026-11-27")] == []
    finally:
        sink.close()


def test_concurrent_threads_group_commit(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):
                ledger.record(_record(f"t{t}-{i}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ledger.close()
    assert not errors
    sink = open_sink(ledger_url)
    ids = Counter(r.request_id for r in sink.read())
    sink.close()
    assert len(ids) == 200 and set(ids.values()) == {1}


def test_async_record(tmp_path) -> None:
    import asyncio

    with Ledger(f"sqlite:{tmp_path / 'a.db'}") as ledger:
        asyncio.run(ledger.arecord(_record("x")))
        assert [r.request_id for r in ledger.sink.read()] == ["x"]


def test_failed_write_is_reported_to_the_caller(tmp_path) -> None:
    class Broken:
        url = "broken:"

        def write_batch(self, records):  # noqa: ANN001
            raise OSError("disk full")

        def read(self, since=None):  # noqa: ANN001
            return iter(())

        def close(self) -> None:
            pass

    with Ledger(Broken()) as ledger, pytest.raises(LedgerError, match="disk full"):
        ledger.record(_record())


@pytest.mark.parametrize("url", ["nope", "ftp://x", "sqlite:"])
def test_bad_urls_are_clear_errors(url: str) -> None:
    with pytest.raises(LedgerError):
        open_sink(url)


def _spawn(url: str, prefix: str, count: int, threads: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(WRITER), url, prefix, str(count), str(threads)],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_writers_and_a_sigkilled_writer_lose_nothing(ledger_url: str) -> None:
    """N concurrent writer processes; one is SIGKILLed mid-run. Every record whose write
    returned (printed by the writer) is present exactly once; nothing is duplicated."""
    survivors = [_spawn(ledger_url, f"w{n}", 40, 3) for n in range(3)]
    victim = _spawn(ledger_url, "victim", 100_000, 4)
    acknowledged: list[str] = []
    assert victim.stdout is not None
    for line in victim.stdout:  # let it commit some records, then kill it mid-run
        acknowledged.append(line.strip())
        if len(acknowledged) >= 60:
            break
    os.kill(victim.pid, signal.SIGKILL)
    rest, _ = victim.communicate(timeout=30)
    acknowledged += [x for x in rest.split() if x and x != "DONE"]
    assert victim.returncode == -signal.SIGKILL
    assert "DONE" not in rest
    for proc in survivors:
        out, _ = proc.communicate(timeout=120)
        lines = out.split()
        assert lines[-1] == "DONE" and proc.returncode == 0
        acknowledged += lines[:-1]

    sink = open_sink(ledger_url)
    counts = Counter(r.request_id for r in sink.read())
    sink.close()
    assert len(acknowledged) == len(set(acknowledged))
    assert sum(1 for a in acknowledged if not a.startswith("victim")) == 3 * 40 * 3
    missing = [a for a in acknowledged if counts[a] != 1]
    assert not missing, missing[:5]
    assert max(counts.values()) == 1
