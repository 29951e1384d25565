"""The small integer codes the simulator records: job states, true causes, node states."""

from __future__ import annotations

from gpurel.schema import JobState

# Job attempt end states, in the order of STATES.
COMPLETED, FAILED, NODE_FAIL, PREEMPTED, REQUEUED, TIMEOUT, OOM, CANCELLED, RUNNING, PENDING = (
    range(10)
)
STATES = (
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.NODE_FAIL,
    JobState.PREEMPTED,
    JobState.REQUEUED,
    JobState.TIMEOUT,
    JobState.OUT_OF_MEMORY,
    JobState.CANCELLED,
    JobState.RUNNING,
    JobState.PENDING,
)

# Slurm's ExitCode (code:signal) of each state, as sacct prints it.
EXIT = ((0, 0), (1, 0), (0, 0), (0, 15), (0, 15), (0, 15), (0, 125), (0, 15), (0, 0), (0, 0))

# True cause of the end of an attempt (truth_jobs.cause).
(
    C_COMPLETED,
    C_USER,
    C_OOM,
    C_CANCELLED,
    C_TIMEOUT,
    C_TIME_LIMIT,
    C_FAULT,
    C_SILENT,
    C_FALSE_POSITIVE,
    C_PREEMPTED,
    C_RUNNING,
) = range(11)
CAUSES = (
    "completed",
    "user",
    "oom",
    "cancelled",
    "timeout",
    "time_limit_requeue",
    "fault",
    "silent_fault",
    "false_positive",
    "preempted",
    "running",
)

# Node states.
UP, DRAIN, HELD, DOWN, SPARE = range(5)
