"""The journal of a simulation as Arrow: canonical tables and ground truth, once, vectorized.

Only the window after the warm-up is output: attempts that end in it (or are still running or
waiting at its end), failing records and faults in it, runs submitted in it. Node names are
``{cluster}-gpu{00001}``; racks and pods are in ``truth_nodes``. Users are ``u0042`` with uid
10042 and account ``proj007``; single jobs are named by their kind (``eval``, ``sweep``...),
the jobs of training run 17 are all named ``run000017`` so that runs can be chained by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema, taxonomy
from gpurel.sim import codes
from gpurel.sim.config import QOS, SimConfig
from gpurel.sim.faults import IPMI, XID79, FaultPlan
from gpurel.sim.health import XID79_CODE, HealthLog
from gpurel.sim.journal import RUN_STATUS, Journal
from gpurel.sim.truth import TRUTH
from gpurel.sim.workload import SINGLE_NAMES, Workload

SOURCE_JOBS = "sim"
SOURCE_EVENTS = "gcm"  # what the GCM JSON lines read back as
UID_BASE = 10_000

# The text each simulated check prints (GCM's _msg). Only the XID record names an XID.
MESSAGES = {
    "ib_link": "mlx5_2 port 1: physical state LinkDown (link flaps: 6 in 10 min)",
    "filesystem_mount": "mount point /checkpoint missing or read-only",
    "gpu_memory": "GPU 3: uncorrectable ECC error, row remap failed",
    "pcie": "GPU 5: PCIe link degraded (width x8, expected x16), AER fatal errors",
    "gpu_unavailable": "GPU 6 inaccessible: nvidia-smi reports 7 of 8 GPUs",
    "nvlink": "GPU 1: NVLink 4 inactive, replay errors above threshold",
    "gsp_timeout": "GPU 2: GSP RPC timeout",
    "driver": "NVIDIA driver not responding (NVML_ERROR_DRIVER_NOT_LOADED)",
    "block_device": "nvme0n1: I/O error, dev nvme0n1, sector 123456",
    "ipmi_critical": "IPMI SEL: critical interrupt, bus uncorrectable error",
    "cpu_memory": "EDAC MC1: uncorrected memory error on DIMM B2",
    "host_service": "service slurmd degraded: restarts above threshold",
    "power": "PSU 2: power supply failure, redundancy lost",
    "thermal": "GPU 4 temperature 91C above threshold",
    "frontend_network": "eth0: link speed 10000Mb/s below expected 100000Mb/s",
}
XID79_MESSAGE = f"XID error: {XID79_CODE}, XID causes: GPU has fallen off the bus"


@dataclass(frozen=True)
class Window:
    """The output window on the simulator's clock, and its wallclock start."""

    begin: int  # simulator seconds
    end: int
    epoch: int  # wallclock seconds since 1970 at ``begin``

    @classmethod
    def of(cls, config: SimConfig, begin: int, horizon: int) -> Window:
        """The window from the end of the warm-up to the horizon."""
        epoch = int(datetime.fromisoformat(config.start).timestamp())
        return cls(begin, horizon, epoch)

    def times(self, values: np.ndarray) -> pa.Array:
        """Simulator seconds as UTC timestamps; negative values are null."""
        values = np.asarray(values, dtype=np.int64)
        micros = (values - self.begin + self.epoch) * 1_000_000
        return pa.array(micros, pa.int64(), mask=values < 0).cast(schema.TIME)


def node_names(config: SimConfig) -> list[str]:
    """Host names of the scaled cluster."""
    return [f"{config.cluster}-gpu{i + 1:05d}" for i in range(config.effective_nodes)]


def _take(values: list[str] | tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index, pa.int64()))


