"""Browser-test setup: Debian's chromium driven by Playwright, and the demo report to open.

The chromium fixture installs the Debian package when it is missing (apt-get as root); it
skips only where that is impossible, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from playwright.sync_api import Browser, sync_playwright

from gpurel import demo, schema
from gpurel.analysis.summary import analyze
from gpurel.ingest import ingest
from gpurel.report import build_report
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
HOSTILE_SACCT = REPO / "tests" / "fixtures" / "report" / "hostile_sacct.txt"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
BOLD_NODE = "<b>gpu041</b>"


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)


def install_chromium() -> None:
    """Install Debian's chromium if missing (apt-get update first when the lists are stale)."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is missing and cannot be installed: needs root and apt-get")
    if _apt("install", "-y", "chromium").returncode != 0:
        update = _apt("update")
        assert update.returncode == 0, f"apt-get update failed:\n{update.stderr}"
        install = _apt("install", "-y", "chromium")
        assert install.returncode == 0, f"apt-get install chromium failed:\n{install.stderr}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (a fresh temporary profile per launch)."""
    install_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def add_hostile_rows(warehouse: Warehouse) -> None:
    """User-controlled text that must show as text: a check, message, node, category, file,
    and job names (two failed jobs of ``HOSTILE_SACCT``, named ``SCRIPT`` and ``IMG``)."""
    event = {
        "cluster": demo.CLUSTER,
        "node": BOLD_NODE,
        "time": datetime(2024, 6, 5, 12, 0, tzinfo=UTC),
        "source": "hostile",
        "check": SCRIPT,
        "category": SCRIPT,
        "domain": "hardware",
        "severity": "high",
        "result": "fail",
        "message": IMG,
    }
    reject = {"source": IMG, "line": 1, "field": "name", "reason": SCRIPT, "raw": IMG}
    warehouse.write("node_events", pa.Table.from_pylist([event], schema=schema.NODE_EVENTS))
    warehouse.write("rejects", pa.Table.from_pylist([reject], schema=schema.REJECTS))
    outcomes = ingest(warehouse, [HOSTILE_SACCT], ReadOptions(cluster=demo.CLUSTER, tz="UTC"))
    assert all(o.ok and not o.rejected for o in outcomes)


@pytest.fixture(scope="session")
def hostile_texts() -> tuple[str, ...]:
    """The user-controlled texts that ``add_hostile_rows`` puts into the warehouse."""
    return (SCRIPT, IMG, BOLD_NODE)


@pytest.fixture(scope="session")
def hostile_job_names() -> tuple[str, ...]:
    """The job names of ``HOSTILE_SACCT``."""
    return (SCRIPT, IMG)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where test artifacts go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo cluster's report, with hostile text added to its warehouse."""
    root = tmp_path_factory.mktemp("report")
    outcomes = demo.run(root / "demo.duckdb")
    assert all(o.ok for o in outcomes)
    store = Warehouse.open(root / "demo.duckdb")
    try:
        add_hostile_rows(store)
        result = analyze(store)
    finally:
        store.close()
    return build_report(result, root / "report.html")
