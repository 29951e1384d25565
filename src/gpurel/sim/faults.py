"""Faults, drawn up front and vectorized: per-node Poisson processes per category.

Every fault kind of the config is a Poisson process on every node at its rate; lemon nodes
get an extra process at ``(lemon_rate_multiplier - 1)`` times the rate, drawn from its own
random stream, whose faults are all transient (a lemon passes the checks after a reboot and
returns to service: the defect survives every repair), so that a what-if on lemons changes
only the lemons' extra faults (common random numbers). False positives are one more process
whose check is one of the high-severity categories, and noise another: a check that warns
on a healthy node and passes at its next run (a warning record, no action). Each
fault carries its repair time and its co-occurring records (PCIe with XID 79 and IPMI, IB link
with XID 79) at the paper's shares. Whether a fault takes effect is decided while simulating:
a node that is not in service (draining, awaiting detection, in repair, spare) gets no new
faults.

The severity of each category comes from gpurel's taxonomy, so that what the simulator does
with a check (high: remove the node and kill its jobs; low: drain) is what the analysis
assumes; ``node_silent`` faults fire no check at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpurel import taxonomy
from gpurel.schema import Severity
from gpurel.sim.config import DAY, SILENT, FaultKind, SimConfig

XID79 = 1  # co-occurrence bits: an XID 79 record
IPMI = 2  # an IPMI critical interrupt record

HIGH, LOW, NONE = "high", "low", "silent"
UNSEEN = -1  # lag of a fault no check ever sees


def severity_of(category: str) -> str:
    """high (kill and remove), low (drain) or silent (no check), from the taxonomy."""
    if category == SILENT:
        return NONE
    found = taxonomy.default().classify_check(category)
    if found.category != category:
        raise ValueError(f"simulator check {category!r} is not a taxonomy category")
    return HIGH if found.severity == Severity.HIGH.value else LOW


@dataclass(frozen=True)
class FaultPlan:
    """Candidate faults in time order, and the node facts they depend on."""

    categories: tuple[str, ...]  # category of each config.faults entry
    severities: tuple[str, ...]  # HIGH / LOW / NONE per category
    time: np.ndarray  # int64 seconds
    node: np.ndarray  # int64
    category: np.ndarray  # int64 index into categories
    false_positive: np.ndarray  # bool
    noise: np.ndarray  # bool: a record only, the node stays in service
    lemon_extra: np.ndarray  # bool: from a lemon's extra process
    repair: np.ndarray  # int64 seconds out of service after detection
    permanent: np.ndarray  # bool
    cooccur: np.ndarray  # int64 bits XID79 | IPMI
    app_crash: np.ndarray  # float64 probability that a job notices first
    lag: np.ndarray  # int64 seconds until a check can see the fault; UNSEEN: never
    lemon: np.ndarray  # bool per node
    phase: np.ndarray  # int64 per node: offset of its periodic checks
    epilog_seed: int  # the stream of epilog checks failing on healthy nodes (engine)


def _stream(
    rng: np.random.Generator, nodes: np.ndarray, rate: float, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """(times, nodes) of a Poisson process of ``rate`` per 1000 node-days on ``nodes``."""
    count = rng.poisson(len(nodes) * rate / 1000 * horizon / DAY) if len(nodes) else 0
    return rng.integers(0, horizon, size=count, dtype=np.int64), rng.choice(nodes, size=count)


def _repairs(rng: np.random.Generator, config: SimConfig, permanent: np.ndarray) -> np.ndarray:
    median = np.where(permanent, config.permanent_repair_median, config.transient_repair_median)
    drawn = median * np.exp(config.repair_sigma * rng.standard_normal(len(permanent)))
    return np.maximum(drawn, 60).astype(np.int64)


def _lags(rng: np.random.Generator, config: SimConfig, kind: FaultKind, n: int) -> np.ndarray:
    """Detection lags of ``n`` faults of ``kind`` (lognormal around its median), or UNSEEN."""
    drawn = kind.detect_lag * np.exp(config.detect_lag_sigma * rng.standard_normal(n))
    unseen = rng.uniform(size=n) < kind.p_unseen
    return np.where(unseen, UNSEEN, drawn.astype(np.int64))


def _cooccur(rng: np.random.Generator, config: SimConfig, category: str, n: int) -> np.ndarray:
    u = rng.uniform(size=n)
    if category == "pcie":
        return np.where(u < config.pcie_ipmi_share, XID79 | IPMI, 0) | np.where(
            u < config.pcie_xid79_share, XID79, 0
        )
    if category == "ib_link":
        return np.where(u < config.ib_gpu_share, XID79, 0)
    return np.zeros(n, dtype=np.int64)


def draw(seed: np.random.SeedSequence, config: SimConfig, horizon: int) -> FaultPlan:
    """Every candidate fault before ``horizon`` on the scaled cluster."""
    n_nodes = config.effective_nodes
    node_seed, fp_seed, *kind_seeds = seed.spawn(2 + 2 * len(config.faults))
    node_rng = np.random.default_rng(node_seed)
    lemon = np.zeros(n_nodes, dtype=bool)
    lemon[node_rng.permutation(n_nodes)[: round(config.lemon_fraction * n_nodes)]] = True
    phase = node_rng.integers(0, config.check_interval, size=n_nodes, dtype=np.int64)
    everyone, lemons = np.arange(n_nodes), np.flatnonzero(lemon)
    categories = tuple(f.category for f in config.faults)
    severities = tuple(severity_of(c) for c in categories)
    parts: list[dict[str, np.ndarray]] = []
    for k, kind in enumerate(config.faults):
        rate = kind.rate * config.fault_scale
        extra = rate * (config.lemon_rate_multiplier - 1)
        for s, (nodes, r) in enumerate(((everyone, rate), (lemons, extra))):
            rng = np.random.default_rng(kind_seeds[2 * k + s])
            time, node = _stream(rng, nodes, r, horizon)
            n = len(time)
            # a lemon's own fault is never fixed for good: it passes the checks after a
            # reboot and comes back, which is what makes it a lemon
            permanent = (rng.uniform(size=n) < kind.p_permanent) & (s == 0)
            parts.append(
                {
                    "time": time,
                    "node": node,
                    "category": np.full(n, k),
                    "false_positive": np.zeros(n, bool),
                    "noise": np.zeros(n, bool),
                    "lemon_extra": np.full(n, s == 1),
                    "repair": _repairs(rng, config, permanent),
                    "permanent": permanent,
                    "cooccur": _cooccur(rng, config, kind.category, n),
                    "app_crash": np.full(n, kind.p_app_crash),
                    "lag": _lags(rng, config, kind, n),
                }
            )
    parts.append(_false_positives(np.random.default_rng(fp_seed), config, horizon, severities))
    noise_seed, epilog_seed = seed.spawn(2)
    parts.append(_noise(np.random.default_rng(noise_seed), config, horizon, severities))
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((merged["node"], merged["time"]))
    return FaultPlan(
        categories=categories,
        severities=severities,
        **{key: value[order] for key, value in merged.items()},
        lemon=lemon,
        phase=phase,
        epilog_seed=int(epilog_seed.generate_state(1)[0]),
    )


def _false_positives(
    rng: np.random.Generator, config: SimConfig, horizon: int, severities: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Failing high-severity checks on healthy nodes: out for a re-check, jobs killed."""
    time, node = _stream(
        rng, np.arange(config.effective_nodes), config.false_positive_rate, horizon
    )
    n = len(time)
    high = np.flatnonzero(np.array(severities) == HIGH)
    permanent = np.zeros(n, bool)
    return {
        "time": time,
        "node": node,
        "category": rng.choice(high, size=n) if len(high) else np.zeros(n, np.int64),
        "false_positive": np.ones(n, bool),
        "noise": np.zeros(n, bool),
        "lemon_extra": np.zeros(n, bool),
        "repair": _repairs(rng, config, permanent),
        "permanent": permanent,
        "cooccur": np.zeros(n, np.int64),
        "app_crash": np.zeros(n),
        "lag": np.zeros(n, np.int64),
    }


def _noise(
    rng: np.random.Generator, config: SimConfig, horizon: int, severities: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Checks warning once on healthy nodes: a warning record, no action."""
    checked = np.flatnonzero(np.array(severities) != NONE)
    rate = config.noise_per_node_day * 1000 if len(checked) else 0.0
    time, node = _stream(rng, np.arange(config.effective_nodes), rate, horizon)
    n = len(time)
    return {
        "time": time,
        "node": node,
        "category": rng.choice(checked, size=n) if n else np.zeros(0, np.int64),
        "false_positive": np.zeros(n, bool),
        "noise": np.ones(n, bool),
        "lemon_extra": np.zeros(n, bool),
        "repair": np.zeros(n, np.int64),
        "permanent": np.zeros(n, bool),
        "cooccur": np.zeros(n, np.int64),
        "app_crash": np.zeros(n),
        "lag": np.zeros(n, np.int64),
    }
