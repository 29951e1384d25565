"""The metric catalog keeps Prometheus' conventions, one declaration per metric."""

from __future__ import annotations

from gpurel.exporter.catalog import BY_NAME, EXPOSED, METRICS


def test_every_metric_is_declared_once_with_a_gpurel_name_and_help() -> None:
    names = [m.name for m in METRICS]
    assert len(set(names)) == len(names) == len(BY_NAME) == len(EXPOSED)
    for metric in METRICS:
        assert metric.name.startswith("gpurel_"), metric.name
        assert not metric.name.endswith(("_total", "_info")), metric.name
        assert metric.help.endswith("."), metric.name
        assert len(set(metric.labels)) == len(metric.labels), metric.name


def test_counters_and_info_are_exposed_with_their_suffix() -> None:
    assert BY_NAME["gpurel_job_failures"].exposed == "gpurel_job_failures_total"
    assert BY_NAME["gpurel_figure_absent"].exposed == "gpurel_figure_absent_info"
    assert BY_NAME["gpurel_rf_failures"].exposed == "gpurel_rf_failures"
    assert BY_NAME["gpurel_figure_absent"].labels == ("figure", "scope", "reason")
