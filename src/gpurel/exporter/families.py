"""Prometheus metric families of a ``Snapshot``, and the collector of ``gpurel serve``.

The collector recomputes the figures at most once per interval, on a scrape; between two
recomputations every scrape gets the same figures, except the collector's lag, which is
measured at each exposition. A recomputation that fails (the warehouse being rewritten, say)
keeps the previous figures and counts the failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from gpurel.exporter.catalog import BY_NAME, METRICS
from gpurel.exporter.catalog import Metric as Declared
from gpurel.exporter.figures import Snapshot

LAG = "gpurel_collector_lag_seconds"
ERRORS = "gpurel_figures_compute_errors"
ABSENT = "gpurel_figure_absent"


def _numeric(declared: Declared) -> GaugeMetricFamily | CounterMetricFamily:
    kind = CounterMetricFamily if declared.kind == "counter" else GaugeMetricFamily
    return kind(declared.name, declared.help, labels=declared.labels)


def families(snapshot: Snapshot, now: datetime, errors: int | None = None) -> list[Metric]:
    """The snapshot as metric families in catalog order, the collector's lag as of ``now``;
    ``errors``: failed recomputations (served figures only)."""
    made = {m.name: _numeric(m) for m in METRICS if m.kind != "info"}
    for sample in snapshot.samples:
        declared = BY_NAME[sample.metric]
        values = [sample.labels[name] for name in declared.labels]
        made[sample.metric].add_metric(values, sample.value)
    for cluster, resumed in snapshot.collected.items():
        made[LAG].add_metric([cluster], (now - resumed).total_seconds())
    if errors is None:
        del made[ERRORS]
    else:
        made[ERRORS].add_metric([], errors)
    absent = BY_NAME[ABSENT]
    listed = InfoMetricFamily(absent.name, absent.help, labels=absent.labels)
    for missing in snapshot.missing:
        listed.add_metric([missing.figure, missing.scope, missing.reason], {})
    return [*made.values(), listed]


class FiguresCollector(Collector):
    """Serves ``measure()``'s figures, recomputed at most every ``interval_s`` seconds.

    ``failed`` lists the exceptions that mean a recomputation failed (after saying why):
    the previous figures stay served, and the next scrape tries again. ``initial``: figures
    just computed, served until the interval has passed.
    """

    def __init__(
        self,
        measure: Callable[[], Snapshot],
        interval_s: float,
        failed: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
        initial: Snapshot | None = None,
    ) -> None:
        self._measure = measure
        self._interval_s = interval_s
        self._failed = failed
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = initial
        self._taken = clock()
        self._errors = 0

    def current(self) -> Snapshot | None:
        """The figures to serve, recomputed first when the interval has passed (None before
        the first recomputation that worked)."""
        with self._lock:
            due = self._snapshot is None or self._clock() - self._taken >= self._interval_s
            if due:
                try:
                    self._snapshot = self._measure()
                    self._taken = self._clock()
                except self._failed:
                    self._errors += 1
            return self._snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.current()
        if snapshot is None:
            empty = Snapshot(datetime.now(UTC))
            yield from (f for f in families(empty, empty.computed, self._errors) if f.samples)
            return
        yield from families(snapshot, datetime.now(UTC), self._errors)


def registry_of(collector: Collector) -> CollectorRegistry:
    """A registry holding ``collector`` alone (no process or platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
