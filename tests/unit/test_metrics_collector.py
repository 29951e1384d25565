"""The collector of ``gpurel serve``: recomputes at most once per interval (a clock the test
moves), keeps the last figures when a recomputation fails, and measures lag at each scrape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gpurel.errors import GpurelError
from gpurel.exporter.families import FiguresCollector, registry_of
from gpurel.exporter.figures import Snapshot

COMPUTED = datetime(2024, 6, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Measure:
    """Snapshots whose rejected-row count is the number of recomputations so far."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self) -> Snapshot:
        if self.fail:
            raise GpurelError("the warehouse is being rewritten")
        self.calls += 1
        snapshot = Snapshot(COMPUTED)
        snapshot.add("gpurel_rejected_rows", self.calls)
        snapshot.collected["c1"] = datetime.now(UTC) - timedelta(hours=1)
        return snapshot


def scrape(collector: FiguresCollector) -> dict[str, float]:
    text = generate_latest(registry_of(collector)).decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_recomputes_only_once_the_interval_has_passed() -> None:
    clock, measure = Clock(), Measure()
    collector = FiguresCollector(measure, 60, clock=clock)
    assert scrape(collector)["gpurel_rejected_rows_total"] == 1
    clock.now = 59.9
    assert scrape(collector)["gpurel_rejected_rows_total"] == 1
    clock.now = 60.0
    assert scrape(collector)["gpurel_rejected_rows_total"] == 2
    assert measure.calls == 2


def test_a_failed_recomputation_keeps_the_figures_and_counts() -> None:
    clock, measure = Clock(), Measure()
    collector = FiguresCollector(measure, 60, failed=(GpurelError,), clock=clock)
    assert scrape(collector)["gpurel_figures_compute_errors_total"] == 0
    measure.fail, clock.now = True, 120.0
    served = scrape(collector)
    assert served["gpurel_rejected_rows_total"] == 1
    assert served["gpurel_figures_compute_errors_total"] == 1
    measure.fail = False  # the next scrape tries again, without waiting for the interval
    served = scrape(collector)
    assert served["gpurel_rejected_rows_total"] == 2
    assert served["gpurel_figures_compute_errors_total"] == 1


def test_before_any_figures_only_the_errors_are_served() -> None:
    measure = Measure()
    measure.fail = True
    collector = FiguresCollector(measure, 60, failed=(GpurelError,), clock=Clock())
    assert collector.current() is None
    assert scrape(collector) == {"gpurel_figures_compute_errors_total": 2}


def test_lag_is_measured_at_each_scrape() -> None:
    collector = FiguresCollector(Measure(), 3600, clock=Clock())
    lag = scrape(collector)["gpurel_collector_lag_seconds"]
    assert 3600 <= lag < 3600 + 600  # an hour behind, measured now


def test_initial_figures_are_served_until_the_interval_has_passed() -> None:
    clock, measure = Clock(), Measure()
    first = Snapshot(COMPUTED)
    first.add("gpurel_rejected_rows", 7)
    collector = FiguresCollector(measure, 60, clock=clock, initial=first)
    clock.now = 59.0
    assert scrape(collector)["gpurel_rejected_rows_total"] == 7
    assert measure.calls == 0
    clock.now = 60.0
    assert scrape(collector)["gpurel_rejected_rows_total"] == 1
