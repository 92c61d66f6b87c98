"""Failover under load. A graceful ``CLUSTER FAILOVER`` (the replica catches up before it takes
over) keeps admission exact; a primary killed with SIGKILL loses what it acknowledged and had not
yet copied to its replica (asynchronous replication): the overshoot is measured and must stay
under the bound docs/limits.md gives (what it acknowledged within its replication lag)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from aigw_policy.limits.model import Charge, LimitSpec, StoreUnavailable

from .conftest import make_cluster_store

WORKERS = 8
CAP = 120
LIMIT = LimitSpec("tenant", "requests", "fixed_window", CAP, 3600)
TENANTS = ["t-a", "t-b", "t-c", "t-d"]


def _owner(store, tenant: str) -> int:
    client = store._connect()
    return int(client.get_node_from_key("{" + store._proto.base + ":" + tenant + "}:pending").port)


def _burst(store, each: int, midway, admitted_at: list[tuple[float, str]] | None = None) -> tuple[Counter[str], int]:
    """WORKERS threads, ``each`` reserves apiece over TENANTS; ``midway()`` runs once a third
    of them are done. Returns admissions per tenant and the calls that failed; each admission's
    (monotonic time, tenant) goes to ``admitted_at`` when given."""
    won: Counter[str] = Counter()
    failed = [0]
    done = [0]
    lock = threading.Lock()
    fired = threading.Event()

    def work(w: int) -> None:
        for i in range(each):
            tenant = TENANTS[(w + i) % len(TENANTS)]
            try:
                out = store.reserve(uuid.uuid4().hex, [Charge(LIMIT, tenant, 1)], time.time())
            except StoreUnavailable:
                with lock:
                    failed[0] += 1
                return  # the store gave up for failover_wait: this caller stops
            with lock:
                done[0] += 1
                if out[0].outcome == "ok":
                    won[tenant] += 1
                    if admitted_at is not None:
                        admitted_at.append((time.monotonic(), tenant))
                go = done[0] >= WORKERS * each // 3 and not fired.is_set()
                if go:
                    fired.set()
            if go:
                midway()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, failed[0]


def _wait_role(cluster, port: int, role: str) -> None:
    deadline = time.monotonic() + 60
    while f"role:{role}" not in cluster.cli(port, "info", "replication"):
        assert time.monotonic() < deadline, f"{port} never became {role}"
        time.sleep(0.05)


def test_a_graceful_failover_mid_burst_keeps_admission_exact(cluster):
    store = make_cluster_store(cluster.seed, failover_wait=20.0)
    try:
        primary = _owner(store, TENANTS[0])
        replica = cluster.replica_of(primary)

        def failover() -> None:
            cluster.cli(replica, "cluster", "failover")
            _wait_role(cluster, replica, "master")

        won, failed = _burst(store, each=80, midway=failover)  # 160 offered per tenant
        assert "role:master" in cluster.cli(replica, "info", "replication")
        assert failed == 0
        assert won == {t: CAP for t in TENANTS}
    finally:
        cluster.wait_ok()
        store.clear()
        store.close()


LAG_BOUND_S = 2.0
"""What the replication link may hold back at the kill, at most (Redis replicates within a
millisecond when idle; a loaded 2-core machine was measured lagging hundreds of ms)."""


def test_sigkill_of_a_primary_overshoots_only_by_what_it_had_not_replicated(own_cluster):
    store = make_cluster_store(own_cluster.seed, failover_wait=30.0)
    try:
        primary = _owner(store, TENANTS[0])
        replica = own_cluster.replica_of(primary)
        admitted_at: list[tuple[float, str]] = []
        killed_at: list[float] = []

        def kill() -> None:
            killed_at.append(time.monotonic())
            own_cluster.kill(primary)

        won, failed = _burst(store, each=80, midway=kill, admitted_at=admitted_at)
        _wait_role(own_cluster, replica, "master")
        overshoot = {t: won[t] - CAP for t in TENANTS}
        print(f"SIGKILL overshoot per tenant: {overshoot}, failed calls: {failed}")
        for t in TENANTS:
            if _owner(store, t) != replica:
                assert overshoot[t] == 0, overshoot  # the other primaries' tenants lose nothing
                continue
            # lost: only admissions the dead primary acknowledged within the replication lag
            recent = sum(1 for at, tenant in admitted_at
                         if tenant == t and killed_at[0] - LAG_BOUND_S <= at <= killed_at[0])
            assert 0 <= overshoot[t] <= recent, (overshoot, recent)
    finally:
        store.close()
