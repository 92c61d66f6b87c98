"""A ledger writer process for the crash tests: writes records through a Ledger from a few
threads and prints each request id once ``record`` returned (i.e. once it is durable)."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone

from aigw_policy.ledger import Ledger, make_record


def main() -> None:
    url, prefix, count, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ledger = Ledger(url, max_delay=0.001)
    lock = threading.Lock()
    t0 = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)

    def work(t: int) -> None:
        for i in range(count):
            rid = f"{prefix}-{t}-{i}"
            ledger.record(make_record(rid, time=t0, identity={"team": prefix}))
            with lock:
                sys.stdout.write(rid + "\n")
                sys.stdout.flush()

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    ledger.close()
    sys.stdout.write("DONE\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
