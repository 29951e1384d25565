"""Lemon nodes: the rule on hand-made numbers, the signals on a hand-made cluster, the backtest,
the ticket reader, and the ranking of the real InfiniteHBD trace."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from canonical_rows import canonical_table, failing_event
from typer.testing import CliRunner

from gpurel import ingest
from gpurel.analysis import lemons
from gpurel.analysis.summary import Settings, lemon_inputs
from gpurel.cli.app import app
from gpurel.errors import ConfigError, InputError
from gpurel.models.lemon_rule import LemonRule, detect, threshold
from gpurel.sources import tickets as ticket_source
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=28)
DATA = Path(__file__).resolve().parents[2].parent / "shared/data"
TRACE = DATA / "infinitehbd_stepfun/fault_trace.json"
TOP_OFFENDER = "e7b02619-a1fa-4aaa-9e0f-f81b00843e00"
needs_trace = pytest.mark.skipif(not TRACE.is_file(), reason=f"no trace at {TRACE}")


def d(days: float) -> datetime:
    return T0 + timedelta(days=days)


# --- the rule ---------------------------------------------------------------------------------


def test_percentile_threshold_is_the_nodes_quantile_never_below_the_floor() -> None:
    values = np.arange(100, dtype=float)  # 0..99
    rule = LemonRule(method="percentile", percentile=0.95)
    assert threshold(values, 1.0, rule) == 95.0  # the "higher" 95% quantile of 0..99
    assert threshold(values, 120.0, rule) == 120.0
    assert math.isnan(threshold([np.nan, np.nan], 1.0, rule))


def test_robust_z_uses_the_mad_and_falls_back_to_the_mean_deviation() -> None:
    rule = LemonRule(z=3.5)
    spread = np.array([1.0, 2.0, 3.0, 4.0, 100.0])  # median 3, MAD 1
    assert threshold(spread, 0.0, rule) == pytest.approx(3 + 3.5 * 1.4826)
    sparse = np.array([0.0] * 8 + [4.0, 8.0])  # median 0, MAD 0, mean deviation 1.2
    assert threshold(sparse, 0.0, rule) == pytest.approx(3.5 * 1.2533 * 1.2)
    assert threshold(sparse, 6.0, rule) == 6.0


def test_combination_rule_score_and_absent_signals() -> None:
    values = np.array(
        [
            [6.0, 1.0, np.nan],  # one signal at twice its threshold
            [3.0, 2.0, np.nan],  # two signals at their thresholds
            [0.0, 30.0, np.nan],  # a runaway counter: capped at 5 threshold-multiples
            [0.0, 0.0, np.nan],
        ]
    )
    found = detect(values, [3.0, 2.0, 1.0], LemonRule(method="percentile", percentile=0.5))
    assert found.thresholds[:2].tolist() == [3.0, 2.0]  # floors above the medians
    assert math.isnan(found.thresholds[2])  # absent: no node has a value
    assert found.fired.tolist() == [1, 2, 1, 0]
    assert found.score.tolist() == pytest.approx([2.5, 2.0, 5.0, 0.0])
    assert found.flagged.tolist() == [True, True, True, False]
    two = detect(values, [3.0, 2.0, 1.0], LemonRule("percentile", 0.5, min_signals=2))
    assert two.required == 2
    assert two.flagged.tolist() == [False, True, False, False]
    # min_signals is capped at the signals available: one signal alone can flag
    alone = detect(values[:, :1], [3.0], LemonRule("percentile", 0.5, min_signals=2))
    assert alone.required == 1 and alone.flagged.tolist() == [True, True, False, False]


def test_no_available_signal_leaves_the_score_absent() -> None:
    found = detect(np.full((3, 2), np.nan), [3.0, 2.0], LemonRule())
    assert found.required == 0 and not found.flagged.any()
    assert np.isnan(found.score).all()  # nothing measured: no score, not 0


def test_rule_rejects_nonsense() -> None:
    with pytest.raises(ConfigError):
        LemonRule(method="vibes")
    with pytest.raises(ConfigError):
        LemonRule(percentile=1.0)
    with pytest.raises(ConfigError):
        lemons.LemonSettings(window_s=0)


# --- a hand-made cluster ----------------------------------------------------------------------


def event(node: str, day: float, category: str, **extra: Any) -> dict[str, Any]:
    return failing_event(node, d(day), category, source="gcm") | extra


def job(
    job_id: str,
    nodes: list[str],
    start: float,
    hours: float,
    state: str = "COMPLETED",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "cluster": "c1",
        "job_id": job_id,
        "submit_time": d(start),
        "start_time": d(start),
        "end_time": d(start) + timedelta(hours=hours),
        "state": state,
        "n_nodes": len(nodes),
        "n_gpus": 8 * len(nodes),
        "nodes": nodes,
        "source": "test",
    } | extra


NODES = [f"n{i:02d}" for i in range(1, 21)]


def _events() -> list[dict[str, Any]]:
    rows = [event("n01", day, "gpu_memory") for day in (2, 9, 16, 23)]  # 4 outages
    rows += [
        event("n01", 9, "ipmi_critical"),  # co-occurs with the day-9 outage: the same outage
        event("n01", 9, "gpu_unavailable", check="xid", xid=79, message="Xid 79"),
        event("n02", 3, "ib_link"),
        event("n02", 20, "ib_link"),  # 2 outages: below the floor of 3
        event("n04", 6, "node_unresponsive"),  # info severity: not taken out
        event("n05", 0, "ib_link"),  # at the window's start: outside (start, as_of]
        event("n05", 28, "ib_link"),  # at as_of: inside
    ]
    # a drained node re-checked every 5 minutes for an hour: one outage of 13 records
    rows += [event("n03", 5 + i * 300 / 86_400, "thermal") for i in range(13)]
    # n06 loses 3 of its 12 single-node jobs to GPU memory faults; n07 loses 4 jobs to one
    rows += [event("n06", day + 1 / 24, "gpu_memory") for day in (4, 11, 18)]
    rows.append(event("n07", 12 + 1 / 24, "pcie"))
    rows.append(event("n08", 14 + 1 / 24, "nvlink"))
    return rows


def _jobs() -> list[dict[str, Any]]:
    rows = [
        job(f"s{i}", ["n06"], day, 1, "NODE_FAIL" if day in (4, 11, 18) else "COMPLETED")
        for i, day in enumerate((1, 2, 3, 4, 5, 6, 11, 12, 13, 18, 19, 20))
    ]
    rows += [job(f"k{i}", ["n07"], 12, 1, "FAILED") for i in range(4)]
    rows.append(job("m1", ["n08", "n09"], 14, 1, "FAILED"))  # check on n08: charged to n08
    rows.append(job("m2", ["n10", "n11"], 15, 1, "NODE_FAIL"))  # no check: nobody charged
    rows.append(job("u1", ["n12"], 16, 1, "FAILED"))  # a user failure
    return rows


def _inventory() -> list[dict[str, Any]]:
    return [
        {
            "cluster": "c1",
            "node": n,
            "gpus": 8,
            "in_service_start": d(-10),
            "in_service_end": d(40),
            "source": "test",
        }
        for n in NODES
    ]


def _warehouse(
    jobs: list[dict[str, Any]], events: list[dict[str, Any]], path: Path | None = None
) -> Warehouse:
    """The hand-made cluster's inventory with ``jobs`` and ``events`` (in memory by default)."""
    w = Warehouse.in_memory() if path is None else Warehouse.open(path)
    w.write("jobs", canonical_table("jobs", jobs))
    w.write("node_events", canonical_table("node_events", events))
    w.write("nodes", canonical_table("nodes", _inventory()))
    return w


