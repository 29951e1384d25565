"""The demo cluster end to end: ingest, analyze, find the answers its README states, and
write the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from gpurel import demo, taxonomy
from gpurel.analysis.attribution import attribute, candidates
from gpurel.warehouse import Warehouse

STATES = {
    "COMPLETED": 43,
    "FAILED": 11,
    "NODE_FAIL": 4,
    "CANCELLED": 4,
    "TIMEOUT": 3,
    "PREEMPTED": 3,
    "OUT_OF_MEMORY": 2,
    "REQUEUED": 1,
}
USER_FAILURES = ("1974", "1982", "1993", "2007", "2018", "2025")
# (job_id, attempt) -> (state, category, node of the chosen check, number of candidates)
CAUSES = {
    ("1971", 1): ("NODE_FAIL", "ib_link", "gpu017", 2),
    ("1971", 2): ("FAILED", "gpu_memory", "gpu005", 1),
    ("2009", 1): ("FAILED", "pcie", "gpu011", 3),
    ("2016", 1): ("NODE_FAIL", "unattributed", None, 0),
    ("2021", 1): ("FAILED", "none", None, 0),  # a check 11 min before the end: outside
    ("2022", 1): ("FAILED", "none", None, 0),  # a check on a node the job did not use
    ("1992", 1): ("FAILED", "gpu_unavailable", "gpu038", 2),
    ("2011", 1): ("NODE_FAIL", "gpu_unavailable", "gpu038", 1),
    **{(job, 1): ("FAILED", "none", None, 0) for job in USER_FAILURES},
}
# (nodes, runtime hours) of every attempt with more than 128 GPUs that ran: r_f's exposure
LARGE_ATTEMPTS = [
    (32, 12 + 16 / 60),  # 1971 attempt 1: NODE_FAIL, ib_link
    (32, 19 + 7 / 60),  # 1971 attempt 2: FAILED, gpu_memory (high)
    (32, 36.0),  # 1971 attempt 3: COMPLETED
    (24, 14 + 25 / 60),  # 2009: FAILED, pcie (high)
    (20, 12 + 48 / 60),  # 2016: NODE_FAIL, unattributed
    (18, 11.5),  # 2021: FAILED without cause, not counted
    (17, 18 + 10 / 60),  # 2022: FAILED without cause, not counted
    (40, 40.0),  # 2033: COMPLETED
]
RF_FAILURES = 4
NODE_DAYS = 40 * 7.0
# every interrupted attempt, most GPU-hours first: (job_id, attempt, name, GPUs, runtime hours)
LARGEST_FAILURES = [
    ("1971", 2, "llm-pretrain", 256, 19 + 7 / 60),
    ("1971", 1, "llm-pretrain", 256, 12 + 16 / 60),
    ("2009", 1, "vlm-train", 192, 14 + 25 / 60),
    ("2022", 1, "rlhf-sweep", 136, 18 + 10 / 60),
    ("2016", 1, "diffusion-xl", 160, 12 + 48 / 60),
    ("2021", 1, "moe-ablation", 144, 11.5),
]


@pytest.fixture
def store(demo_warehouse: Path) -> Iterator[Warehouse]:
    warehouse = Warehouse.open(demo_warehouse)
    yield warehouse
    warehouse.close()


def _counts(path: Path) -> dict[str, int]:
    warehouse = Warehouse.open(path)
    try:
        return warehouse.counts()
    finally:
        warehouse.close()


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_shipped_files() -> None:
    paths = demo.files()
    assert [p.name for p in paths] == ["sacct.txt", "health.jsonl"]
    assert all(p.is_file() for p in paths)
    assert paths[0].read_text("utf-8").startswith("JobID|JobIDRaw|JobName|")


def test_run_replaces_the_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    for _ in range(2):
        outcomes = demo.run(path)
        assert [(o.format, o.rows, o.rejected, o.error) for o in outcomes] == [
            ("sacct", {"jobs": 71, "steps": 36}, 0, None),
            ("gcm", {"node_events": 581}, 0, None),
        ]
        warehouse = Warehouse.open(path)
        assert warehouse.counts() == {
            "jobs": 71,
            "steps": 36,
            "node_events": 581,
            "nodes": 0,
            "rejects": 0,
        }
        warehouse.close()


def test_overview(demo_doc: dict[str, Any]) -> None:
    o = demo_doc["overview"]
    assert (o["job_attempts"], o["job_ids"], o["clusters"]) == (71, 68, 1)
    assert (o["node_events"], o["failing_node_events"], o["rejected_rows"]) == (581, 17, 0)
    assert demo_doc["rejects"] == []


def test_job_states(demo_doc: dict[str, Any]) -> None:
    assert {r["state"]: r["jobs"] for r in demo_doc["job_states"]} == STATES


def test_special_job_ids(store: Warehouse) -> None:
    jobs = store.jobs().to_pyarrow().to_pylist()
    ids = {(r["job_id"], r["attempt"]): r for r in jobs}
    assert {"2001_1", "2001_2", "2001_3", "2002+0", "2002+1"} <= {j for j, _ in ids}
    assert [ids["1971", a]["state"] for a in (1, 2, 3)] == ["NODE_FAIL", "FAILED", "COMPLETED"]
    assert "gpu017" not in ids["1971", 2]["nodes"] and "gpu005" not in ids["1971", 3]["nodes"]
    assert ids["1981", 1]["cancelled_by"] == "1234"
    assert ids["2002+1", 1]["n_gpus"] == 0
    assert {r["n_gpus"] for r in jobs if r["nodes"]} >= {1, 2, 4, 8, 16, 136, 192, 256, 320}


def test_attribution(store: Warehouse) -> None:
    found = attribute(store.jobs(), store.table("node_events"), taxonomy.default().priorities())
    rows = found.to_pyarrow().to_pylist()
    assert {
        (r["job_id"], r["attempt"]): (r["state"], r["category"], r["node"], r["n_candidates"])
        for r in rows
    } == CAUSES
    chosen = {(r["job_id"], r["attempt"]): r for r in rows}
    assert chosen["1971", 2]["offset_s"] == -180  # the ECC check 3 minutes before the end
    assert chosen["1971", 2]["severity"] == "high"


def test_pcie_wins_over_xid_79(store: Warehouse) -> None:
    pairs = candidates(store.jobs(), store.table("node_events"), taxonomy.default().priorities())
    pcie_job = pairs.filter(pairs.job_id == "2009").to_pyarrow()
    assert sorted(
        zip(pcie_job["category"].to_pylist(), pcie_job["xid"].to_pylist(), strict=True)
    ) == [
        ("gpu_unavailable", 79),
        ("ipmi_critical", None),
        ("pcie", None),
    ]


def test_never_started_node_fail_is_no_interruption(
    store: Warehouse, demo_doc: dict[str, Any]
) -> None:
    jobs = store.jobs()
    never = jobs.filter(jobs.job_id == "2006").to_pyarrow().to_pylist()
    assert [(r["state"], r["start_time"], r["nodes"]) for r in never] == [("NODE_FAIL", None, [])]
    windows = _by(demo_doc["attribution_windows"], "before_s")
    assert (windows[600]["interrupted"], windows[600]["node_fail"]) == (14, 3)
    assert sum(r["failures"] for r in demo_doc["failures_by_category"]) == 14


def test_failures_by_category(demo_doc: dict[str, Any]) -> None:
    counts = {(r["category"], r["domain"]): r["failures"] for r in demo_doc["failures_by_category"]}
    assert counts == {
        ("none", "user"): 8,
        ("gpu_unavailable", "hardware"): 2,
        ("gpu_memory", "hardware"): 1,
        ("ib_link", "hardware"): 1,
        ("pcie", "hardware"): 1,
        ("unattributed", "unknown"): 1,
    }


def test_attribution_windows(demo_doc: dict[str, Any]) -> None:
    windows = {
        (r["before_s"], r["after_s"]): (r["attributed"], r["node_fail_attributed"])
        for r in demo_doc["attribution_windows"]
    }
    assert windows == {(300, 120): (4, 1), (600, 300): (5, 2), (1200, 600): (6, 2)}


def test_node_failure_rate(demo_doc: dict[str, Any]) -> None:
    rf = demo_doc["node_failure_rate"]
    node_days = sum(nodes * hours / 24 for nodes, hours in LARGE_ATTEMPTS)
    assert (rf["min_gpus"], rf["failures"]) == (128, RF_FAILURES)
    assert rf["node_days"] == pytest.approx(node_days)
    assert rf["per_1000_node_days"] == pytest.approx(1000 * RF_FAILURES / node_days)
    assert rf["lo_per_1000_node_days"] < rf["per_1000_node_days"] < rf["hi_per_1000_node_days"]


def test_mttf_by_size(demo_doc: dict[str, Any]) -> None:
    failures = {r["label"]: r["failures"] for r in demo_doc["mttf_by_size"]}
    assert failures.pop("8") == 2  # the lemon node's two victims
    assert failures.pop("256") == 4  # 1971 (1, 2), 2009, 2016; 2021 and 2022 had no cause
    assert set(failures.values()) == {0}


def test_infrastructure_failures(demo_doc: dict[str, Any]) -> None:
    infra = demo_doc["infra_failures"]
    # 1971 (1, 2), 2009, 2016 and the lemon node's 1992 and 2011
    assert (infra["attempts"], infra["infra_attempts"]) == (71, 6)
    assert infra["attempt_share"] == pytest.approx(6 / 71)


def test_largest_failures(demo_doc: dict[str, Any]) -> None:
    rows = demo_doc["largest_failures"]
    assert len(rows) == 14  # every interrupted attempt: fewer than the 20 listed
    large = [
        (r["job_id"], r["attempt"], r["name"], r["n_gpus"], r["runtime_hours"]) for r in rows[:6]
    ]
    assert large == [(*key, pytest.approx(hours)) for *key, hours in LARGEST_FAILURES]
    assert [r["gpu_hours"] for r in rows] == sorted((r["gpu_hours"] for r in rows), reverse=True)
    top = rows[0]
    assert (top["user"], top["account"], top["partition"], top["state"]) == (
        "mia",
        "llm",
        "gpu",
        "FAILED",
    )
    assert (top["category"], top["domain"], top["check"], top["node"]) == (
        "gpu_memory",
        "hardware",
        "nvidia smi ecc_uncorrected",
        "gpu005",
    )
    assert top["gpu_hours"] == pytest.approx(256 * (19 + 7 / 60))
    unattributed = rows[4]
    assert (unattributed["category"], unattributed["check"], unattributed["node"]) == (
        "unattributed",
        None,
        None,
    )


def test_demo_writes_the_report(tmp_path: Path, gpurel: Callable[..., Result]) -> None:
    warehouse = tmp_path / "demo" / "gpurel.duckdb"
    result = gpurel("demo", "--week", "--dir", warehouse.parent)
    assert result.exit_code == 0, result.output
    assert "Largest interrupted attempts" in result.stdout
    report = warehouse.parent / "report.html"
    assert "report: " in result.stdout and report.name in result.stdout
    page = report.read_text("utf-8")
    assert "<title>Reliability report: demo</title>" in page
    failures = page.split("interrupted attempts with the most GPU time", 1)[1]
    failures = failures.split("</table>", 1)[0]
    for _, _, name, _, _ in LARGEST_FAILURES:
        assert f'<td class="text">{name}</td>' in failures
    for figure in ("fig9_ettr_by_size", "fig10_ettr_design_space"):
        assert f'<figure id="{figure}">' in page


def test_episodes(demo_doc: dict[str, Any]) -> None:
    exposure = demo_doc["node_days"]
    assert (exposure["method"], exposure["node_days"]) == ("observed", pytest.approx(NODE_DAYS))
    assert exposure["period_start"] == "2024-06-03T00:00:00+00:00"
    assert exposure["period_end"] == "2024-06-10T00:00:00+00:00"
    summary = _by(demo_doc["episode_summary"], "scope")
    assert (summary["all"]["episodes"], summary["hardware"]["episodes"]) == (11, 10)
    assert summary["all"]["per_1000_node_days"] == pytest.approx(11 / NODE_DAYS * 1000)
    assert summary["hardware"]["per_1000_node_days"] == pytest.approx(10 / NODE_DAYS * 1000)
    weeks = demo_doc["episodes_by_week"]
    assert [(w["iso_week"], w["episodes"]) for w in weeks] == [("2024-W23", 11)]


def test_top_nodes(demo_doc: dict[str, Any]) -> None:
    top = demo_doc["top_nodes"]
    totals = {r["node"]: r["total"] for r in top}
    assert totals == {
        "gpu038": 4,
        "gpu011": 3,
        "gpu003": 1,
        "gpu005": 1,
        "gpu017": 1,
        "gpu040": 1,
    }
    assert top[0]["node"] == "gpu038" and top[0]["category"] == "gpu_unavailable"
    gpu011 = {r["category"] for r in top if r["node"] == "gpu011"}
    assert gpu011 == {"gpu_unavailable", "ipmi_critical", "pcie"}


def test_one_low_severity_warning(store: Warehouse) -> None:
    events = store.table("node_events")
    warned = events.filter(events.result == "warn").to_pyarrow()
    assert warned.select(["node", "category", "severity"]).to_pylist() == [
        {"node": "gpu022", "category": "gpu_memory", "severity": "low"}
    ]


def test_reingest_changes_nothing(
    tmp_path: Path,
    gpurel: Callable[..., Result],
    analyze_json: Callable[[Path], dict[str, Any]],
) -> None:
    path = tmp_path / "demo.duckdb"
    demo.run(path)
    with_counts = _counts(path)
    before = analyze_json(path)
    result = gpurel("ingest", *demo.files(), "--tz", "UTC", "--cluster", "demo", "-w", path)
    assert result.exit_code == 0, result.output
    assert _counts(path) == with_counts
    assert analyze_json(path) == before  # sums are exact, so documents are identical
