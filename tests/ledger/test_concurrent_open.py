"""Many processes opening one new SQLite ledger and one new SQLite limit store at the same
moment (a fleet of gateway workers starting together): every one opens, none sees
"database is locked", and every write lands."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime, timezone

from aigw_policy.limits import StoreUnavailable

PROCS = 12


def _open_and_write(args) -> str:
    kind, path, n, gate = args
    from aigw_policy.ledger import Ledger, make_record
    from aigw_policy.limits import Charge, LimitSpec
    from aigw_policy.stores import SQLiteStore

    spec = LimitSpec("cap", "requests", "fixed_window", 10**6, 3600)
    gate.wait()  # everything imported: the opens really start together
    try:
        if kind == "ledger":
            with Ledger(f"sqlite:{path}") as ledger:
                ledger.record(make_record(f"p{n}", time=datetime(2026, 11, 26, tzinfo=timezone.utc)))
        else:
            store = SQLiteStore(path)  # the default (short) timeout of every later call
            for _ in range(50):  # the store's steps wait for the lock, bounded by its timeout
                try:
                    store.reserve(f"p{n}", [Charge(spec, "k", 1)], 1_780_000_000.0)
                    break
                except StoreUnavailable:
                    continue
            store.close()
    except Exception as error:  # noqa: BLE001 - reported to the parent
        return f"{type(error).__name__}: {error}"
    return "ok"


def _burst(kind: str, path: str) -> list[str]:
    ctx = mp.get_context("spawn")  # fresh interpreters, as separate workers would be
    with ctx.Manager() as manager:
        gate = manager.Barrier(PROCS)
        with ctx.Pool(PROCS) as pool:
            return pool.map(_open_and_write, [(kind, path, n, gate) for n in range(PROCS)])


def test_processes_opening_a_new_sqlite_ledger_at_once_all_succeed(tmp_path):
    path = tmp_path / "usage.db"
    assert _burst("ledger", str(path)) == ["ok"] * PROCS
    from aigw_policy.ledger import open_sink

    sink = open_sink(f"sqlite:{path}")
    assert sorted(r.request_id for r in sink.read()) == sorted(f"p{n}" for n in range(PROCS))
    sink.close()


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    path = tmp_path / "limits.db"
    assert _burst("store", str(path)) == ["ok"] * PROCS
    from aigw_policy.limits import Charge, LimitSpec
    from aigw_policy.stores import SQLiteStore

    spec = LimitSpec("cap", "requests", "fixed_window", 10**6, 3600)
    store = SQLiteStore(path)
    assert store.check([Charge(spec, "k", 0)], 1_780_000_000.0)[0].used == PROCS
    store.close()