@pytest.fixture(scope="module")
def cluster() -> Warehouse:
    return _warehouse(_jobs(), _events())


@pytest.fixture(scope="module")
def found(cluster: Warehouse) -> lemons.Lemons:
    return lemons.find_lemons(lemon_inputs(cluster, Settings()), lemons.LemonSettings(as_of=AS_OF))


def _row(found: lemons.Lemons, node: str) -> dict[str, Any]:
    return next(r for r in found.nodes.to_pylist() if r["node"] == node)


def test_signals_count_what_they_say(found: lemons.Lemons) -> None:
    assert found.period == lemons.metrics.Period(T0, AS_OF)
    assert found.nodes.num_rows == len(NODES)
    n01, n06 = _row(found, "n01"), _row(found, "n06")
    assert (n01["out_count"], n01["xid_cnt"]) == (4, 1)
    assert _row(found, "n02")["out_count"] == 2
    assert _row(found, "n03")["out_count"] == 1  # 13 records, one outage
    assert _row(found, "n04")["out_count"] == 0  # info severity
    assert _row(found, "n05")["out_count"] == 1  # only the one at as_of
    assert (n06["single_node_node_fails"], n06["single_node_jobs"]) == (3, 12)
    assert n06["single_node_node_failure_rate"] == pytest.approx(0.25)
    n07 = _row(found, "n07")
    assert n07["single_node_node_fails"] == 1  # four jobs killed by one fault: one failure
    assert n07["single_node_node_failure_rate"] is None  # 4 jobs: too few to rate
    assert _row(found, "n08")["multi_node_node_fails"] == 1
    assert {_row(found, n)["multi_node_node_fails"] for n in ("n09", "n10", "n11")} == {0}
    assert _row(found, "n12")["single_node_node_fails"] == 0  # a user failure


