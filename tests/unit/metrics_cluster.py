"""A small cluster written as sacct text and an events CSV, and plain-Python recounts of the
figures gpurel exports for it (r_f windows, failures and episodes per category, lost goodput,
run ETTR), independent of the analysis code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from scipy.stats import chi2

from gpurel import hostlist, taxonomy

CLUSTER = "c1"
END = datetime(2024, 6, 29, tzinfo=UTC)  # the data's end: the last job ends here
QUEUE = timedelta(hours=1)  # every job waits this long
BEFORE, AFTER = timedelta(minutes=10), timedelta(minutes=5)  # the default attribution window
RF_MIN_GPUS = 128
HALF_CKPT_S = 1800  # half the default checkpoint interval
MERGE_GAP = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Job:
    job_id: int
    nodes: str  # hostlist
    state: str
    start: datetime
    end: datetime

    @property
    def node_names(self) -> list[str]:
        return hostlist.expand(self.nodes)

    @property
    def gpus(self) -> int:
        return 8 * len(self.node_names)


@dataclass(frozen=True)
class Event:
    node: str
    time: datetime
    check: str  # the shipped taxonomy maps these check names to the category of that name


JOBS = (
    Job(101, "gpu[001-032]", "COMPLETED", END - 30 * DAY, END - 20 * DAY),
    Job(102, "gpu[001-016]", "FAILED", END - 10 * DAY, END - 9 * DAY),
    Job(103, "gpu[001-024]", "NODE_FAIL", END - 6 * DAY, END - 5 * DAY),
    Job(104, "gpu[005-024]", "FAILED", END - 3 * DAY, END - 2 * DAY),
    Job(105, "gpu[025-032]", "COMPLETED", END - timedelta(hours=30), END),
    Job(106, "gpu001", "FAILED", END - DAY, END - DAY + timedelta(hours=1)),
)
EVENTS = (
    Event("gpu003", END - 9 * DAY - timedelta(minutes=2), "gpu_unavailable"),  # job 102
    Event("gpu010", END - 2 * DAY + timedelta(minutes=1), "ib_link"),  # job 104
    Event("gpu010", END - 2 * DAY + timedelta(minutes=31), "ib_link"),  # same episode
    Event("gpu030", END - 15 * DAY, "filesystem_mount"),  # no job ends near it
    Event("gpu030", END - 14 * DAY, "filesystem_mount"),  # a day later: a second episode
)
BAD_LINES = 1  # sacct lines that cannot be read
SACCT_HEADER = "JobID|JobName|User|Account|Partition|QOS|NodeList|NNodes|AllocTRES|State|"
SACCT_HEADER += "Submit|Eligible|Start|End|Timelimit|ExitCode"


def _t(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def write_inputs(directory: Path) -> list[Path]:
    """The sacct text file (with one unreadable line) and the events CSV."""
    lines = [SACCT_HEADER]
    for j in JOBS:
        n = len(j.node_names)
        tres = f"cpu={64 * n},gres/gpu={j.gpus},node={n}"
        submit = _t(j.start - QUEUE)
        lines.append(
            f"{j.job_id}|job{j.job_id}|alice|ml|gpu|normal|{j.nodes}|{n}|{tres}|{j.state}|"
            f"{submit}|{submit}|{_t(j.start)}|{_t(j.end)}|30-00:00:00|0:0"
        )
    lines.append("107|job107|alice|ml|gpu|normal|gpu001|1|gres/gpu=8|COMPLETED|yesterday|||||0:0")
    sacct = directory / "sacct.txt"
    sacct.write_text("\n".join(lines) + "\n")
    rows = ["time,node,check,result,cluster"]
    rows += [f"{e.time.isoformat()},{e.node},{e.check},fail,{CLUSTER}" for e in EVENTS]
    events = directory / "events.csv"
    events.write_text("\n".join(rows) + "\n")
    return [sacct, events]


def cause(job: Job, after: timedelta = AFTER) -> tuple[str, str, str | None]:
    """Category, domain and severity of a failed job's attributed cause (the closest event
    on its nodes within the window; every event here is of high severity)."""
    near = [
        e
        for e in EVENTS
        if e.node in job.node_names and job.end - BEFORE <= e.time <= job.end + after
    ]
    if near:
        event = min(near, key=lambda e: (abs(e.time - job.end), e.time))
        category = taxonomy.default().categories[event.check]
        return event.check, category.domain, category.severity
    return ("unattributed", "unknown", None) if job.state == "NODE_FAIL" else ("none", "user", None)


def failed_jobs() -> list[Job]:
    return [j for j in JOBS if j.state in ("FAILED", "NODE_FAIL")]


def failures_per_category(after: timedelta = AFTER) -> Counter[tuple[str, str]]:
    """(category, domain) -> interrupted attempts."""
    return Counter(cause(j, after)[:2] for j in failed_jobs())


def rf_window(days: int, after: timedelta = AFTER) -> tuple[int, float]:
    """Failures and node-seconds of r_f over ``(END - days, END]``."""
    start = END - days * DAY
    counted = [j for j in JOBS if j.gpus > RF_MIN_GPUS and start < j.end <= END]
    exposure = sum(
        len(j.node_names) * (j.end - max(j.start, start)).total_seconds() for j in counted
    )
    failures = sum(
        j.state == "NODE_FAIL" or (j.state == "FAILED" and cause(j, after)[2] == "high")
        for j in counted
    )
    return failures, exposure


def garwood(k: int, exposure: float) -> tuple[float, float]:
    """Exact 95% Poisson interval of ``k`` events over ``exposure``."""
    lo = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2 / exposure
    return lo, chi2.ppf(0.975, 2 * k + 2) / 2 / exposure


def episodes_per_category() -> Counter[tuple[str, str]]:
    """(category, domain) -> episodes: events of one node and check merged across gaps."""
    found: Counter[tuple[str, str]] = Counter()
    keys = sorted({(e.node, e.check) for e in EVENTS})
    for node, check in keys:
        times = sorted(e.time for e in EVENTS if (e.node, e.check) == (node, check))
        starts = 1 + sum(b - a > MERGE_GAP for a, b in pairwise(times))
        found[check, taxonomy.default().categories[check].domain] += starts
    return found


def first_order_gpu_seconds() -> float:
    """GPU time lost to infrastructure failures: min(runtime, half the interval) x GPUs."""
    lost = 0.0
    for job in failed_jobs():
        _, domain, _ = cause(job)
        infra = domain in ("hardware", "system_software") or (
            job.state == "NODE_FAIL" and domain == "unknown"
        )
        if infra:
            lost += min((job.end - job.start).total_seconds(), HALF_CKPT_S) * job.gpus
    return lost


def run_ettr() -> dict[str, list[float]]:
    """Size bucket -> ETTR of each run of at least 24 h. Every run here is one job of one
    attempt, and a run's last attempt is never an interruption: its ETTR is its running time
    over running time plus queue time."""
    found: dict[str, list[float]] = {}
    for job in JOBS:
        running = (job.end - job.start).total_seconds()
        if running >= 24 * 3600:
            bucket = str(1 << (job.gpus - 1).bit_length())
            found.setdefault(bucket, []).append(running / (running + QUEUE.total_seconds()))
    return found
