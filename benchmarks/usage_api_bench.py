"""What one ``GET /v1/aigw/usage`` (no ``since``) costs on a SQLite ledger, now against before.

    .venv/bin/python benchmarks/usage_api_bench.py [--n 60000] [--repeat 5]

The ledger holds ``--n`` records spread over three months, a third of them in the current one.
"before" is the endpoint's old work: every record of the ledger read at once through the
writer's connection (``sink.read()``), then summed by key. "now" is
:func:`aigw_policy.gateway.usage_api._usage_report`: the current month only, through the time
index, a page at a time. Both run in this process, interleaved, ``--repeat`` times; printed:
the medians of wall time (an untraced run) and of the peak Python heap (a tracemalloc run),
the records read, and the
ratios before/now. The machine is shared: read the ratios, and the load average printed with them.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from aigw_policy.gateway.usage_api import _usage_report, month_start
from aigw_policy.ledger import make_record, open_sink
from aigw_policy.ledger.report import summarize
from aigw_policy.providers import Usage


def fill(path: Path, n: int, now: datetime) -> Any:
    start = datetime.fromisoformat(month_start(now).replace("Z", "+00:00"))
    sink = open_sink(f"sqlite:{path}")
    batch = []
    for i in range(n):
        back = timedelta(days=40 + (i % 2) * 30) if i % 3 else timedelta(0)
        t = start - back + timedelta(seconds=i % 86_400)
        batch.append(make_record(f"r{i:07d}", time=t, usage=Usage.of(100 + i % 50, 20, source="provider"),
                                 identity={"key": f"k{i % 40}", "team": f"t{i % 6}"}))
        if len(batch) == 5000:
            sink.write_batch(batch)
            batch = []
    sink.write_batch(batch)
    return sink


def measure(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Wall time of a plain run, then the peak heap of a traced one (tracing slows it down)."""
    gc.collect()
    t0 = time.perf_counter()
    read = fn()
    wall = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return wall, peak / 2**20, read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as d:
        sink = fill(Path(d) / "usage.db", args.n, now)

        def before() -> int:
            records = list(sink.read())
            summarize(records, ("key",))
            return len(records)

        def after() -> int:
            return int(_usage_report(sink, ("key",), month_start(now))["records"])

        runs: dict[str, list[tuple[float, float, int]]] = {"before": [], "now": []}
        for _ in range(args.repeat):  # interleaved: both see the same machine
            runs["before"].append(measure(before))
            runs["now"].append(measure(after))
        sink.close()
    med = {k: (statistics.median(w for w, _, _ in v), statistics.median(m for _, m, _ in v), v[0][2])
           for k, v in runs.items()}
    print(f"ledger: {args.n:,} records over three months; load average {os.getloadavg()[0]:.2f}")
    for k, (wall, mb, read) in med.items():
        print(f"  {k:<6}  {wall * 1000:9.1f} ms  peak heap {mb:8.1f} MB  records read {read:,}")
    (bw, bm, br), (nw, nm, nr) = med["before"], med["now"]
    print(f"  before/now: time x{bw / nw:.2f}, peak heap x{bm / nm:.2f}, records read x{br / nr:.2f}")


if __name__ == "__main__":
    main()