def test_missing_inputs_make_signals_absent_not_zero(found: lemons.Lemons) -> None:
    absent = {k: v for k, v in found.available.items() if v is not None}
    assert absent == {
        "excl_jobid_count": "no job records excluded nodes",
        "tickets": "no ticket file given",
    }
    assert all(r["excl_jobid_count"] is None for r in found.nodes.to_pylist())
    thresholds = {r["signal"]: r for r in found.thresholds.to_pylist()}
    assert not thresholds["tickets"]["available"] and thresholds["tickets"]["threshold"] is None


def test_flags_rank_and_evidence(found: lemons.Lemons) -> None:
    flagged = found.flagged.to_pylist()
    assert [r["node"] for r in flagged] == ["n06", "n01"]  # n06 fires three signals
    assert flagged[0]["signals"] == (
        "out_count, single_node_node_fails, single_node_node_failure_rate"
    )
    assert flagged[1]["signals"] == "out_count"
    assert found.nodes["rank"].to_pylist() == list(range(1, len(NODES) + 1))
    events = [r for r in found.evidence_events.to_pylist() if r["node"] == "n01"]
    outages = [r for r in events if r["signal"] == "out_count"]
    assert [r["time"] for r in outages] == [d(2), d(9), d(16), d(23)]
    assert outages[1]["records"] == 3 and outages[1]["detail"] == "gpu_memory (+2 more)"
    assert [r["detail"] for r in events if r["signal"] == "xid_cnt"] == ["XID 79: xid"]
    jobs = found.evidence_jobs.filter(pa.compute.equal(found.evidence_jobs["node"], "n06"))
    assert sorted(jobs["job_id"].to_pylist()) == ["s3", "s6", "s9"]
    assert set(jobs["category"].to_pylist()) == {"gpu_memory"}


def test_exclude_list_and_drain_commands(found: lemons.Lemons) -> None:
    lists = lemons.slurm_lists(found)["c1"]
    assert (lists.hostlist, lists.exclude_option) == ("n[01,06]", "--exclude='n[01,06]'")
    assert lists.not_slurm_names == {}
    commands = lists.drain
    assert commands[1] == (
        "scontrol update nodename=n01 state=drain reason='gpurel: lemon score 1.67: out_count 4>=3'"
    )
    assert len(commands) == 2


