"""One analysis of a warehouse: every metric of the core method, as small tables.

This orchestrates ``attribution``, ``metrics`` and ``runs`` for ``gpurel analyze`` (and later
the report); it computes nothing itself beyond counting what the warehouse holds and putting
measurements next to the models' projections (MTTF, expected ETTR) at the measured r_f.

A figure without the input to measure it is ``Absent`` with the reason, never a 0, an infinity
or a verdict: node failure episodes without node events; r_f, infrastructure failures, MTTF
and lost goodput when job failures have no known cause (no node events to attribute them and
no NODE_FAIL); projections at r_f without a failure to measure r_f by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import taxonomy
from gpurel.absent import Absent
from gpurel.analysis import attribution, design, goodput, lemons, metrics, runs, stacking, timeline
from gpurel.analysis.attribution import AttributionWindow
from gpurel.analysis.node_failures import NodeFailures, node_episodes, node_failures
from gpurel.analysis.stacking import sorted_by
from gpurel.models.dispersion import DispersionTest, dispersion_test
from gpurel.models.ettr import ettr_finite, ettr_renewal, failure_rate, linear_breaks
from gpurel.models.failure_model import projected_mttf_band, projected_mttf_hours
from gpurel.schema import JobState
from gpurel.warehouse import Warehouse

T = TypeVar("T")
EPISODE_FIGURES = (
    "episode_summary",
    "episodes_by_category",
    "episodes_by_week",
    "episodes_by_week_category",
)
DEFAULT_PROJECTION_GPUS = (8, 64, 512, 1024, 4096, 16384, 131072)
NO_EVENTS = "no node events ingested"
NO_JOBS = "no job accounting ingested"
NO_CAUSES = (
    "no node events ingested and no attempt ended NODE_FAIL, so no job failure has a known "
    "cause (infrastructure failures cannot be told from user failures)"
)


@dataclass(frozen=True)
class Settings:
    """Every assumption an analysis makes; defaults follow the paper."""

    window: AttributionWindow = field(default_factory=AttributionWindow)
    rf_min_gpus: int = 128
    merge_gap_s: int = 3600
    top_nodes: int = 10
    cluster: str | None = None
    gpus_per_node: int = 8
    projection_gpus: tuple[int, ...] = DEFAULT_PROJECTION_GPUS
    taxonomy_file: str | None = None  # user extension of the shipped taxonomy
    run_rules: runs.RunRules = field(default_factory=runs.RunRules)
    checkpointing: runs.Checkpointing = field(default_factory=runs.Checkpointing)
    lemon: lemons.LemonSettings = field(default_factory=lemons.LemonSettings)
    goodput_rules: goodput.GoodputRules = field(default_factory=goodput.GoodputRules)
    design_write_s: float = 30.0  # w_cp of the expected-ETTR design space (Fig. 10)
    reference_rf: float = 6.5  # r_f (per 1000 node-days) of the design space where none is measured

    def taxonomy(self) -> taxonomy.Taxonomy:
        """The taxonomy whose category priorities choose among attribution candidates."""
        return taxonomy.load(Path(self.taxonomy_file)) if self.taxonomy_file else taxonomy.default()


@dataclass(frozen=True)
class NodeDispersion:
    """The dispersion test of per-node counts, and what was counted."""

    tested: str  # what was counted per node, and its exposure
    test: DispersionTest
    unassigned_failures: int  # job failures no single node could be charged with


@dataclass
class Analysis:
    """The results of one analysis; a figure without input is ``Absent`` with the reason."""

    settings: Settings
    overview: dict[str, Any]
    job_states: pa.Table
    job_sizes: pa.Table
    failures_by_category: pa.Table
    largest_failures: pa.Table
    attribution_windows: pa.Table | Absent
    node_days: metrics.NodeDays | None
    episode_summary: pa.Table | Absent
    episodes_by_category: pa.Table | Absent
    episodes_by_week: pa.Table | Absent
    episodes_by_week_category: pa.Table | Absent
    check_first_seen: pa.Table | Absent
    top_nodes: pa.Table | Absent
    node_failure_rate: metrics.NodeFailureRate  # the counts, whatever they support
    rf: metrics.NodeFailureRate | Absent  # r_f where the data can measure it
    infra_failures: dict[str, Any] | Absent
    mttf_by_size: pa.Table | Absent
    mttf_projection: pa.Table | Absent
    mttf_vs_projection: pa.Table | Absent
    node_dispersion: NodeDispersion | Absent
    ettr_projection: pa.Table | Absent
    run_ettr: pa.Table
    ettr_design: design.Design | Absent
    lost_goodput: goodput.LostGoodput | Absent
    lemons: lemons.Lemons | None
    rejects: pa.Table

    @property
    def projection_rf(self) -> metrics.NodeFailureRate | Absent:
        """r_f to project MTTF and ETTR at: measured, with at least one failure."""
        return projectable(self.rf)


def _scoped(table: ir.Table, cluster: str | None) -> ir.Table:
    return table if cluster is None else table.filter(table.cluster == cluster)


def _overview(
    jobs: ir.Table, events: ir.Table, nodes: ir.Table, rejects: ir.Table
) -> dict[str, Any]:
    """What the warehouse holds, in one query: job attempts and ids, clusters, GPU-hours,
    NODE_FAILs, node events (failing ones too, and the first one's time), rejected rows, the
    clusters' names, the GPUs the inventory lists (``inventory_gpus``) with the nodes it
    lists them for, and the span of every record (``records``, ``metrics.analysis_period``;
    None without a time)."""
    names = metrics.union_all(jobs.select("cluster"), events.select("cluster"))
    listed = nodes.filter(nodes.gpus.notnull())
    row = metrics.one_row(
        jobs.aggregate(
            job_attempts=jobs.count(),
            job_ids=jobs.job_id.nunique(),
            clusters=jobs.cluster.nunique(),
            gpu_hours=metrics.exact_sum(metrics.gpu_hours(jobs)),
            node_fail_attempts=(jobs.state == JobState.NODE_FAIL.value).cast("int64").sum(),
            **_span("start", jobs.start_time),
            **_span("end", jobs.end_time),
        ),
        events.aggregate(
            node_events=events.count(),
            failing_node_events=(events.result == "fail").cast("int64").sum(),
            first_node_event=events.time.min(),
            last_node_event=events.time.max(),
        ),
        nodes.aggregate(**_span("in_service_start", nodes.in_service_start)),
        nodes.aggregate(**_span("in_service_end", nodes.in_service_end)),
        rejects.aggregate(rejected_rows=rejects.count()),
        names.aggregate(cluster_names=names.cluster.collect(distinct=True)),
        listed.aggregate(inventory_gpus=listed.gpus.sum(), inventory_gpu_nodes=listed.count()),
    )
    row["gpu_hours"] = float(row["gpu_hours"] or 0.0)
    for name in ("node_fail_attempts", "failing_node_events", "inventory_gpus"):
        row[name] = int(row[name] or 0)
    row["cluster_names"] = sorted(row["cluster_names"] or [])
    times = [row.pop(k) for k in list(row) if k.startswith(_SPAN)]
    times += [row["first_node_event"], row.pop("last_node_event")]
    known = [t for t in times if t is not None]
    row["records"] = metrics.Period(min(known), max(known)) if known else None
    return row


_SPAN = "_span_"


def _span(name: str, times: ir.TimestampColumn) -> dict[str, ir.TimestampScalar]:
    """The earliest and latest of ``times``, named apart for ``_overview``."""
    return {f"{_SPAN}{name}_min": times.min(), f"{_SPAN}{name}_max": times.max()}


def cause_gap(overview: dict[str, Any]) -> Absent | None:
    """Why job failures cannot be split into infrastructure and user failures, if they cannot:
    no job accounting, or neither node events to attribute them nor a NODE_FAIL."""
    if not overview["job_attempts"]:
        return Absent(NO_JOBS)
    if not (overview["node_events"] or overview["node_fail_attempts"]):
        return Absent(NO_CAUSES)
    return None


def measurable_rf(
    rate: metrics.NodeFailureRate, overview: dict[str, Any]
) -> metrics.NodeFailureRate | Absent:
    """r_f where the data can measure it: job failures with causes, and exposure."""
    gap = cause_gap(overview)
    if gap is not None:
        return gap
    if not rate.node_days:
        return Absent(f"no attempt of a job with more than {rate.min_gpus} GPUs ran")
    return rate


def projectable(rf: metrics.NodeFailureRate | Absent) -> metrics.NodeFailureRate | Absent:
    """r_f to project at: a zero rate would project an infinite MTTF and an ETTR of 1."""
    if isinstance(rf, Absent) or rf.failures:
        return rf
    return Absent(
        f"no failure in {rf.node_days:,.1f} node-days of jobs with more than {rf.min_gpus} "
        "GPUs, so r_f has nothing to project from"
    )


def _rejects_summary(rejects: ir.Table) -> stacking.Query[pa.Table]:
    grouped = rejects.group_by("source", "field", "reason").aggregate(rows=rejects.count())
    return stacking.Query(
        grouped, lambda t: sorted_by(t, [("rows", "descending"), "source", "reason"])
    )


def mttf_projection(
    rate: metrics.NodeFailureRate, gpus: tuple[int, ...], gpus_per_node: int
) -> pa.Table:
    """Projected MTTF (hours) with its band from r_f's interval, for each job size."""
    sizes = np.asarray(gpus)
    mttf = projected_mttf_hours(sizes, rate.per_node_day, gpus_per_node)
    lo_rate, hi_rate = rate.lo_per_1000_node_days / 1000, rate.hi_per_1000_node_days / 1000
    low, high = projected_mttf_band(sizes, lo_rate, hi_rate, gpus_per_node)
    return pa.table(
        {
            "gpus": pa.array(sizes, pa.int64()),
            "nodes": pa.array(-(-sizes // gpus_per_node), pa.int64()),
            "mttf_hours": mttf,
            "mttf_lo_hours": low,
            "mttf_hi_hours": high,
        }
    )


def mttf_vs_projection(
    measured: pa.Table, rate: metrics.NodeFailureRate, gpus_per_node: int
) -> pa.Table:
    """Measured MTTF per GPU bucket next to the projection at the bucket's size (with band)."""
    t = measured.filter(pc.greater(measured["bucket"], 0))
    projected = mttf_projection(rate, tuple(t["bucket"].to_pylist()), gpus_per_node)
    for name in ("mttf_hours", "mttf_lo_hours", "mttf_hi_hours"):
        t = t.append_column(f"projected_{name}", projected[name])
    return t


def _expected_ettr(gpus: np.ndarray, rf_per_node_day: float, s: Settings) -> np.ndarray:
    c, lam = s.checkpointing, failure_rate(gpus, rf_per_node_day, s.gpus_per_node)
    return ettr_finite(lam, c.ckpt_s, c.restart_s, c.write_s)


def ettr_projection(rate: metrics.NodeFailureRate, gpus: tuple[int, ...], s: Settings) -> pa.Table:
    """Expected long-run ETTR at the measured r_f, with its band from r_f's interval.

    Under the assumed checkpointing of ``s``, no queue time; ``ettr_exact`` is the exact form
    and ``linear_breaks`` flags sizes where the linear form is unreliable.
    """
    sizes, c = np.asarray(gpus), s.checkpointing
    lam = failure_rate(sizes, rate.per_node_day, s.gpus_per_node)
    return pa.table(
        {
            "gpus": pa.array(sizes, pa.int64()),
            "ettr": _expected_ettr(sizes, rate.per_node_day, s),
            "ettr_lo": _expected_ettr(sizes, rate.hi_per_1000_node_days / 1000, s),
            "ettr_hi": _expected_ettr(sizes, rate.lo_per_1000_node_days / 1000, s),
            "ettr_exact": ettr_renewal(lam, c.ckpt_s, c.restart_s, c.write_s),
            "linear_breaks": linear_breaks(lam, c.ckpt_s, c.restart_s),
        }
    )


def run_ettr(
    run_table: ir.Table,
    rate: metrics.NodeFailureRate | Absent,
    s: Settings,
    causes: Absent | None = None,
) -> pa.Table:
    """Measured ETTR of the selected runs per GPU bucket, with the expected value at r_f (null
    when r_f is absent). With ``causes`` absent, the infrastructure-only columns are null: no
    failure can be told to be the infrastructure's."""
    t = runs.ettr_by_bucket(run_table, s.run_rules)
    if causes is not None:
        for i, name in enumerate(t.column_names):
            if name.startswith(("ettr_infra", "infra_")):
                t = t.set_column(i, name, pa.nulls(t.num_rows, t.schema.field(name).type))
    if isinstance(rate, Absent):
        return t.append_column("ettr_expected", pa.nulls(t.num_rows, pa.float64()))
    sizes = np.asarray(t["bucket"].to_pylist(), dtype=np.int64)
    return t.append_column("ettr_expected", pa.array(_expected_ettr(sizes, rate.per_node_day, s)))


def job_runs(warehouse: Warehouse, s: Settings, failures: ir.Table | None = None) -> ir.Table:
    """Every job run of the warehouse with its measured ETTR (``runs.runs``), in the engine."""
    f = attributed_failures(warehouse, s) if failures is None else failures
    jobs = _scoped(warehouse.jobs(), s.cluster)
    return runs.runs(jobs, f, s.run_rules.gap_s, s.checkpointing)


@dataclass
class RunEttr:
    """Job runs (every run, in the engine), their measured ETTR per bucket, and the r_f used."""

    runs: ir.Table
    by_bucket: pa.Table
    rate: metrics.NodeFailureRate | Absent


def _counts(warehouse: Warehouse, s: Settings) -> dict[str, Any]:
    """The overview counts of the warehouse (of the settings' cluster)."""
    jobs = _scoped(warehouse.jobs(), s.cluster)
    events = _scoped(warehouse.table("node_events"), s.cluster)
    nodes = _scoped(warehouse.table("nodes"), s.cluster)
    return _overview(jobs, events, nodes, warehouse.table("rejects"))


def measured_runs(warehouse: Warehouse, s: Settings) -> RunEttr:
    """Attribute failures, measure r_f, group attempts into runs and measure their ETTR."""
    failures = attributed_failures(warehouse, s)
    counts = _counts(warehouse, s)
    rate = measurable_rf(
        metrics.node_failure_rate(_scoped(warehouse.jobs(), s.cluster), failures, s.rf_min_gpus),
        counts,
    )
    table = job_runs(warehouse, s, failures)
    return RunEttr(table, run_ettr(table, projectable(rate), s, cause_gap(counts)), rate)


def runs_json(measured: RunEttr, s: Settings) -> dict[str, Any]:
    """The per-bucket table and every selected run (one row each) as one JSON-ready document."""
    selected = runs.selected(measured.runs, s.run_rules).order_by("cluster", "first_submit")
    return _plain(
        {
            "run_rules": asdict(s.run_rules),
            "checkpointing": asdict(s.checkpointing),
            "node_failure_rate": measured.rate,
            "by_bucket": measured.by_bucket,
            "runs": selected.to_pyarrow(),
        }
    )


@dataclass(frozen=True)
class Attribution:
    """The derived tables of one attribution: every candidate cause in the widest window
    (the settings' and the sensitivity windows), and the ``failures`` in the settings' window."""

    candidates: ir.Table
    failures: ir.Table


def attribution_tables(warehouse: Warehouse, s: Settings) -> Attribution:
    """Attribute interrupted attempts once: the candidates (the join of attempts and failing
    events) and the ``failures`` chosen among them, each stored as a derived table."""
    jobs = _scoped(warehouse.jobs(), s.cluster)
    events = _scoped(warehouse.table("node_events"), s.cluster)
    window = attribution.widest((s.window, *attribution.SENSITIVITY_WINDOWS))
    found = attribution.candidates(jobs, events, s.taxonomy().priorities(), window)
    stored = warehouse.materialize("candidates", found)
    failures = attribution.attribute_within(jobs, stored, s.window)
    return Attribution(stored, warehouse.materialize("failures", failures))


def attributed_failures(warehouse: Warehouse, s: Settings) -> ir.Table:
    """Attribute interrupted attempts and store the result as the derived ``failures`` table."""
    return attribution_tables(warehouse, s).failures


def lemon_inputs(
    warehouse: Warehouse, s: Settings, tickets: pa.Table | None = None
) -> lemons.Inputs:
    """What lemon detection reads: the tables (of the settings' cluster), failures, tickets."""
    return lemons.Inputs(
        jobs=_scoped(warehouse.jobs(), s.cluster),
        events=_scoped(warehouse.table("node_events"), s.cluster),
        nodes=_scoped(warehouse.table("nodes"), s.cluster),
        failures=attributed_failures(warehouse, s),
        tickets=None if tickets is None else ibis.memtable(tickets),
    )


def known_lemons(warehouse: Warehouse) -> set[tuple[str, str]] | None:
    """The simulator's lemon nodes (``truth_nodes``), where the warehouse holds its truth."""
    from gpurel.sim.truth import TRUTH_NODES

    if not warehouse.has_side("truth_nodes"):
        return None
    t = warehouse.side("truth_nodes", TRUTH_NODES)
    rows = warehouse.fetch(t.filter(t.lemon).select("cluster", "node"))
    return set(zip(rows["cluster"].to_pylist(), rows["node"].to_pylist(), strict=True))


def lemons_json(found: lemons.Lemons, backtest: lemons.Backtest | None = None) -> dict[str, Any]:
    """Lemon detection (every node) and its backtest as one JSON-ready document."""
    test = None if backtest is None else lemons.backtest_doc(backtest)
    return _plain(lemons.to_doc(found) | {"backtest": test})


def lost_goodput(warehouse: Warehouse, s: Settings) -> goodput.LostGoodput | Absent:
    """Lost goodput of the warehouse, first and second order, and its crash loops (absent
    without job failures whose cause is known)."""
    gap = cause_gap(_counts(warehouse, s))
    if gap is not None:
        return gap
    jobs = _scoped(warehouse.jobs(), s.cluster)
    failures = attributed_failures(warehouse, s)
    return goodput.lost_goodput(jobs, failures, s.checkpointing.ckpt_s, s.goodput_rules)


def goodput_json(lost: goodput.LostGoodput | Absent) -> dict[str, Any]:
    """Lost goodput as one JSON-ready document."""
    return _plain(lost if isinstance(lost, Absent) else goodput.to_doc(lost))


def measured_rf(
    warehouse: Warehouse, settings: Settings | None = None
) -> metrics.NodeFailureRate | Absent:
    """r_f of the warehouse by the paper's procedure, to project at (absent with the reason
    when the data cannot measure it or it has no failure)."""
    s = settings or Settings()
    failures = attributed_failures(warehouse, s)
    rate = metrics.node_failure_rate(_scoped(warehouse.jobs(), s.cluster), failures, s.rf_min_gpus)
    return projectable(measurable_rf(rate, _counts(warehouse, s)))


def _node_dispersion(
    per_node: NodeFailures, events_per_node: pa.Table | Absent
) -> NodeDispersion | Absent:
    """Do nodes share one rate? Job failures charged to nodes where there are any, else the
    node failure episodes per node (node-days in service as exposure)."""
    jobs = per_node.per_node
    test = dispersion_test(jobs["failures"].to_numpy(), jobs["node_days"].to_numpy())
    if not isinstance(test, Absent):
        return NodeDispersion(
            "r_f failures of job attempts charged to a node; exposure: node-days of the "
            "attempts on the node",
            test,
            per_node.unassigned,
        )
    why = test.reason.removeprefix("not testable: ")
    if isinstance(events_per_node, Absent):
        return Absent(f"not testable: job failures per node: {why}; {events_per_node.reason}")
    by_events = dispersion_test(
        events_per_node["failures"].to_numpy(), events_per_node["node_days"].to_numpy()
    )
    if isinstance(by_events, Absent):
        return Absent(
            f"not testable: job failures per node: {why}; node failure episodes per node: "
            + by_events.reason.removeprefix("not testable: ")
        )
    return NodeDispersion(
        f"node failure episodes per node (job failures per node: {why}); exposure: node-days "
        "in service",
        by_events,
        per_node.unassigned,
    )


def _from_events(
    exposure: metrics.NodeDays | None, compute: Callable[[metrics.NodeDays], T]
) -> T | Absent:
    """``compute(exposure)`` where node events were ingested (``exposure`` given); absent
    otherwise."""
    return Absent(NO_EVENTS) if exposure is None else compute(exposure)


def _silently(step: str) -> None:
    """Report no step."""


def analyze(
    warehouse: Warehouse, settings: Settings | None = None, step: Callable[[str], None] = _silently
) -> Analysis:
    """Attribute failures, then compute every metric; heavy work stays in the engine.

    ``step`` is told each step as it begins (a progress display)."""
    s = settings or Settings()
    jobs = _scoped(warehouse.jobs(), s.cluster)
    events = _scoped(warehouse.table("node_events"), s.cluster)
    nodes = _scoped(warehouse.table("nodes"), s.cluster)
    rejects = warehouse.table("rejects")
    step("attributing failures")
    attributed = attribution_tables(warehouse, s)
    failures = attributed.failures
    overview = _overview(jobs, events, nodes, rejects)
    has_events = bool(overview["node_events"])
    has_data = overview["job_attempts"] or has_events
    step("node-days and failure episodes")
    records = overview.pop("records")  # for node-days: not a figure of the overview
    exposure = metrics.node_days(jobs, events, nodes, records=records) if has_data else None
    eps = warehouse.materialize("episodes", metrics.episodes(events, s.merge_gap_s))  # read 6x
    with_events = exposure if has_events else None
    step("the node failure rate")
    rate = metrics.node_failure_rate(jobs, failures, s.rf_min_gpus)
    rf = measurable_rf(rate, overview)
    basis = projectable(rf)
    causes = cause_gap(overview)
    step("job runs and their ETTR")
    measured_ettr = run_ettr(job_runs(warehouse, s, failures), basis, s, causes)
    step("lost goodput")
    lost = (
        goodput.lost_goodput(jobs, failures, s.checkpointing.ckpt_s, s.goodput_rules)
        if causes is None
        else causes
    )
    step("lemon nodes")
    found = (
        lemons.find_lemons(
            lemons.Inputs(jobs, events, nodes, failures), s.lemon, _data_end(exposure)
        )
        if has_data
        else None
    )
    step("job states, sizes and the remaining tables")
    tables = _run_present(
        {
            "job_states": metrics.job_states(jobs),
            "job_sizes": metrics.size_distribution(jobs),
            "failures_by_category": metrics.job_failure_rates(jobs, failures),
            "largest_failures": metrics.largest_failures(jobs, failures),
            "infra_failures": metrics.infra_failure_share(jobs, failures),
            "mttf_by_size": metrics.mttf_by_size(jobs, failures),
            "rejects": _rejects_summary(rejects),
            "per_node": node_failures(jobs, failures),
            "attribution_windows": _from_events(
                with_events, lambda _: attribution.sensitivity(jobs, attributed.candidates)
            ),
            "check_first_seen": _from_events(
                with_events,
                lambda e: timeline.first_appearances(
                    events, _new_after(overview["first_node_event"], e.period)
                ),
            ),
            "top_nodes": _from_events(with_events, lambda _: metrics.top_nodes(eps, s.top_nodes)),
            "events_per_node": _from_events(
                with_events, lambda e: node_episodes(eps, jobs, events, nodes, e.period)
            ),
        }
    )
    mttf_measured = tables.pop("mttf_by_size")
    mttf = mttf_measured if causes is None else causes
    mttf_projected = (
        basis
        if isinstance(basis, Absent)
        else mttf_projection(basis, s.projection_gpus, s.gpus_per_node)
    )
    return Analysis(
        settings=s,
        overview=overview,
        job_states=tables["job_states"],
        job_sizes=tables["job_sizes"],
        failures_by_category=tables["failures_by_category"],
        largest_failures=tables["largest_failures"],
        attribution_windows=tables["attribution_windows"],
        node_days=exposure,
        **_episode_figures(eps, with_events),
        check_first_seen=tables["check_first_seen"],
        top_nodes=tables["top_nodes"],
        node_failure_rate=rate,
        rf=rf,
        infra_failures=tables["infra_failures"] if causes is None else causes,
        mttf_by_size=mttf,
        mttf_projection=mttf_projected,
        mttf_vs_projection=(
            mttf
            if isinstance(mttf, Absent)
            else basis
            if isinstance(basis, Absent)
            else mttf_vs_projection(mttf, basis, s.gpus_per_node)
        ),
        node_dispersion=_node_dispersion(tables["per_node"], tables["events_per_node"]),
        ettr_projection=(
            basis if isinstance(basis, Absent) else ettr_projection(basis, s.projection_gpus, s)
        ),
        run_ettr=measured_ettr,
        ettr_design=design.ettr_design(basis, measured_ettr.num_rows, s),
        lost_goodput=lost,
        lemons=found,
        rejects=tables["rejects"],
    )


def _run_present(items: dict[str, stacking.Query[Any] | Absent]) -> dict[str, Any]:
    """Each query's result, all from one engine query, and each absent figure as it is."""
    queries = {name: q for name, q in items.items() if isinstance(q, stacking.Query)}
    results = dict(zip(queries, stacking.run_together(*queries.values()), strict=True))
    return {name: results.get(name, item) for name, item in items.items()}


def _episode_figures(eps: ir.Table, exposure: metrics.NodeDays | None) -> dict[str, Any]:
    """The episode rates of an analysis (all and hardware, by category, by week, by week and
    category), summed from one count of the episodes; absent without node events."""
    names = EPISODE_FIGURES
    if exposure is None:
        return dict.fromkeys(names, Absent(NO_EVENTS))
    counts = metrics.episode_counts(eps, exposure.period)
    figures = (
        metrics.episode_summary(counts, exposure),
        metrics.episode_rates(counts, exposure),
        metrics.weekly_episode_rates(counts, exposure),
        metrics.weekly_episode_rates(counts, exposure, by=("category",)),
    )
    return dict(zip(names, figures, strict=True))


def _data_end(exposure: metrics.NodeDays | None) -> datetime | None:
    """The latest time of any record (``metrics.analysis_period``), where node-days were
    measured over the records."""
    return None if exposure is None else (exposure.records or exposure.period).end


def _new_after(first_event: datetime, period: metrics.Period) -> datetime:
    """A check is new when it first appears more than a week after both the node events and
    the period begin: before that, every check is appearing for the first time."""
    return max(first_event, period.start) + metrics.WEEK


def _plain(value: Any) -> Any:
    """A JSON-ready value: ISO times, None for NaN/inf, ``Absent`` as ``{"value": null,
    "absent": reason}``, dataclasses as mappings, nested containers converted."""
    if isinstance(value, Absent):
        return value.to_json()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pa.Table):
        return _plain(value.to_pylist())
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    return value


def node_days_figure(exposure: metrics.NodeDays | None) -> float | Absent:
    """Node-days of the analysis, or why there are none."""
    if exposure is None:
        return Absent("no job accounting or node events ingested")
    if not exposure.node_days:
        return Absent("no node names in the jobs or node events, and no inventory")
    return exposure.node_days


def _dispersion_doc(d: NodeDispersion | Absent) -> Any:
    if isinstance(d, Absent):
        return d
    return asdict(d.test) | {
        "tested": d.tested,
        "shared": d.test.shared,
        "unassigned_failures": d.unassigned_failures,
    }


def to_json(result: Analysis) -> dict[str, Any]:
    """The analysis as one JSON-ready document (keys documented in the README); a figure
    without input is ``{"value": null, "absent": reason}``."""
    exposure = result.node_days
    doc: dict[str, Any] = {
        "settings": asdict(result.settings),
        "overview": result.overview,
        "node_days": node_days_figure(None)
        if exposure is None
        else {
            "period_start": exposure.period.start,
            "period_end": exposure.period.end,
            "records_start": (exposure.records or exposure.period).start,
            "records_end": (exposure.records or exposure.period).end,
            "method": exposure.method,
            "node_days": node_days_figure(exposure),
            "by_cluster": exposure.by_cluster,
        },
        "job_states": result.job_states,
        "job_sizes": result.job_sizes,
        "failures_by_category": result.failures_by_category,
        "largest_failures": result.largest_failures,
        "attribution_windows": result.attribution_windows,
        "episode_summary": result.episode_summary,
        "episodes_by_category": result.episodes_by_category,
        "episodes_by_week": result.episodes_by_week,
        "episodes_by_week_category": result.episodes_by_week_category,
        "check_first_seen": result.check_first_seen,
        "top_nodes": result.top_nodes,
        "node_failure_rate": result.rf,
        "infra_failures": result.infra_failures,
        "mttf_by_size": result.mttf_by_size,
        "mttf_projection": result.mttf_projection,
        "projection": {
            "mttf_by_bucket": result.mttf_vs_projection,
            "node_dispersion": _dispersion_doc(result.node_dispersion),
        },
        "ettr": {
            "checkpointing": asdict(result.settings.checkpointing),
            "run_rules": asdict(result.settings.run_rules),
            "expected": result.ettr_projection,
            "measured_by_bucket": result.run_ettr,
        },
        "design_space": design.to_doc(result.ettr_design),
        "lost_goodput": result.lost_goodput
        if isinstance(result.lost_goodput, Absent)
        else goodput.to_doc(result.lost_goodput),
        "lemons": None
        if result.lemons is None
        else lemons.to_doc(result.lemons, top=result.settings.top_nodes),
        "rejects": result.rejects,
    }
    return _plain(doc)
