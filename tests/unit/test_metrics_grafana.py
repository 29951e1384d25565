"""The shipped Grafana dashboard queries only metrics gpurel exports, and provisions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gpurel.exporter.catalog import EXPOSED

GRAFANA = Path(__file__).resolve().parents[2] / "docs" / "grafana"
NAME = re.compile(r"\bgpurel_[a-z0-9_]+")


def queries(node: Any) -> list[str]:
    """Every ``expr`` and variable query anywhere in the dashboard."""
    if isinstance(node, list):
        return [q for item in node for q in queries(item)]
    if not isinstance(node, dict):
        return []
    found = [v for k, v in node.items() if k in ("expr", "definition") and isinstance(v, str)]
    return found + [q for v in node.values() for q in queries(v)]


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GRAFANA / "gpurel-dashboard.json").read_text())
    return document


def test_every_query_names_exported_metrics_only() -> None:
    found = queries(dashboard())
    assert len(found) >= 15
    for query in found:
        names = NAME.findall(query)
        assert names, f"no gpurel metric in {query!r}"
        unknown = set(names) - EXPOSED
        assert not unknown, f"{query!r} names metrics gpurel does not export: {unknown}"


def test_panels_have_unique_ids_and_a_prometheus_source() -> None:
    panels = dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]


def test_the_provisioning_file_points_at_a_dashboards_directory() -> None:
    text = (GRAFANA / "provisioning.yaml").read_text()
    assert "apiVersion: 1" in text
    assert "type: file" in text
    assert re.search(r"path: /\S+", text)