def test_exclusions_and_tickets_are_signals_when_present() -> None:
    jobs = _jobs() + [
        job(f"x{i}", ["n13"], 20 + i, 1, excluded_nodes=["n01", "n02"]) for i in range(3)
    ]
    w = _warehouse(jobs, _events())
    tickets = pa.Table.from_pylist(
        [
            {"cluster": None, "node": "n02", "opened": d(5), "outcome": "replaced cable"},
            {"cluster": "c1", "node": "n02", "opened": d(21), "outcome": None},
            {"cluster": "other", "node": "n03", "opened": d(5), "outcome": "nff"},
        ],
        schema=ticket_source.TICKETS,
    )
    found = lemons.find_lemons(
        lemon_inputs(w, Settings(), tickets), lemons.LemonSettings(as_of=AS_OF)
    )
    assert all(v is None for v in found.available.values())
    n02 = _row(found, "n02")
    assert (n02["excl_jobid_count"], n02["tickets"], n02["flagged"]) == (3, 2, True)
    assert _row(found, "n03")["tickets"] == 0  # its ticket names another cluster
    evidence = found.evidence_jobs.filter(pa.compute.equal(found.evidence_jobs["node"], "n02"))
    assert sorted(evidence["job_id"].to_pylist()) == ["x0", "x1", "x2"]
    details = found.evidence_events.filter(
        pa.compute.equal(found.evidence_events["signal"], "tickets")
    )["detail"].to_pylist()
    assert sorted(details) == ["ticket: open", "ticket: replaced cable"]


def test_without_node_events_job_signals_count_node_fail_alone() -> None:
    found = lemons.find_lemons(
        lemon_inputs(_warehouse(_jobs(), []), Settings()), lemons.LemonSettings(as_of=AS_OF)
    )
    assert found.available[lemons.OUT] == "no node events"
    assert all(found.available[n] is None for n in (lemons.MULTI, lemons.SINGLE, lemons.RATE))
    assert found.warnings == [lemons.WARN_NODE_FAIL_ONLY]
    n06 = _row(found, "n06")  # its three NODE_FAILs are charged to it without any event
    assert (n06["single_node_node_fails"], n06["flagged"], n06["rank"]) == (3, True, 1)
    assert _row(found, "n07")["single_node_node_fails"] == 0  # FAILED: cause unknown


def test_without_node_events_or_node_fail_no_signal_and_no_ranking() -> None:
    user_failures = [j for j in _jobs() if j["state"] != "NODE_FAIL"]
    found = lemons.find_lemons(
        lemon_inputs(_warehouse(user_failures, []), Settings()),
        lemons.LemonSettings(as_of=AS_OF),
    )
    for name in (lemons.MULTI, lemons.SINGLE, lemons.RATE):
        assert found.available[name] == lemons.NO_EVENTS_NO_NODE_FAIL
    assert found.warnings == [lemons.WARN_NO_EVENTS, lemons.WARN_NO_SIGNAL]
    assert "cannot be told apart from user failures" in found.warnings[0]
    rows = found.nodes.to_pylist()
    assert len(rows) == len(NODES) and not found.flagged.num_rows
    assert all(r["rank"] is None and r["score"] is None for r in rows)
    assert all(r[n] is None for r in rows for n in lemons.NAMES)
    assert found.thresholds["firing"].null_count == found.thresholds.num_rows
    assert lemons.to_doc(found, top=5)["nodes"].num_rows == 0  # no top list of unranked nodes


# --- backtest ---------------------------------------------------------------------------------


def test_backtest_without_node_events_leaves_outages_absent() -> None:
    inputs = lemon_inputs(_warehouse(_jobs(), []), Settings())
    found = lemons.find_lemons(inputs, lemons.LemonSettings(as_of=d(14)))
    rates = lemons.backtest(inputs, found).rates.to_pylist()
    assert rates
    for r in rates:
        assert r["outages"] is None and r["outages_per_1000_node_days"] is None
        assert r["outages_lo"] is None and r["outages_hi"] is None
    assert sum(r["node_failures"] for r in rates) == 1  # NODE_FAIL counts: n06's of day 18


