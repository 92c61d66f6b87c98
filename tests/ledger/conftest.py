from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_URL = os.environ.get("AIGW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_URL} is unreachable: {str(exc).strip()[:120]}"
    return None


@pytest.fixture(scope="session")
def pg_base() -> str:
    reason = _pg_reachable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def pg_url(pg_base: str) -> Iterator[str]:
    """A PostgreSQL ledger URL with a fresh table, dropped afterwards."""
    import psycopg

    table = f"aigw_test_{uuid.uuid4().hex[:12]}"
    yield f"{pg_base}?table={table}"
    with psycopg.connect(pg_base) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture(params=["sqlite", "jsonl", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'usage.db'}"
    if request.param == "jsonl":
        return f"jsonl:{tmp_path / 'usage.jsonl'}"
    return request.getfixturevalue("pg_url")
