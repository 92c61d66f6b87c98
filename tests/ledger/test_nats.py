"""Usage events on NATS JetStream (127.0.0.1:4222, ``AIGW_TEST_NATS``): the Protobuf schema
carries every field of the ledger record, the sink stores a batch published twice once, and
``ledger consume`` writes into PostgreSQL exactly once, a consumer killed mid-batch included."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aigw_policy.ledger import LedgerError, UsageRecord, open_sink
from aigw_policy.ledger.record import FIELDS, MAX_AMOUNT
from aigw_policy.ledger.usage_codec import PROTO_FIELDS, decode, encode

NATS_URL = os.environ.get("AIGW_TEST_NATS", "nats://127.0.0.1:4222")
N = 3000


def _nats_reason() -> str | None:
    try:
        import nats
    except ImportError:
        return "nats-py is not installed"

    async def ping() -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(ping())
    except Exception as exc:  # noqa: BLE001
        return f"NATS JetStream at {NATS_URL} is not usable: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def nats_base() -> str:
    reason = _nats_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: NATS tests must run)")
        pytest.skip(reason)
    return NATS_URL


@pytest.fixture
def subject_url(nats_base: str):
    """A ledger URL on a subject (and stream) of this test's own, deleted afterwards."""
    subject = f"aigw.test.{uuid.uuid4().hex[:10]}"
    yield f"{nats_base}/{subject}"

    async def drop() -> None:
        import nats

        nc = await nats.connect(nats_base)
        try:
            await nc.jetstream().delete_stream("AIGW_" + subject.replace(".", "_").upper())
        except Exception:  # noqa: BLE001 - a test that never opened the stream
            pass
        await nc.close()

    asyncio.run(drop())


def _records(n: int, prefix: str = "req") -> list[UsageRecord]:
    return [UsageRecord(f"{prefix}-{i}", f"2026-12-05T06:{i // 600 % 60:02d}:00.000000Z",
                        team=f"team-{i % 7}", input_tokens=i, output_tokens=2 * i,
                        total_tokens=3 * i, cost_usd=i / 1000, status_code=200)
            for i in range(n)]


# -- the schema ---------------------------------------------------------------------------


def test_the_schema_has_a_field_for_every_field_of_the_ledger_record():
    from aigw_policy.ledger import usage_pb2

    proto = set(usage_pb2.UsageRecord.DESCRIPTOR.fields_by_name)
    assert {PROTO_FIELDS[FIELDS[f.name]] for f in fields(UsageRecord)} <= proto
    assert {"attempts", "route_key_id"} <= proto
    assert set(PROTO_FIELDS.values()) == proto


_text = st.text(max_size=20)
_opt_text = st.none() | _text
_count = st.integers(min_value=0, max_value=2**53)


@given(st.builds(
    UsageRecord, request_id=st.text(min_size=1, max_size=30), time=st.just("2026-12-05T06:00:00.000000Z"),
    key=_opt_text, user=_opt_text, team=_opt_text, org=_opt_text, provider=_opt_text,
    request_model=_opt_text, max_output_tokens=st.none() | _count, stream=st.booleans(),
    input_tokens=_count, output_tokens=_count, reasoning_tokens=_count, usage_source=_text,
    cost_usd=st.none() | st.floats(-MAX_AMOUNT, MAX_AMOUNT), verdict=_text,
    status_code=st.none() | st.integers(100, 599), rule=_opt_text,
    limits=st.just('[{"name":"x","used":1}]'), latency_ms=st.none() | st.floats(0, 1e6)))
def test_a_record_survives_protobuf_and_json(record):
    assert decode(encode(record, "protobuf"), "protobuf") == record
    assert decode(encode(record, "json"), "json") == record


@pytest.mark.parametrize("body, fmt", [(b"\xff\xff", "protobuf"), (b"{", "json"), (b"[1]", "json"),
                                       (b"", "protobuf")])
def test_garbage_is_not_a_record(body, fmt):
    with pytest.raises(ValueError):
        decode(body, fmt)


@pytest.mark.parametrize("url, error", [
    ("nats://127.0.0.1:4222", "give one subject"),
    ("nats://127.0.0.1:4222/usage.>", "give one subject"),
    ("nats://127.0.0.1:4222/usage?format=xml", "format is protobuf or json"),
    ("nats://127.0.0.1:4222/usage?streem=X", "unknown option streem"),
])
def test_bad_nats_urls_say_what_is_wrong(url, error):
    with pytest.raises(LedgerError, match=error):
        open_sink(url)