def test_backtest_after_as_of() -> None:
    after = [
        event("n01", 30, "gpu_memory"),
        event("n01", 33, "gpu_memory"),
        event("n13", 31, "ib_link"),
        event("n01", 34 + 1 / 24, "pcie"),  # ends large job L1 (n01, n14)
    ]
    large = [
        job("L1", ["n01", "n14"], 34, 1, "FAILED"),  # on a flagged node, charged to it
        job("L2", ["n15", "n16"], 34, 2),
        job("L3", ["n17", "n18"], 35, 1, "NODE_FAIL"),  # no check: charged to no node
        job("L4", ["n06", "n19"], 35, 2),  # touches a flagged node, completes
    ]
    w = _warehouse(_jobs() + large, _events() + after)
    inputs = lemon_inputs(w, Settings())
    found = lemons.find_lemons(inputs, lemons.LemonSettings(as_of=AS_OF))
    truth = {("c1", "n01"), ("c1", "n02")}
    b = lemons.backtest(inputs, found, horizon_s=10 * 86_400, large_job_gpus=16, truth=truth)
    assert b.after == lemons.metrics.Period(AS_OF, d(38))
    rates = {r["group"]: r for r in b.rates.to_pylist()}
    assert (rates["flagged"]["nodes"], rates["flagged"]["node_days"]) == (2, 20.0)
    assert (rates["flagged"]["outages"], rates["other"]["outages"]) == (3, 1)
    assert rates["flagged"]["outages_per_1000_node_days"] == pytest.approx(150.0)
    assert (rates["flagged"]["node_failures"], rates["other"]["node_failures"]) == (1, 0)
    assert rates["other"]["node_days"] == 180.0
    assert b.large_jobs == {
        "min_gpus": 16,
        "attempts": 4,
        "failures": 2,
        "failures_on_flagged": 1,
        "touching_attempts": 2,
        "touching_failures": 1,
        "failure_share": 0.5,
        "failure_share_without_flagged": 0.25,
        "untouched_failure_share": 0.5,
    }
    assert b.truth == {
        "flagged": 2,
        "actual": 2,
        "true_positives": 1,
        "precision": 0.5,
        "recall": 0.5,
    }
    assert b.tickets is None
    with pytest.raises(ConfigError, match="no data after"):
        lemons.backtest(inputs, lemons.find_lemons(inputs, lemons.LemonSettings(as_of=d(60))))


# --- tickets ----------------------------------------------------------------------------------


def test_ticket_reader(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "Node,Opened,Closed,Outcome,Extra\n"
        "n01,2024-01-03T10:00:00,2024-01-04T10:00:00,Replaced GPU,x\n"
        "n02,2024-01-05T00:00:00+01:00,,No Fault Found,\n"
        "n03,2024-01-06,,,\n"
        ",2024-01-06,,,\n"
        "n04,yesterday,,,\n",
        "utf-8",
    )
    read = ticket_source.read(path, tz="Europe/Amsterdam")
    rows = read.tickets.to_pylist()
    assert [r["node"] for r in rows] == ["n01", "n02", "n03"]
    assert rows[0]["opened"] == datetime(2024, 1, 3, 9, tzinfo=UTC)  # local, CET = UTC+1
    assert rows[1]["opened"] == datetime(2024, 1, 4, 23, tzinfo=UTC)
    assert rows[1]["closed"] is None
    assert [r["confirmed"] for r in rows] == [True, False, None]
    assert read.rejects.column("field").to_pylist() == ["node", "opened"]
    assert read.rejects.column("line").to_pylist() == [5, 6]
    bad = tmp_path / "bad.csv"
    bad.write_text("host,when\nn01,2024-01-01\n", "utf-8")
    with pytest.raises(InputError, match="lacks node, opened"):
        ticket_source.read(bad)


# --- the real InfiniteHBD trace ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trace_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hbd") / "w.duckdb"
    w = Warehouse.open(path)
    options = ReadOptions(inventory_nodes=400, inventory_days=348)
    (outcome,) = ingest.ingest(w, [TRACE], options)
    assert outcome.ok, outcome.error
    w.close()
    return path


