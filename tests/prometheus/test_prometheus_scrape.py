"""A real Prometheus server scrapes ``gpurel serve``; the values it stores equal those
``gpurel metrics`` computes for the same warehouse, and every query of the shipped Grafana
dashboard runs on it."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from promlab import Process, free_port, get, gpurel_command, poll

from gpurel import demo
from gpurel.collect import state
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.slow
MOMENTARY = {"gpurel_collector_lag_seconds", "gpurel_figures_computed_timestamp_seconds"}
DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "gpurel-dashboard.json"
TARGET_LABELS = ("__name__", "job", "instance")
ERRORS = ("gpurel_figures_compute_errors_total", ())  # served only: failed recomputations
Key = tuple[str, tuple[tuple[str, str], ...]]


def demo_warehouse(root: Path) -> Path:
    """The demo week ingested, with a resume point of the live collector."""
    path = root / "demo.duckdb"
    assert all(o.ok for o in demo.run(path))
    store = Warehouse.open(path)
    try:
        resumed = datetime.fromisoformat("2024-06-10T00:00:00+00:00")
        state.advance_resume_time(store, state.slurm_stream(demo.CLUSTER), resumed)
    finally:
        store.close()
    return path


def samples(text: str) -> dict[Key, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def query(port: int, promql: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    status, body = get(url)
    assert status == 200, f"{promql}: HTTP {status}: {body}"
    answer: dict[str, Any] = json.loads(body)
    assert answer["status"] == "success", answer
    return answer


def stored(port: int, name: str) -> dict[Key, float]:
    """Every series of sample ``name`` in Prometheus, without its job and instance labels."""
    found = {}
    for series in query(port, f'{{__name__="{name}",job="gpurel"}}')["data"]["result"]:
        labels = {
            k: v for k, v in series["metric"].items() if k not in ("__name__", "job", "instance")
        }
        found[name, tuple(sorted(labels.items()))] = float(series["value"][1])
    return found


def test_prometheus_stores_what_gpurel_computes(
    prometheus_binary: str, start: Callable[[str, list[str]], Process], tmp_path: Path
) -> None:
    warehouse = demo_warehouse(tmp_path)
    computed = subprocess.run(
        [*gpurel_command(), "metrics", "--warehouse", str(warehouse)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert computed.returncode == 0, computed.stderr
    expected = samples(computed.stdout)
    assert len(expected) > 20
    expected[ERRORS] = 0.0

    port = free_port()
    served = start("gpurel", [*gpurel_command(), "serve", "--port", str(port),
                              "--interval", "1h", "--warehouse", str(warehouse)])  # fmt: skip
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    body = poll("gpurel serve answers", lambda: _ok(get(metrics_url)), served)
    assert set(samples(body)) == set(expected)

    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: gpurel\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
    )
    server = start("prometheus", [
        prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{web}",
    ])  # fmt: skip
    poll("prometheus is ready", lambda: _ok(get(f"http://127.0.0.1:{web}/-/ready")), server)
    poll("prometheus has scraped gpurel", lambda: _scraped(web), server)

    names = {name for name, _ in expected}
    found: dict[Key, float] = {}
    for name in names:
        found |= stored(web, name)
    assert set(found) == set(expected)
    for key, value in expected.items():
        if key[0] not in MOMENTARY:
            assert found[key] == pytest.approx(value, rel=1e-12, abs=0), key
    lag = found["gpurel_collector_lag_seconds", (("cluster", demo.CLUSTER),)]
    assert lag > timedelta(days=30).total_seconds()  # the resume point is in 2024

    for promql in _dashboard_queries():
        query(web, promql.replace("$cluster", ".*"))


def _ok(answer: tuple[int, str]) -> str | None:
    return answer[1] if answer[0] == 200 else None


def _scraped(web: int) -> str | None:
    status, body = get(
        f"http://127.0.0.1:{web}/api/v1/query?"
        + urllib.parse.urlencode({"query": 'up{job="gpurel"} == 1'})
    )
    return body if status == 200 and json.loads(body)["data"]["result"] else None


def _dashboard_queries() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(v for k, v in node.items() if k == "expr")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(DASHBOARD.read_text()))
    return found