# -- the sink ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_a_batch_published_twice_is_stored_once(subject_url, fmt):
    sink = open_sink(f"{subject_url}?format={fmt}")
    try:
        batch = _records(50)
        sink.write_batch(batch)
        sink.write_batch(batch)  # a retry after a lost acknowledgement
        pending = UsageRecord("req-x", "2026-12-05T06:00:00.000000Z", verdict="pending")
        sink.write_batch([pending, UsageRecord("req-x", "2026-12-05T06:00:01.000000Z", input_tokens=9)])
        stored = _stream_count(sink)
        assert stored == 52  # 50, and the intent and final record of req-x
        got = {r.request_id: r for r in sink.read()}
        assert len(got) == 51 and got["req-x"].input_tokens == 9 and got["req-7"] == batch[7]
    finally:
        sink.close()


def test_the_gateway_ledger_writes_to_jetstream(subject_url):
    """``serve --ledger nats://...``: the ledger's writer thread publishes and ``record``
    returns once JetStream has stored the record; ``usage`` reads the stream back."""
    from aigw_policy.ledger import Ledger

    records = _records(20, prefix="gw")
    with Ledger(subject_url) as ledger:
        ledger.record_many(records)
    sink = open_sink(subject_url)
    try:
        assert sorted(sink.read(), key=lambda r: r.input_tokens) == records
        assert _stream_count(sink) == 20
    finally:
        sink.close()


def _stream_count(sink) -> int:
    async def count() -> int:
        info = await sink._nc.jetstream().stream_info(sink.target.stream)
        return info.state.messages

    return sink._loop.run(count(), 10)


# -- the consumer ------------------------------------------------------------------------


def _pg_rows(pg_url: str) -> tuple[int, int, int]:
    import psycopg

    base, _, table = pg_url.partition("?table=")
    with psycopg.connect(base) as db:
        try:
            n, distinct, tokens = db.execute(
                f"SELECT count(*), count(DISTINCT request_id), coalesce(sum(input_tokens), 0) FROM {table}"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0, 0, 0
    return n, distinct, tokens


def test_a_crash_after_the_commit_before_the_ack_doubles_nothing(subject_url, pg_url):
    """The consumer dies right after writing its third batch (before acknowledging it): the
    next run gets that batch again, writes it again, and the ledger holds each record once."""
    from aigw_policy.ledger.consume import consume

    sink = open_sink(subject_url)
    sink.write_batch(_records(500))
    sink.close()

    class Crash(BaseException):
        pass

    into = open_sink(pg_url)
    writes = [0]
    real = into.write_batch

    def write_then_die(records):
        real(records)
        writes[0] += 1
        if writes[0] == 3:
            raise Crash

    into.write_batch = write_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        asyncio.run(consume(subject_url, into, durable="d", batch=100, ack_wait=1.0, idle_exit=2.0))
    assert _pg_rows(pg_url)[0] == 300
    into.write_batch = real  # type: ignore[method-assign]
    stats = asyncio.run(consume(subject_url, into, durable="d", batch=100, ack_wait=1.0, idle_exit=3.0))
    into.close()
    assert stats.redelivered == 100 and stats.written == 300
    assert _pg_rows(pg_url) == (500, 500, sum(range(500)))


def _consumer(subject_url: str, pg_url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aigw_policy.cli", "ledger", "consume", subject_url,
                             "--into", pg_url, "--batch", "50", "--ack-wait", "2", "--durable", "gw",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_consumer_killed_mid_run_loses_nothing_and_doubles_nothing(subject_url, pg_url):
    sink = open_sink(subject_url)
    records = _records(N)
    for i in range(0, N, 500):
        sink.write_batch(records[i:i + 500])
    sink.close()
    first = _consumer(subject_url, pg_url)
    give_up_at = time.monotonic() + 120
    while _pg_rows(pg_url)[0] < N // 4:
        assert first.poll() is None, first.stderr.read()
        assert time.monotonic() < give_up_at, "the consumer wrote nothing"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = _pg_rows(pg_url)[0]
    assert killed_at < N, "killed too late to prove anything"
    second = _consumer(subject_url, pg_url, "--idle-exit", "4")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert _pg_rows(pg_url) == (N, N, sum(r.input_tokens for r in records))
    assert "records written" in err


def test_consume_says_what_is_wrong_without_a_traceback(nats_base):
    out = subprocess.run([sys.executable, "-m", "aigw_policy.cli", "ledger", "consume",
                          "http://127.0.0.1:4222/x", "--into", "sqlite::memory:"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "nats://HOST:PORT/SUBJECT" in out.stderr
    assert "Traceback" not in out.stderr