def _const(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _run_names(n_runs: int) -> list[str]:
    return [f"run{r:06d}" for r in range(n_runs)]


class Builder:
    """Turns one simulation's journal into canonical and truth tables."""

    def __init__(
        self,
        config: SimConfig,
        journal: Journal,
        work: Workload,
        plan: FaultPlan,
        health: HealthLog,
        window: Window,
    ) -> None:
        self.config = config
        self.j = journal
        self.work = work
        self.plan = plan
        self.health = health
        self.window = window
        self.names = node_names(config)
        a_end = np.asarray(journal.a_end, dtype=np.int64)
        self.keep = np.flatnonzero((a_end >= window.begin) | (a_end < 0))
        self.job = np.asarray(journal.a_job, dtype=np.int64)[self.keep]

    # --- canonical ---------------------------------------------------------------------------

    def jobs(self) -> pa.Table:
        """The canonical ``jobs`` table."""
        j, keep, job, w, config = self.j, self.keep, self.job, self.window, self.config
        n = len(keep)
        col = {name: np.asarray(getattr(j, name), dtype=np.int64) for name in ("gpus", "qos")}
        start = np.asarray(j.a_start, dtype=np.int64)[keep]
        end = np.asarray(j.a_end, dtype=np.int64)[keep]
        state = np.asarray(j.a_state, dtype=np.int64)[keep]
        started = start >= 0
        gpus = col["gpus"][job]
        user = np.asarray(j.user, dtype=np.int64)[job]
        uid = pc.cast(pa.array(user + UID_BASE), pa.string())
        cancelled = state == codes.CANCELLED
        state_name = _take([s.value for s in codes.STATES], state)
        raw = pc.if_else(
            pa.array(cancelled), pc.binary_join_element_wise(state_name, uid, " by "), state_name
        )
        exit_code = np.array([e[0] for e in codes.EXIT], dtype=np.int32)[state]
        exit_signal = np.array([e[1] for e in codes.EXIT], dtype=np.int32)[state]
        job_id = pc.cast(pa.array(job + 1), pa.string())
        elapsed = np.where(started, np.where(end >= 0, end, w.end) - start, 0)
        n_nodes = np.asarray(j.a_n_nodes, dtype=np.int64)[keep]
        requested = np.maximum(gpus // config.gpus_per_node, 1)
        table = pa.table(
            {
                "cluster": _const(config.cluster, n),
                "job_id": job_id,
                "job_id_raw": job_id,
                "name": self._job_names(job),
                "user": _take([f"u{u:04d}" for u in range(config.users)], user),
                "account": _take(
                    [f"proj{u % config.projects:03d}" for u in range(config.users)], user
                ),
                "partition": _const("learn", n),
                "qos": _take(QOS, col["qos"][job]),
                "submit_time": w.times(np.asarray(j.a_submit)[keep]),
                "eligible_time": w.times(np.asarray(j.a_eligible)[keep]),
                "start_time": w.times(start),
                "end_time": w.times(end),
                "state": state_name,
                "state_raw": raw,
                "cancelled_by": pc.if_else(pa.array(cancelled), uid, pa.scalar(None, pa.string())),
                "exit_code": exit_code,
                "exit_signal": exit_signal,
                "n_nodes": np.where(started, n_nodes, requested).astype(np.int32),
                "n_gpus": np.where(started, gpus, 0).astype(np.int32),  # sacct: no AllocTRES
                "n_cpus": pa.array((gpus * config.cpus_per_gpu).astype(np.int32), mask=~started),
                "nodes": self._node_lists(keep),
                "time_limit": np.asarray(j.limit, dtype=np.int64)[job],
                "elapsed": elapsed,
                "source": _const(SOURCE_JOBS, n),
            }
        )
        return schema.conform("jobs", table)

    def _job_names(self, job: np.ndarray) -> pa.Array:
        single = np.asarray(self.j.single, dtype=np.int64)[job]
        run = np.asarray(self.j.run, dtype=np.int64)[job]
        kinds = self.work.singles.name[np.maximum(single, 0)]
        names = list(SINGLE_NAMES) + _run_names(len(self.work.runs.submit))
        return _take(names, np.where(run >= 0, run + len(SINGLE_NAMES), kinds))

    def _node_lists(self, keep: np.ndarray) -> pa.Array:
        counts = np.asarray(self.j.a_n_nodes, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        flat = np.asarray(self.j.a_nodes, dtype=np.int64)
        starts, stops = offsets[keep], offsets[keep + 1]
        lengths = stops - starts
        index = np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        row = np.repeat(np.arange(len(keep)), lengths)
        picked = flat[index][np.lexsort((flat[index], row))]  # hostlist order within a row
        values = _take(self.names, picked)
        out_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(out_offsets), values)

    def node_events(self) -> pa.Table:
        """The canonical ``node_events`` table (failing records of the window)."""
        h, w = self.health, self.window
        time = np.asarray(h.time, dtype=np.int64)
        keep = np.flatnonzero(time >= w.begin)
        checks = np.asarray(h.check, dtype=object)[keep]
        xid = np.asarray(h.xid, dtype=np.int64)[keep]
        tax = taxonomy.default()
        found = {c: tax.classify_check(c) for c in set(checks.tolist())}
        pairs = list(zip(checks.tolist(), xid.tolist(), strict=True))
        classes = [tax.classify_xid(x) if x == XID79_CODE else found[c] for c, x in pairs]
        n = len(keep)
        table = pa.table(
            {
                "cluster": _const(self.config.cluster, n),
                "node": _take(self.names, np.asarray(h.node, dtype=np.int64)[keep]),
                "time": w.times(time[keep]),
                "source": _const(SOURCE_EVENTS, n),
                "check": pa.array(checks.tolist(), pa.string()),
                "category": [c.category for c in classes],
                "domain": [c.domain for c in classes],
                "severity": [c.severity for c in classes],
                "result": pa.array(
                    np.where(
                        np.asarray(h.warn, dtype=bool)[keep],
                        schema.Result.WARN.value,
                        schema.Result.FAIL.value,
                    ),
                    pa.string(),
                ),
                "xid": pa.array(xid.astype(np.int32), mask=xid < 0),
                "message": [
                    XID79_MESSAGE if x == XID79_CODE else MESSAGES.get(c, f"{c} check failed")
                    for c, x in pairs
                ],
            }
        )
        return schema.conform("node_events", table)

    def nodes(self) -> pa.Table:
        """The canonical ``nodes`` inventory: every node in service for the whole window."""
        n, w = len(self.names), self.window
        return schema.conform(
            "nodes",
            pa.table(
                {
                    "cluster": _const(self.config.cluster, n),
                    "node": pa.array(self.names, pa.string()),
                    "gpus": pa.array([self.config.gpus_per_node] * n, pa.int32()),
                    "in_service_start": w.times(np.full(n, w.begin)),
                    "in_service_end": w.times(np.full(n, w.end)),
                    "source": _const(SOURCE_JOBS, n),
                }
            ),
        )

    # --- truth -------------------------------------------------------------------------------

    def truth_jobs(self) -> pa.Table:
        """True cause of every output attempt."""
        j, keep, job, w = self.j, self.keep, self.job, self.window
        all_jobs = np.asarray(j.a_job, dtype=np.int64)
        order = np.argsort(all_jobs, kind="stable")
        first = np.searchsorted(all_jobs[order], all_jobs[order])
        attempt = np.empty(len(all_jobs), dtype=np.int64)
        attempt[order] = np.arange(len(all_jobs)) - first + 1
        fault = np.asarray(j.a_fault, dtype=np.int64)[keep]
        by = np.asarray(j.a_by, dtype=np.int64)[keep]
        cause = np.asarray(j.a_cause, dtype=np.int64)[keep]
        has_fault = fault >= 0
        run = np.asarray(j.run, dtype=np.int64)[job]
        return pa.table(
            {
                "cluster": _const(self.config.cluster, len(keep)),
                "job_id": pc.cast(pa.array(job + 1), pa.string()),
                "attempt_no": attempt[keep].astype(np.int32),
                "submit_time": w.times(np.asarray(j.a_submit)[keep]),
                "start_time": w.times(np.asarray(j.a_start)[keep]),
                "end_time": w.times(np.asarray(j.a_end)[keep]),
                "state": _take([s.value for s in codes.STATES], np.asarray(j.a_state)[keep]),
                "cause": _take(codes.CAUSES, cause),
                "fault_id": pa.array(fault, mask=~has_fault),
                "category": self._per_fault(self._fault_categories(), fault),
                "fault_node": self._per_fault(
                    np.asarray(self.names, object)[self.plan.node], fault
                ),
                "run_id": pa.array(run, mask=run < 0),
                "preempted_by": pc.if_else(
                    pa.array(by >= 0), pc.cast(pa.array(by + 1), pa.string()), None
                ),
                "preemptor_after_fault": np.asarray(j.a_by_after_fault, dtype=bool)[keep],
            },
            schema=TRUTH["truth_jobs"],
        )

    def _fault_categories(self) -> np.ndarray:
        """The category of each fault's check (a false positive's too)."""
        return np.asarray(self.plan.categories, dtype=object)[self.plan.category]

    @staticmethod
    def _per_fault(values: np.ndarray, fault: np.ndarray) -> pa.Array:
        """``values[fault]`` as strings, null where there is no fault."""
        picked = np.full(len(fault), None, dtype=object)
        picked[fault >= 0] = values[fault[fault >= 0]]
        return pa.array(picked.tolist(), pa.string())

    def truth_preemptions(self, truth_jobs: pa.Table, jobs: pa.Table) -> pa.Table:
        """One row per preemption in the window."""
        mask = pc.equal(truth_jobs["cause"], "preempted")
        victims = truth_jobs.filter(mask)
        return pa.table(
            {
                "cluster": victims["cluster"],
                "time": victims["end_time"],
                "job_id": victims["job_id"],
                "n_gpus": jobs["n_gpus"].filter(mask),
                "start_time": victims["start_time"],
                "preempted_by": victims["preempted_by"],
                "preemptor_after_fault": victims["preemptor_after_fault"],
            },
            schema=TRUTH["truth_preemptions"],
        )

    def truth_faults(self) -> pa.Table:
        """Every fault that struck a node in the window."""
        j, plan, w = self.j, self.plan, self.window
        applied = np.asarray(j.f_applied, dtype=np.int64)
        keep = np.flatnonzero(applied >= w.begin)
        severity = np.asarray(plan.severities, dtype=object)[plan.category[keep]]
        false_positive = plan.false_positive[keep]
        return pa.table(
            {
                "cluster": _const(self.config.cluster, len(keep)),
                "fault_id": keep.astype(np.int64),
                "node": _take(self.names, plan.node[keep]),
                "time": w.times(applied[keep]),
                "category": pa.array(self._fault_categories()[keep].tolist(), pa.string()),
                "severity": pa.array(np.where(false_positive, "high", severity).tolist()),
                "false_positive": false_positive,
                "noise": plan.noise[keep],
                "lemon_node": plan.lemon[plan.node[keep]],
                "lemon_extra": plan.lemon_extra[keep],
                "permanent": plan.permanent[keep],
                "with_xid79": (plan.cooccur[keep] & XID79) > 0,
                "with_ipmi": (plan.cooccur[keep] & IPMI) > 0,
                "detected_time": w.times(np.asarray(j.f_detected, dtype=np.int64)[keep]),
                "repaired_time": w.times(np.asarray(j.f_repaired, dtype=np.int64)[keep]),
                "attempts_ended": np.asarray(j.f_killed, dtype=np.int32)[keep],
            },
            schema=TRUTH["truth_faults"],
        )

    def truth_nodes(self) -> pa.Table:
        """The inventory with racks, pods and lemons."""
        config, lemon = self.config, self.plan.lemon
        rack = np.arange(len(self.names)) // config.nodes_per_rack
        return pa.table(
            {
                "cluster": _const(config.cluster, len(self.names)),
                "node": pa.array(self.names, pa.string()),
                "rack": rack.astype(np.int32),
                "pod": (rack // config.racks_per_pod).astype(np.int32),
                "lemon": lemon,
                "rate_multiplier": np.where(lemon, config.lemon_rate_multiplier, 1.0),
            },
            schema=TRUTH["truth_nodes"],
        )

    def truth_runs(self) -> pa.Table:
        """Every training run submitted in the window, with its true ETTR."""
        j, w, config, runs = self.j, self.window, self.config, self.work.runs
        submit = np.asarray(j.r_submit, dtype=np.int64)
        keep = np.flatnonzero(submit >= w.begin)
        col = {
            name: np.asarray(getattr(j, name), dtype=np.int64)[keep]
            for name in ("r_queue", "r_productive", "r_unproductive", "r_end", "r_work")
        }
        wall = col["r_queue"] + col["r_productive"] + col["r_unproductive"]
        n = len(keep)
        return pa.table(
            {
                "cluster": _const(config.cluster, n),
                "run_id": keep.astype(np.int64),
                "name": pa.array(_run_names(len(runs.submit)), pa.string()).take(pa.array(keep)),
                "user": _take([f"u{u:04d}" for u in range(config.users)], runs.user[keep]),
                "n_gpus": runs.gpus[keep].astype(np.int32),
                "qos": _take(QOS, runs.qos[keep]),
                "status": _take(RUN_STATUS, np.asarray(j.r_status, dtype=np.int64)[keep]),
                "work_s": col["r_work"],
                "checkpoint_interval_s": np.full(n, config.checkpoint_interval, np.int64),
                "u0_s": np.full(n, config.u0, np.int64),
                "checkpoint_write_s": np.full(n, config.checkpoint_write, np.int64),
                "first_submit": w.times(submit[keep]),
                "end_time": w.times(col["r_end"]),
                "attempts": np.asarray(j.r_attempts, dtype=np.int32)[keep],
                "job_ids": np.asarray(j.r_jobs, dtype=np.int32)[keep],
                "fault_interruptions": np.asarray(j.r_fault_stops, dtype=np.int32)[keep],
                "preemptions": np.asarray(j.r_preemptions, dtype=np.int32)[keep],
                "queue_s": col["r_queue"],
                "productive_s": col["r_productive"],
                "unproductive_s": col["r_unproductive"],
                "ettr": pa.array(
                    np.divide(col["r_productive"], wall, where=wall > 0, out=np.zeros(n)),
                    mask=wall <= 0,
                ),
            },
            schema=TRUTH["truth_runs"],
        )

    def build(self) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
        """(canonical tables, truth tables)."""
        jobs = self.jobs()
        truth_jobs = self.truth_jobs()
        canonical = {"jobs": jobs, "node_events": self.node_events(), "nodes": self.nodes()}
        truth = {
            "truth_jobs": truth_jobs,
            "truth_preemptions": self.truth_preemptions(truth_jobs, jobs),
            "truth_faults": self.truth_faults(),
            "truth_nodes": self.truth_nodes(),
            "truth_runs": self.truth_runs(),
        }
        return canonical, truth
