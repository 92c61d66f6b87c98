"""The ledger of a routed request: the serving attempt's provider and model, `aigw.attempts`
and `aigw.route.key_id` (never the secret), in every sink and through the reader; a table
made before these columns existed gets them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.ledger import Ledger, open_sink
from aigw_policy.ledger.reader import read_ledger

from ledger.conftest import ledger_url, pg_base, pg_url  # noqa: F401 - fixtures
from .test_routing_engine import ok, policy, request



def test_the_record_names_the_serving_attempt(ledger_url: str) -> None:  # noqa: F811
    ledger = Ledger(ledger_url)
    e = ap.Engine(policy(), ledger=ledger)
    e.evaluate(request(attempts=[{"status_code": 429}, {"status_code": 500}, ok("gpt-4o-mini")]))
    e.evaluate(request(id="r2", attempts=[{"error": "connect"}] * 4))
    ledger.close()
    got = {r.request_id: r.to_dict() for r in read_ledger(ledger_url)}
    served = got["r1"]
    assert served["gen_ai.request.model"] == "gpt-4o-mini" and served["gen_ai.provider.name"] == "openai"
    assert (served["aigw.attempts"], served["aigw.route.key_id"]) == (3, "ka")
    assert served["gen_ai.usage.input_tokens"] == 5 and served["gen_ai.usage.output_tokens"] == 7
    failed = got["r2"]
    assert (failed["aigw.attempts"], failed["aigw.route.key_id"], failed["http.response.status_code"]) == (4, None, 503)
    assert "secrets.get" not in repr(got)


def test_an_unrouted_record_has_no_attempts(tmp_path: Path) -> None:
    url = f"jsonl:{tmp_path / 'u.jsonl'}"
    ledger = Ledger(url)
    e = ap.Engine(ap.loads("on_http_request: []", format="yaml"), ledger=ledger)
    e.evaluate(request(response=ok("gpt-4o")))
    ledger.close()
    (rec,) = read_ledger(url)
    assert rec.attempts is None and rec.route_key_id is None


def test_an_older_sqlite_table_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sink = open_sink(f"sqlite:{path}")
    sink.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE aigw_usage DROP COLUMN attempts")
    db.execute("ALTER TABLE aigw_usage DROP COLUMN route_key_id")
    db.commit()
    db.close()
    ledger = Ledger(f"sqlite:{path}")
    ap.Engine(policy(), ledger=ledger).evaluate(request(attempts=[ok("gpt-4o")]))
    ledger.close()
    (rec,) = read_ledger(f"sqlite:{path}")
    assert (rec.attempts, rec.route_key_id) == (1, "ka")


@pytest.mark.usefixtures("pg_base")
def test_an_older_postgresql_table_gets_the_new_columns(pg_url: str) -> None:  # noqa: F811
    import psycopg

    open_sink(pg_url).close()
    base, table = pg_url.split("?table=")
    with psycopg.connect(base) as db:
        db.execute(f'ALTER TABLE {table} DROP COLUMN attempts, DROP COLUMN route_key_id')
    ledger = Ledger(pg_url)
    ap.Engine(policy(), ledger=ledger).evaluate(request(attempts=[{"status_code": 503}, ok("gpt-4o")]))
    ledger.close()
    (rec,) = read_ledger(pg_url)
    assert (rec.attempts, rec.route_key_id) == (2, "kb")