def _lemons_json(warehouse: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["lemons", "--json", "-w", str(warehouse), *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@needs_trace
def test_trace_whole_window_ranks_the_repeat_offender_first(trace_warehouse: Path) -> None:
    doc = _lemons_json(trace_warehouse, "--window", "348d")
    signals = {s["signal"]: s for s in doc["signals"]}
    assert [n for n, s in signals.items() if s["available"]] == ["out_count"]
    assert signals["multi_node_node_fails"]["absent_reason"] == "no job accounting"
    top = doc["nodes"][0]
    assert (top["node"], top["out_count"], top["flagged"]) == (TOP_OFFENDER, 11, True)
    assert all(top["out_count"] > n["out_count"] for n in doc["nodes"][1:])
    assert doc["rated_nodes"] == 400
    assert 1 <= doc["flagged"] <= 8  # about the paper's share of lemons (1.2-1.7%)
    evidence = [e for e in doc["evidence_events"] if e["node"] == TOP_OFFENDER]
    assert len(evidence) == 11
    assert sum("GPU DBE" in e["detail"] for e in evidence) == 9
    assert doc["exclude"]["default"].count(",") == doc["flagged"] - 1
    assert doc["drain"]["default"][0].startswith(f"scontrol update nodename={TOP_OFFENDER} ")


@needs_trace
def test_trace_28_day_window(trace_warehouse: Path) -> None:
    at_end = _lemons_json(trace_warehouse)  # default: 28 days up to the data's end
    top = at_end["nodes"][0]
    assert (top["node"], top["out_count"], top["flagged"]) == (TOP_OFFENDER, 5, True)
    earlier = _lemons_json(trace_warehouse, "--as-of", "2024-06-20")
    assert earlier["as_of"] == "2024-06-20T00:00:00+00:00"
    assert earlier["flagged"] >= 5  # June 2024 was a bad month
    assert TOP_OFFENDER not in {n["node"] for n in earlier["nodes"] if n["flagged"]}


# --- the command ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cluster") / "w.duckdb"
    _warehouse(_jobs(), _events(), path).close()
    return path


def _lemons(path: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["lemons", "-w", str(path), "--as-of", AS_OF.isoformat(), *args],
        env={"COLUMNS": "200"},
    )  # fmt: skip


def test_lemons_command_tables_and_exclude_list(cluster_file: Path) -> None:
    shown = _lemons(cluster_file)
    assert shown.exit_code == 0, shown.output
    assert "40 nodes rated" not in shown.stdout and "20 nodes rated, 2 flagged" in shown.stdout
    assert "absent signals: excl_jobid_count (no job records excluded nodes)" in shown.stdout
    assert "job s3#1 NODE_FAIL gpu_memory, 8 GPUs" in shown.stdout
    assert "--exclude='n[01,06]'" in shown.stdout
    listed = _lemons(cluster_file, "--exclude-list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[1] == "--exclude='n[01,06]'"
    assert [line.split()[2] for line in lines[3:]] == ["nodename=n06", "nodename=n01"]


def test_lemons_command_tickets_and_errors(cluster_file: Path, tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("node,opened,outcome\nn02,2024-01-10,swapped\nn02,soon,\n", "utf-8")
    result = _lemons(cluster_file, "--json", "--tickets", str(tickets))
    assert result.exit_code == 0, result.output
    assert "1 ticket rows could not be read" in result.stderr
    doc = json.loads(result.stdout)
    assert next(s for s in doc["signals"] if s["signal"] == "tickets")["available"]
    assert doc["backtest"] is None
    late = _lemons(cluster_file, "--backtest", "--horizon", "1d", "--as-of", "2024-03-01")
    assert late.exit_code == 2 and "no data after the as-of time" in late.stderr
    bad = _lemons(cluster_file, "--method", "vibes")
    assert bad.exit_code == 2 and "--method: 'vibes' is not one of robust_z" in bad.stderr
