"""Simulator configuration: every parameter with its meaning and source, and the presets.

Each field of ``SimConfig`` carries metadata: ``doc`` (what it means) and ``source``, which
starts with one of

- ``paper``: a number stated by Kokolis et al. (arXiv 2410.21680), see PAPER.md;
- ``calibrated``: tuned so that gpurel's analysis of a simulated year reproduces a paper figure
  (docs/simulator.md has the calibration table);
- ``assumption``: our choice where the paper is silent, with the reasoning.

Durations are whole seconds (``unit = "duration"`` in the metadata: ``--set u0=2m`` works).
Rates of faults are per 1000 node-days. ``preset("rsc1")`` and ``preset("rsc2")`` give the two
clusters of the paper; ``with_overrides`` applies ``--set key=value`` pairs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gpurel.errors import ConfigError
from gpurel.units import parse_duration

DAY = 86_400
HOUR = 3_600
MINUTE = 60

SILENT = "node_silent"  # a node that dies with no check firing (unattributed NODE_FAIL)

# QoS levels, lowest first; a higher level may preempt a lower one. Single jobs use the
# first three; "top" is the largest training runs' (run_top_min_gpus).
QOS = ("low", "normal", "high", "top")


@dataclass(frozen=True)
class FaultKind:
    """One fault process: a taxonomy category (= the simulator's check name) and its rate,
    and how its check sees it: only ``detect_lag`` after the fault (lognormal median, in
    seconds; a mount check sees a hung mount only after its timeouts), or never
    (``p_unseen``: the jobs crash with no record, as a user failure looks)."""

    category: str  # simulator check name, or SILENT
    rate: float  # per 1000 node-days, per node, before lemon multipliers
    p_permanent: float  # probability that repair takes the permanent-repair time
    p_app_crash: float  # probability that a job on the node crashes before the check fires
    detect_lag: int = 0  # median seconds until the check can see the fault
    p_unseen: float = 0.0  # probability that no check ever sees it


@dataclass(frozen=True)
class RunClass:
    """Training runs of one size: how many start per day and how much work they need."""

    gpus: int
    per_day: float
    work_median_h: float  # median productive hours to finish (lognormal)


def param(default: Any, doc: str, source: str, unit: str | None = None) -> Any:
    """A dataclass field carrying its documentation and source."""
    return field(default=default, metadata={"doc": doc, "source": source, "unit": unit})


# rate, P(permanent), P(job crashes first), detection lag (s), P(never seen): rates are
# calibrated (their total to r_f, their order to the paper's largest causes: IB link, mount,
# GPU memory, PCIe), lags and blind spots are assumptions: link state, ECC and bus errors are
# read at once; mount, driver and disk checks see a fault only after timeouts.
RSC1_FAULTS = (
    FaultKind("ib_link", 1.10, 0.30, 0.70, 0, 0.02),
    FaultKind("filesystem_mount", 0.85, 0.05, 0.30, 600, 0.05),
    FaultKind("gpu_memory", 0.75, 0.40, 0.80, 0, 0.05),
    FaultKind("pcie", 0.60, 0.50, 0.60, 120, 0.10),
    FaultKind("gpu_unavailable", 0.15, 0.40, 0.80, 0, 0.02),
    FaultKind("nvlink", 0.15, 0.40, 0.70, 60, 0.05),
    FaultKind("gsp_timeout", 0.20, 0.05, 0.50, 300, 0.10),
    FaultKind("driver", 0.20, 0.05, 0.50, 300, 0.10),
    FaultKind("block_device", 0.15, 0.60, 0.30, 900, 0.10),
    FaultKind("ipmi_critical", 0.10, 0.30, 0.20, 60, 0.05),
    FaultKind("cpu_memory", 0.10, 0.50, 0.50, 0, 0.10),
    FaultKind("power", 0.05, 0.60, 0.30, 0, 0.02),
    FaultKind(SILENT, 0.35, 0.20, 0.0),
    FaultKind("host_service", 0.50, 0.05, 0.0),
    FaultKind("thermal", 0.15, 0.30, 0.0),
    FaultKind("frontend_network", 0.15, 0.30, 0.0),
)

RSC1_SINGLE_SIZES = (
    (1, 0.46),
    (2, 0.16),
    (4, 0.33),
    (8, 0.03),
    (16, 0.01),
    (32, 0.005),
    (64, 0.003),
    (128, 0.0015),
    (256, 0.0005),
)

RSC1_RUNS = (
    RunClass(8, 30.0, 14.0),
    RunClass(16, 16.0, 14.0),
    RunClass(32, 8.0, 20.0),
    RunClass(64, 4.5, 26.0),
    RunClass(128, 3.0, 28.0),
    RunClass(256, 4.2, 40.0),
    RunClass(512, 1.2, 52.0),
    RunClass(1024, 0.40, 66.0),
    RunClass(2048, 0.11, 80.0),
    RunClass(4096, 0.06, 96.0),
)


@dataclass(frozen=True)
class SimConfig:
    """Everything a simulation depends on besides its seed."""

    # --- cluster ---------------------------------------------------------------------------
    cluster: str = param("rsc1", "cluster name in every table", "assumption: the paper's name")
    nodes: int = param(2000, "compute nodes", "paper: RSC-1 has 16k GPUs, 8 per node")
    gpus_per_node: int = param(8, "GPUs per node", "paper: DGX A100")
    cpus_per_gpu: int = param(32, "CPUs allocated per GPU", "assumption: 256 threads / 8 GPUs")
    nodes_per_rack: int = param(4, "nodes per rack (names, truth)", "assumption")
    racks_per_pod: int = param(8, "racks per pod (names, truth)", "assumption")
    spare_nodes: int = param(
        0,
        "nodes held out of scheduling and swapped in when a node goes to repair",
        "assumption: none by default (what-if knob)",
    )
    scale: float = param(
        1.0,
        "multiplies nodes, arrival rates and the spare pool; job sizes are capped at "
        "max_job_share of the scaled cluster",
        "assumption: for fast tests and demos",
    )
    max_job_share: float = param(
        0.5, "largest job as a share of the cluster's GPUs", "assumption: keeps gangs schedulable"
    )
    days: float = param(330.0, "simulated days after the warm-up", "paper: 11 months")
    warmup_days: float = param(
        7.0,
        "least days simulated before the window; the warm-up goes on until utilization, queued "
        "GPU demand and the GPUs of runs in progress are stationary (MSER on daily means, "
        "sim/steady.py); only what happens in the window is output",
        "assumption",
    )
    warmup_max_days: float = param(
        60.0,
        "the warm-up ends here even if the cluster never became stationary (stats say so)",
        "assumption",
    )
    start: str = param(
        "2024-01-01T00:00:00+00:00", "wallclock of the window's start (ISO, with offset)", "any"
    )

    # --- single jobs -----------------------------------------------------------------------
    jobs_per_day: float = param(
        7000.0,
        "single (non-run) job submissions per day; training runs add their own job ids",
        "paper: 7.2k jobs/day on RSC-1 in total",
    )
    diurnal_amplitude: float = param(
        0.5,
        "single-job submissions follow the day: rate x (1 + a sin), peaking at 15:00",
        "assumption: working hours; makes the daily peaks that drive preemption",
    )
    single_sizes: tuple[tuple[int, float], ...] = param(
        RSC1_SINGLE_SIZES,
        "GPUs of single jobs and their weights",
        "paper: >40% 1-GPU, >90% below one node, <10% of GPU time below one node",
    )
    single_qos: tuple[float, float, float] = param(
        (0.40, 0.40, 0.20),
        "weights of the low, normal and high QoS for single jobs",
        "calibrated: PREEMPTED share of attempts",
    )
    single_duration_median: int = param(
        33 * MINUTE,
        "median runtime of a 1-GPU single job that completes (lognormal)",
        "calibrated: GPU-time share below one node",
        "duration",
    )
    single_duration_sigma: float = param(
        1.7, "lognormal sigma of single-job runtimes", "calibrated"
    )
    single_duration_size_exp: float = param(
        0.25, "median runtime grows as gpus**exp", "assumption: bigger jobs run longer"
    )
    p_user_fail: float = param(
        0.26, "single jobs that fail by themselves (FAILED)", "calibrated: FAILED 24% of attempts"
    )
    p_cancel: float = param(0.06, "single jobs the user cancels", "calibrated: CANCELLED ~3%")
    p_timeout: float = param(
        0.007, "single jobs that outrun their time limit", "paper: TIMEOUT 0.6%"
    )
    p_oom: float = param(0.0011, "single jobs killed for memory", "paper: OUT_OF_MEMORY 0.1%")
    fail_median: int = param(
        6 * MINUTE,
        "median time to a user failure (lognormal)",
        "assumption: most crashes come early",
        "duration",
    )
    fail_sigma: float = param(1.8, "lognormal sigma of the time to a user failure", "assumption")
    cancel_median: int = param(
        HOUR, "median time from submission to a cancel", "assumption", "duration"
    )
    patience_median: int = param(
        12 * HOUR,
        "median time a user lets a single job wait before cancelling it (lognormal, sigma 1)",
        "assumption: sheds load when the queue is long",
        "duration",
    )

    # --- training runs ---------------------------------------------------------------------
    runs: tuple[RunClass, ...] = param(
        RSC1_RUNS,
        "training runs per size: starts per day and median work",
        "calibrated: 256+ GPUs use 66% of GPU time, 4k-GPU jobs <1% of jobs",
    )
    run_work_sigma: float = param(1.0, "lognormal sigma of run work", "assumption")
    run_high_min_gpus: int = param(
        256, "runs this large or larger get the high QoS", "assumption: project quota"
    )
    run_top_min_gpus: int = param(
        2048,
        "runs this large or larger get the top QoS, above every other job: they may preempt "
        "high-QoS jobs, and nothing preempts them",
        "paper: the measured runs above 1024 GPUs ran at top priority",
    )
    run_low_share: float = param(
        0.3, "share of smaller runs in the low QoS (else normal)", "calibrated: PREEMPTED share"
    )
    run_time_limit: int = param(
        8 * HOUR,
        "time limit of each attempt of a run below run_high_min_gpus; the run stops after its "
        "last checkpoint within the limit and requeues itself (submitit), which Slurm records "
        "as REQUEUED; no work is lost",
        "calibrated: REQUEUED 2% of attempts",
        "duration",
    )
    large_run_time_limit: int = param(
        1 * DAY,
        "time limit of each attempt of a run of run_high_min_gpus or more",
        "calibrated: hardware failures 18.7% of GPU time",
        "duration",
    )
    run_user_fail_per_day: float = param(
        0.15, "hazard of a run crashing by itself, per running day", "assumption"
    )
    run_resubmit_prob: float = param(
        0.7, "a run that crashed by itself is resubmitted (new job id)", "assumption"
    )
    run_resubmit_delay: int = param(
        30 * MINUTE, "median delay before such a resubmission", "assumption", "duration"
    )
    checkpoint_interval: int = param(
        HOUR, "Δt_cp of every run", "paper: hourly checkpoints assumed", "duration"
    )
    u0: int = param(
        5 * MINUTE,
        "restart overhead of every attempt after a run's first",
        "paper: 5 min",
        "duration",
    )
    checkpoint_write: int = param(
        0, "blocking checkpoint write time w_cp", "paper: non-blocking writes", "duration"
    )

    # --- scheduler -------------------------------------------------------------------------
    sched_interval: int = param(
        30, "seconds between scheduling passes", "assumption: Slurm's backfill cadence", "duration"
    )
    preempt_interval: int = param(
        2 * MINUTE, "seconds between preemption passes", "assumption", "duration"
    )
    preempt_exempt: int = param(
        2 * HOUR, "a job becomes preemptible after running this long", "paper", "duration"
    )
    max_lifetime: int = param(7 * DAY, "maximum job lifetime", "paper", "duration")
    requeue_delay: int = param(
        2 * MINUTE, "a requeued job becomes eligible after this", "assumption", "duration"
    )

    # --- health checks ---------------------------------------------------------------------
    check_interval: int = param(5 * MINUTE, "periodic health checks", "paper", "duration")
    heartbeat_timeout: int = param(
        5 * MINUTE,
        "Slurm declares a silent node dead (NODE_FAIL) after this",
        "assumption: SlurmdTimeout=300",
        "duration",
    )
    crash_delay_mean: int = param(
        MINUTE,
        "mean delay before a job notices a fault and crashes (then the epilog check fires)",
        "assumption",
        "duration",
    )
    kill_delay: int = param(
        MINUTE,
        "from a failing high-severity check to Slurm killing the node's jobs (the record comes "
        "this much before their end)",
        "assumption: the check drains the node, slurmctld then kills and requeues",
        "duration",
    )
    detect_lag_sigma: float = param(
        1.0, "lognormal sigma of each check's detection lag", "assumption"
    )
    low_repeat_after: int = param(
        HOUR,
        "a low-severity check is recorded every check_interval for this long, then every "
        "low_repeat_interval until the node has drained",
        "assumption: bounded output",
        "duration",
    )
    low_repeat_interval: int = param(30 * MINUTE, "see low_repeat_after", "assumption", "duration")
    false_positive_rate: float = param(
        0.05,
        "high-severity checks failing on a healthy node, per 1000 node-days: the node is "
        "taken out and its jobs killed, then it passes again",
        "paper: fewer than 1% of completed jobs see a failed check",
    )
    epilog_false_positive: float = param(
        0.0002,
        "probability that a node's epilog fails a high-severity check at a job's end although "
        "the node is healthy: the record is stamped at the job's end, Slurm drains the node "
        "(its other jobs run on) and it is re-checked like a transient fault",
        "assumption: one epilog in 5,000, within the paper's budget (fewer than 1% of completed "
        "jobs see a failed check) and bounded by its 4% of 512+ GPU jobs failing without "
        "lemons (a 4096-GPU job runs 512 epilogs)",
    )
    noise_per_node_day: float = param(
        0.5,
        "warnings on healthy nodes, per node-day: a check (any category) warns once and passes "
        "at its next run (corrected ECC errors near a threshold, a link's error rate rising, a "
        "warm GPU): a warning record, no action",
        "assumption: checks return success, warning or failure (paper); only failures count",
    )

    # --- faults ----------------------------------------------------------------------------
    faults: tuple[FaultKind, ...] = param(
        RSC1_FAULTS,
        "fault processes per category",
        "calibrated: r_f 6.50 on RSC-1; mix: paper (IB links, mounts, GPU memory, PCIe largest)",
    )
    fault_scale: float = param(
        0.54,
        "multiplies every fault rate (lemons' included)",
        "calibrated: r_f 6.50 with lemons at lemon_rate_multiplier; a what-if knob",
    )
    transient_repair_median: int = param(
        HOUR, "median time out of service after a transient fault", "assumption", "duration"
    )
    permanent_repair_median: int = param(
        3 * DAY, "median time out of service after a permanent fault", "assumption", "duration"
    )
    repair_sigma: float = param(0.8, "lognormal sigma of repair times", "assumption")
    lemon_fraction: float = param(
        0.012, "share of nodes that are lemons", "paper: 24 of RSC-1's nodes (1.2%)"
    )
    lemon_rate_multiplier: float = param(
        200.0,
        "fault rate of a lemon relative to a normal node; its own faults are transient (it "
        "passes the checks after a reboot) and survive every repair",
        "calibrated: lemons cut 512+-GPU job failures from 14% to 4%",
    )
    pcie_xid79_share: float = param(
        0.43, "PCIe faults that co-occur with XID 79", "paper: 43% (RSC-1) / 63% (RSC-2)"
    )
    pcie_ipmi_share: float = param(
        0.21,
        "PCIe faults that co-occur with XID 79 and an IPMI critical interrupt",
        "paper: 21% / 49%",
    )
    ib_gpu_share: float = param(
        0.02, "IB link faults that co-occur with a GPU failure (XID 79)", "paper: 2% / 6%"
    )
    users: int = param(600, "distinct users (Zipf-distributed activity)", "assumption")
    projects: int = param(60, "accounts (projects)", "assumption")

    @property
    def effective_nodes(self) -> int:
        """Nodes after ``scale``."""
        return max(1, round(self.nodes * self.scale))

    @property
    def max_job_gpus(self) -> int:
        """The largest job the scaled cluster runs: a power of two within max_job_share."""
        limit = self.effective_nodes * self.gpus_per_node * self.max_job_share
        size = 1
        while size * 2 <= limit:
            size *= 2
        return size

    def validate(self) -> SimConfig:
        """Raise ConfigError on values that cannot be simulated; return self."""
        problems = []
        if self.effective_nodes < 2:
            problems.append("the scaled cluster needs at least 2 nodes")
        if self.days <= 0 or not 0 <= self.warmup_days <= self.warmup_max_days:
            problems.append("days must be positive and 0 <= warmup_days <= warmup_max_days")
        shares = (self.p_user_fail, self.p_cancel, self.p_timeout, self.p_oom)
        if min(shares) < 0 or sum(shares) >= 1:
            problems.append("p_user_fail + p_cancel + p_timeout + p_oom must be in [0, 1)")
        if self.checkpoint_interval <= 0 or self.check_interval <= 0:
            problems.append("checkpoint_interval and check_interval must be positive")
        if not 0 <= self.epilog_false_positive < 1 or self.noise_per_node_day < 0:
            problems.append("epilog_false_positive must be in [0, 1), noise_per_node_day >= 0")
        if min(f.rate for f in self.faults) < 0 or self.lemon_rate_multiplier < 1:
            problems.append("fault rates must be >= 0 and lemon_rate_multiplier >= 1")
        if problems:
            raise ConfigError("simulator config: " + "; ".join(problems))
        return self


# paper: r_f 2.34 on RSC-2 against 6.50 on RSC-1; calibrated down a little more because RSC-2
# has more lemons (1.7% of nodes), which raise the measured rate.
RSC2_FAULT_SCALE = 2.34 / 6.50 * 0.87

RSC2_RUNS = (
    RunClass(8, 22.0, 14.0),
    RunClass(16, 10.0, 16.0),
    RunClass(32, 6.0, 20.0),
    RunClass(64, 4.0, 26.0),
    RunClass(128, 3.0, 28.0),
    RunClass(256, 2.4, 40.0),
    RunClass(512, 0.65, 52.0),
    RunClass(1024, 0.18, 60.0),
    RunClass(2048, 0.04, 70.0),
)

PRESETS: dict[str, SimConfig] = {
    "rsc1": SimConfig(),
    "rsc2": SimConfig(
        cluster="rsc2",
        nodes=1000,
        jobs_per_day=4000.0,
        runs=RSC2_RUNS,
        faults=tuple(dataclasses.replace(f, rate=f.rate * RSC2_FAULT_SCALE) for f in RSC1_FAULTS),
        lemon_fraction=0.017,
        pcie_xid79_share=0.63,
        pcie_ipmi_share=0.49,
        ib_gpu_share=0.06,
    ),
}


def preset(name: str) -> SimConfig:
    """A named preset (``rsc1``, ``rsc2``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None


def describe() -> list[dict[str, str]]:
    """Every parameter: name, default (rsc1), unit, doc and source (for docs and --help)."""
    rows = []
    for f in dataclasses.fields(SimConfig):
        rows.append(
            {
                "name": f.name,
                "default": repr(f.default),
                "unit": f.metadata.get("unit") or "",
                "doc": f.metadata.get("doc", ""),
                "source": f.metadata.get("source", ""),
            }
        )
    return rows


_SCALARS: dict[type, Callable[[str], Any]] = {int: int, float: float, str: str}


def _convert(f: dataclasses.Field[Any], text: str) -> Any:
    if f.metadata.get("unit") == "duration":
        return round(parse_duration(text))
    convert = _SCALARS.get(type(f.default))
    if convert is None:
        raise ConfigError(f"--set {f.name}: only scalar parameters can be set (or rate.CATEGORY)")
    return convert(text)


def _with_rate(config: SimConfig, category: str, text: str) -> SimConfig:
    known = {f.category for f in config.faults}
    if category not in known:
        raise ConfigError(f"--set rate.{category}: unknown fault category; known: {sorted(known)}")
    rate = float(text)
    faults = tuple(
        dataclasses.replace(f, rate=rate) if f.category == category else f for f in config.faults
    )
    return dataclasses.replace(config, faults=faults)


def with_overrides(config: SimConfig, overrides: dict[str, str]) -> SimConfig:
    """``config`` with ``--set`` values applied: ``u0=2m``, ``lemon_rate_multiplier=1``,
    ``rate.ib_link=0.5`` (per 1000 node-days)."""
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    for key, text in overrides.items():
        if key.startswith("rate."):
            config = _with_rate(config, key.removeprefix("rate."), text)
            continue
        if key not in fields:
            raise ConfigError(f"--set {key}: unknown parameter (see docs/simulator.md)")
        try:
            value = _convert(fields[key], text)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--set {key}={text}: {exc}") from exc
        config = dataclasses.replace(config, **{key: value})
    return config.validate()


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["u0=2m", "scale=0.1"]`` → ``{"u0": "2m", "scale": "0.1"}``."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs
