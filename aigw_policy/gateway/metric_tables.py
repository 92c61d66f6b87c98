"""The gateway's Prometheus counters and histograms, kept as plain tables and read by
prometheus-client at a scrape.

prometheus-client's own ``Counter`` and ``Histogram`` take a lock and make two or three calls
per update (``observe`` also walks its buckets one by one); the ~10 updates of one request
were ~16% of the gateway's own bytecodes per request (docs/gateway.md, "Metrics"). Here an
update is one or two dict operations on the event loop's thread, and the registry reads the
tables through the library's custom-collector interface (``collect``) at each scrape, as its
documentation shows for figures kept elsewhere. The text at ``/metrics`` is the library's
own exposition: the same names, labels (sorted), ``le`` bounds and ``_count``/``_sum``
samples; only the ``_created`` samples are not kept.

Label values are converted with ``str`` at the scrape, as ``labels()`` converts them at an
update; the caller keeps every label set bounded (metrics.py says how).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["CounterTable", "HistogramTable", "Tables"]


class CounterTable:
    """A counter by label values: ``inc(("deny", "403"))``; unlabelled: ``inc(())``."""

    __slots__ = ("doc", "labels", "name", "values")

    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        self.name, self.doc, self.labels = name, doc, tuple(labels)
        self.values: dict[tuple[Any, ...], float] = {} if self.labels else {(): 0.0}

    def inc(self, key: tuple[Any, ...], amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def family(self) -> Any:
        from prometheus_client.core import CounterMetricFamily

        out = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in list(self.values.items()):  # (a copy: another thread may add a label set)
            out.add_metric([str(x) for x in key], value)
        return out


class HistogramTable:
    """A histogram by label values: ``observe(("openai", "false"), 0.012)``. A row is the
    count of each bucket (not cumulative; the last one is ``+Inf``) and then the sum."""

    __slots__ = ("bounds", "doc", "labels", "name", "rows")

    def __init__(self, name: str, doc: str, labels: Sequence[str] = (), *, buckets: Sequence[float]) -> None:
        bounds = tuple(float(b) for b in buckets)
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("buckets must be increasing")
        self.name, self.doc, self.labels, self.bounds = name, doc, tuple(labels), bounds
        self.rows: dict[tuple[Any, ...], list[float]] = {}
        if not self.labels:
            self.rows[()] = [0] * (len(bounds) + 1) + [0.0]

    def observe(self, key: tuple[Any, ...], value: float) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0] * (len(self.bounds) + 1) + [0.0]
        # the first bound >= value: Prometheus' `le` (a value on a bound counts in its bucket)
        row[bisect_left(self.bounds, value) if value == value else len(self.bounds)] += 1  # NaN: +Inf
        row[-1] += value

    def family(self) -> Any:
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        names = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        out = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for key, row in list(self.rows.items()):
            row = list(row)
            total, buckets = 0, []
            for name, n in zip(names, row):
                total += n
                buckets.append((name, total))
            out.add_metric([str(x) for x in key], buckets, row[-1])
        return out


class Tables:
    """The tables of one registry: register it (``registry.register(tables)``) and make the
    tables with :meth:`counter` and :meth:`histogram`."""

    def __init__(self) -> None:
        self._tables: list[CounterTable | HistogramTable] = []

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> CounterTable:
        table = CounterTable(name, doc, labels)
        self._tables.append(table)
        return table

    def histogram(self, name: str, doc: str, labels: Sequence[str] = (), *,
                  buckets: Sequence[float]) -> HistogramTable:
        table = HistogramTable(name, doc, labels, buckets=buckets)
        self._tables.append(table)
        return table

    def collect(self) -> Iterator[Any]:
        for table in self._tables:
            yield table.family()
