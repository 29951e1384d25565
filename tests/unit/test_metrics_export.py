"""``gpurel metrics``: its output parses as Prometheus text and equals plain recounts of a
small cluster written by the test."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import metrics_cluster as mc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner, Result

from gpurel.cli.app import app
from gpurel.collect import state
from gpurel.exporter.catalog import EXPOSED
from gpurel.warehouse import Warehouse

Values = dict[tuple[tuple[str, str], ...], float]
RESUMED = mc.END + timedelta(minutes=3)  # the collector's stored resume point


def gpurel(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def parsed(text: str) -> dict[str, Values]:
    """Sample name -> {sorted label pairs: value}; every sample's name is a catalog name."""
    found: dict[str, Values] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.name in EXPOSED, sample.name
            key = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[key] = sample.value
    return found


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small cluster ingested, with a resume point of the live collector."""
    root = tmp_path_factory.mktemp("metrics")
    path = root / "gpurel.duckdb"
    done = gpurel("ingest", "--cluster", mc.CLUSTER, "--tz", "UTC", "--warehouse", path,
                  *mc.write_inputs(root))  # fmt: skip
    assert done.exit_code == 0, done.output
    store = Warehouse.open(path)
    try:
        state.advance_resume_time(store, state.slurm_stream(mc.CLUSTER), RESUMED)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def exported(warehouse: Path) -> Iterator[tuple[dict[str, Values], float, float]]:
    """The parsed output of ``gpurel metrics``, and the clock around the run."""
    before = time.time()
    done = gpurel("metrics", "--warehouse", warehouse)
    after = time.time()
    assert done.exit_code == 0, done.output
    yield parsed(done.stdout), before, after


@pytest.mark.parametrize("days", [7, 28])
def test_rf_windows_equal_a_recount(
    exported: tuple[dict[str, Values], float, float], days: int
) -> None:
    metrics = exported[0]
    key = labels(cluster=mc.CLUSTER, window=f"{days}d")
    failures, exposure = mc.rf_window(days)
    assert metrics["gpurel_rf_failures"][key] == failures
    assert metrics["gpurel_rf_exposure_node_seconds"][key] == pytest.approx(exposure)
    assert metrics["gpurel_rf_per_node_second"][key] == pytest.approx(failures / exposure)
    lo, hi = mc.garwood(failures, exposure)
    assert metrics["gpurel_rf_lower_per_node_second"][key] == pytest.approx(lo)
    assert metrics["gpurel_rf_upper_per_node_second"][key] == pytest.approx(hi)


def test_the_windows_differ_as_designed() -> None:
    assert mc.rf_window(7) != mc.rf_window(28)  # a job ended between 28 and 7 days before


def test_failures_and_episodes_per_category_equal_a_recount(
    exported: tuple[dict[str, Values], float, float],
) -> None:
    metrics = exported[0]
    for name, counted in (
        ("gpurel_job_failures_total", mc.failures_per_category()),
        ("gpurel_failure_episodes_total", mc.episodes_per_category()),
    ):
        expected = {
            labels(cluster=mc.CLUSTER, category=c, domain=d): float(n)
            for (c, d), n in counted.items()
        }
        assert metrics[name] == expected


def test_lost_goodput_and_run_ettr_equal_a_recount(
    exported: tuple[dict[str, Values], float, float],
) -> None:
    metrics = exported[0]
    lost = metrics["gpurel_lost_goodput_gpu_seconds_total"]
    assert lost[labels(order="first")] == pytest.approx(mc.first_order_gpu_seconds())
    assert lost[labels(order="second")] == 0  # no attempt was preempted
    ettr = {dict(k)["size_bucket"]: v for k, v in metrics["gpurel_run_ettr_ratio"].items()}
    expected = mc.run_ettr()
    assert ettr == pytest.approx({b: sum(e) / len(e) for b, e in expected.items()})
    runs = metrics["gpurel_run_ettr_runs"]
    assert runs == {labels(size_bucket=b): len(e) for b, e in expected.items()}
    assert max(map(len, expected.values())) > 1  # a mean over several runs


def test_rejected_rows_collector_and_data_end(
    exported: tuple[dict[str, Values], float, float],
) -> None:
    metrics, before, after = exported
    assert metrics["gpurel_rejected_rows_total"] == {(): mc.BAD_LINES}
    assert metrics["gpurel_data_end_timestamp_seconds"] == {(): mc.END.timestamp()}
    key = labels(cluster=mc.CLUSTER)
    end = metrics["gpurel_collector_last_window_end_timestamp_seconds"]
    assert end == {key: RESUMED.timestamp()}
    lag = metrics["gpurel_collector_lag_seconds"][key]
    assert before - RESUMED.timestamp() <= lag <= after - RESUMED.timestamp()


def test_lemon_figures_equal_the_lemons_command(
    exported: tuple[dict[str, Values], float, float], warehouse: Path
) -> None:
    done = gpurel("lemons", "--json", "--warehouse", warehouse)
    assert done.exit_code == 0, done.output
    nodes = json.loads(done.stdout)["nodes"]
    assert len(nodes) == 32
    metrics = exported[0]
    scores = {labels(cluster=n["cluster"], node=n["node"]): n["score"] for n in nodes}
    flags = {labels(cluster=n["cluster"], node=n["node"]): float(n["flagged"]) for n in nodes}
    assert metrics["gpurel_lemon_score"] == pytest.approx(scores)
    assert metrics["gpurel_lemon_flagged"] == flags


def test_measured_figures_are_not_listed_absent(
    exported: tuple[dict[str, Values], float, float],
) -> None:
    assert "gpurel_figure_absent_info" not in exported[0]


def test_the_attribution_window_setting_reaches_the_figures(warehouse: Path) -> None:
    after = timedelta(seconds=30)  # job 104's cause (1 min after its end) falls outside
    done = gpurel("metrics", "--warehouse", warehouse, "--after", "30s")
    assert done.exit_code == 0, done.output
    metrics = parsed(done.stdout)
    assert mc.failures_per_category(after) != mc.failures_per_category()
    expected = {
        labels(cluster=mc.CLUSTER, category=c, domain=d): float(n)
        for (c, d), n in mc.failures_per_category(after).items()
    }
    assert metrics["gpurel_job_failures_total"] == expected
    key = labels(cluster=mc.CLUSTER, window="7d")
    assert metrics["gpurel_rf_failures"][key] == mc.rf_window(7, after)[0]


def test_output_file_is_written_whole_and_alone(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "gpurel.prom"
    target.write_text("# the previous figures\n")
    done = gpurel("metrics", "--warehouse", warehouse, "--output", target)
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == ["gpurel.prom"]
    metrics = parsed(target.read_text())
    assert metrics["gpurel_rejected_rows_total"] == {(): mc.BAD_LINES}


def test_output_in_a_missing_directory_names_it(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "absent" / "gpurel.prom"
    done = gpurel("metrics", "--warehouse", warehouse, "--output", target)
    assert done.exit_code == 1
    assert str(tmp_path / "absent") in done.stderr
    assert not target.parent.exists()


def test_figures_without_input_are_absent_with_reasons(tmp_path: Path) -> None:
    """Accounting alone, no FAILED job with a known cause: r_f, episodes and lost goodput
    are not measured; they are listed with their reasons, never exported as 0."""
    sacct = tmp_path / "sacct.txt"
    job = "1|train|bob|ml|gpu|normal|gpu[001-032]|32|gres/gpu=256|FAILED|"
    job += "2024-06-01T00:00:00|2024-06-01T00:00:00|2024-06-01T01:00:00|2024-06-02T01:00:00|"
    job += "2-00:00:00|1:0"
    sacct.write_text(mc.SACCT_HEADER + "\n" + job + "\n")
    path = tmp_path / "w.duckdb"
    assert gpurel("ingest", "--tz", "UTC", "--warehouse", path, sacct).exit_code == 0
    done = gpurel("metrics", "--warehouse", path)
    assert done.exit_code == 0, done.output
    metrics = parsed(done.stdout)
    absent = {dict(k)["figure"]: dict(k) for k in metrics["gpurel_figure_absent_info"]}
    for name in ("gpurel_rf_per_node_second", "gpurel_failure_episodes",
                 "gpurel_lost_goodput_gpu_seconds"):  # fmt: skip
        assert absent[name]["reason"], name
        assert not any(sample.startswith(name) for sample in metrics), name
    assert "no node events" in absent["gpurel_failure_episodes"]["reason"]
    assert absent["gpurel_rf_per_node_second"]["scope"] == "cluster=default,window=28d"
    assert absent["gpurel_collector_last_window_end_timestamp_seconds"]["scope"] == (
        "cluster=default"
    )
    assert all(math.isfinite(v) for values in metrics.values() for v in values.values())


def test_a_missing_warehouse_exits_2(tmp_path: Path) -> None:
    done = gpurel("metrics", "--warehouse", tmp_path / "none.duckdb")
    assert done.exit_code == 2
    assert "none.duckdb" in done.stderr
