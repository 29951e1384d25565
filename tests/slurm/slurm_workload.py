"""The scripted workload with injected faults, in compressed time (about 90 s).

Each job is pinned to its nodes so that every fault hits a known job (role: nodes, what
happens, what sacct should say):

- ib: gpu001, a health check downs the node for its IB link (high severity): NODE_FAIL,
  requeued, then COMPLETED under the same job id;
- drained: gpu002, a health check drains the node for disk usage (low): COMPLETED;
- lemon1, lemon2: gpu003 fails twice with GPU memory (ECC) errors, repaired in between:
  NODE_FAIL twice;
- dead: gpu004's slurmd is killed and no check says anything: NODE_FAIL, unattributed;
- large: gpu[005-007] (24 GPUs), PCIe fault and XID 79 on gpu006: NODE_FAIL, requeued,
  then COMPLETED;
- user (``sleep 2; exit 1``), cancel (scancel), ok (``sleep 1``): gpu008, FAILED,
  CANCELLED by 0, COMPLETED;
- low, high: gpu009, the high-QoS job preempts the low-QoS one once PreemptExemptTime has
  passed: PREEMPTED, requeued, then COMPLETED; high COMPLETED;
- timeout: gpu010, a one-minute limit (Slurm's smallest; enforced every 30 s): TIMEOUT.

A requeued job waits two minutes before it may start again (Slurm's requeue BeginTime); the
workload sets its start time to now once the node is repaired, as an operator would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from slurmlab import Fault, SlurmLab, wait_until

IB = Fault("check ibstat", "check_hw_ib", "down", "No IB port mlx5_0:1 is ACTIVE")
DISK = Fault("disk usage", "check_fs_used", "drain", "/tmp 97% full")
ECC = Fault("nvidia smi ecc_uncorrected", "check_nv_ecc", "down", "GPU 3: uncorrectable ECC errors")
PCIE = Fault("check pci", "check_pci", "down", "PCIe link width degraded on GPU 0000:07:00", xid=79)

# first run long (so that the fault hits it), a rerun after requeue short
RERUN_AWARE = 'if [ "${SLURM_RESTART_COUNT:-0}" -eq 0 ]; then sleep 300; else sleep 2; fi'
GPUS = "--gres=gpu:8"
ENDED = {"COMPLETED", "FAILED", "NODE_FAIL", "CANCELLED", "TIMEOUT", "PREEMPTED"}


@dataclass
class Workload:
    """Job ids by role, and when the workload ran (UTC)."""

    jobs: dict[str, str] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None


def run(lab: SlurmLab) -> Workload:
    """Run the workload to its end; every job has ended when this returns."""
    w = Workload()
    j = w.jobs
    j["timeout"] = lab.sbatch("-w", "gpu010", "--time=1", "--no-requeue", script="sleep 300")
    j["ib"] = lab.sbatch("-w", "gpu001", GPUS, "--requeue", script=RERUN_AWARE)
    j["drained"] = lab.sbatch("-w", "gpu002", GPUS, script="sleep 12")
    j["lemon1"] = lab.sbatch("-w", "gpu003", GPUS, "--no-requeue", script="sleep 300")
    j["dead"] = lab.sbatch("-w", "gpu004", GPUS, "--no-requeue", script="sleep 300")
    j["large"] = lab.sbatch("-N", "3", "-w", "gpu[005-007]", GPUS, "--requeue", script=RERUN_AWARE)
    j["user"] = lab.sbatch("-w", "gpu008", script="sleep 2; exit 1")
    j["cancel"] = lab.sbatch("-w", "gpu008", script="sleep 300")
    j["ok"] = lab.sbatch("-w", "gpu008", script="sleep 1")
    j["low"] = lab.sbatch("-w", "gpu009", GPUS, "--qos=low", "--requeue", script=RERUN_AWARE)
    for role in ("ib", "drained", "lemon1", "dead", "large", "cancel", "low", "timeout"):
        lab.wait_job(j[role], {"RUNNING"})

    lab.inject("gpu001", IB)
    lab.inject("gpu002", DISK)
    lab.inject("gpu003", ECC)
    lab.inject("gpu006", PCIE)
    lab.kill_slurmd("gpu004")
    lab.run(["scancel", j["cancel"]])
    j["high"] = lab.sbatch("-w", "gpu009", GPUS, "--qos=high", script="sleep 3")

    _repair_and_rerun(lab, "gpu001", j["ib"])
    _repair_and_rerun(lab, "gpu006", j["large"])
    lab.wait_job(j["lemon1"], {"NODE_FAIL"})
    lab.resume("gpu003")
    j["lemon2"] = lab.sbatch("-w", "gpu003", GPUS, "--no-requeue", script="sleep 300")
    lab.wait_job(j["lemon2"], {"RUNNING"})
    lab.inject("gpu003", ECC)
    lab.wait_job(j["high"], {"COMPLETED"})
    _rerun_now(lab, j["low"])
    lab.wait_node("gpu002", {"drain"})
    for role, limit in (("dead", 90), ("timeout", 150)):
        lab.wait_job(j[role], ENDED, timeout=limit)
    for job_id in j.values():
        lab.wait_job(job_id, ENDED, timeout=60)
    lab.wait_accounted(list(j.values()), ENDED)  # what the collector will read
    w.finished = datetime.now(UTC)
    return w


def _repair_and_rerun(lab: SlurmLab, node: str, job_id: str) -> None:
    """Wait for the fault to requeue the job, repair the node, let the job start again."""
    wait_until(lambda: lab.job(job_id).get("Restarts", "0") != "0", f"job {job_id} requeued")
    lab.resume(node)
    _rerun_now(lab, job_id)


def _rerun_now(lab: SlurmLab, job_id: str) -> None:
    """Skip the two-minute wait of a requeued job."""
    lab.wait_job(job_id, {"PENDING"})
    lab.run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"])
    lab.wait_job(job_id, {"COMPLETED"})


@dataclass
class Exclusions:
    """Jobs that excluded nodes (``-x``/``--exclude``) and jobs on the nodes they excluded:
    job id -> the nodes it excluded."""

    excluded: dict[str, list[str]] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None

    def counts(self) -> dict[str, int]:
        """Per node, the jobs that excluded it."""
        out: dict[str, int] = {}
        for nodes in self.excluded.values():
            for node in nodes:
                out[node] = out.get(node, 0) + 1
        return out


# the exclude options as users type them (after the shell), each with the nodes it excludes
EXCLUDES = (
    (["-x", "gpu005"], ["gpu005"]),
    (["--exclude=gpu005"], ["gpu005"]),
    (["-xgpu005"], ["gpu005"]),
    (["--exclude=gpu[005-007]"], ["gpu005", "gpu006", "gpu007"]),
    (["--exclude", "gpu[006-007]"], ["gpu006", "gpu007"]),
    (["-x", "gpu006,gpu007"], ["gpu006", "gpu007"]),
)
SEEN = ("gpu001", "gpu005", "gpu006", "gpu007", "gpu008", "gpu009", "gpu010")


def run_exclusions(lab: SlurmLab) -> Exclusions:
    """Submit the jobs that exclude nodes (they run on nodes the workload left in service),
    one by srun, and one job on each node of ``SEEN``; every job has ended and is accounted
    when this returns."""
    done = Exclusions()
    for options, nodes in EXCLUDES:
        done.excluded[lab.sbatch(*options, script="sleep 1")] = nodes
    srun = ["srun", "-N1", "-x", "gpu005", "printenv", "SLURM_JOB_ID"]
    done.excluded[lab.run(srun).stdout.strip()] = ["gpu005"]
    for node in SEEN:
        done.excluded[lab.sbatch("-w", node, script="sleep 1")] = []
    for job_id in done.excluded:
        lab.wait_job(job_id, {"COMPLETED"}, timeout=120)
    lab.wait_accounted(list(done.excluded), {"COMPLETED"})
    done.finished = datetime.now(UTC)
    return done
