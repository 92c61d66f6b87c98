"""The memory store's basics, and that it is safe under threads."""

import threading

from aigw_policy.limits import Charge, LimitSpec, LimitStore
from aigw_policy.stores import MemoryStore

RPM = LimitSpec("rpm", "requests", "fixed_window", 5, 60)
TPM = LimitSpec("tpm", "tokens", "sliding_window", 1000, 60)


def test_is_a_limit_store():
    assert isinstance(MemoryStore(), LimitStore)


def test_all_or_nothing_and_idempotent():
    s = MemoryStore()
    assert [o.outcome for o in s.reserve("a", [Charge(RPM, "k", 1), Charge(TPM, "k", 900)], 0)] \
        == ["ok", "ok"]
    denied = s.reserve("b", [Charge(RPM, "k", 1), Charge(TPM, "k", 200)], 1)
    assert [o.outcome for o in denied] == ["ok", "limited"]
    assert s.reserve("b", [Charge(RPM, "k", 1), Charge(TPM, "k", 200)], 1) == denied
    assert s.check([Charge(RPM, "k", 0)], 2)[0].used == 1  # b consumed nothing
    assert s.reserve("a", [Charge(RPM, "k", 1), Charge(TPM, "k", 900)], 3)[0].used == 1
    s.reconcile("a", {"tpm": 100}, 4)
    s.reconcile("a", {"tpm": 100}, 4)
    assert s.check([Charge(TPM, "k", 0)], 4)[0].used == 100
    s.release("a", 5)  # after reconcile: no-op
    assert s.check([Charge(TPM, "k", 0)], 5)[0].used == 100


def test_threads_never_overshoot():
    s = MemoryStore(timeout=5)
    spec = LimitSpec("cap", "requests", "fixed_window", 500, 3600)
    admitted = []

    def work(t):
        n = 0
        for i in range(200):
            if s.reserve(f"{t}-{i}", [Charge(spec, "", 1)], 10.0)[0].outcome != "limited":
                n += 1
        admitted.append(n)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 500
