"""The sacct fields that gpurel's collector asks for and its simulator writes."""

from __future__ import annotations

# Identity, placement, allocation, state and times of a job attempt, in ``--format`` order.
# The collector adds raw durations and Restarts; the simulator's writer, printed durations.
JOB_FIELDS = (
    "JobID",
    "JobIDRaw",
    "JobName",
    "User",
    "Account",
    "Partition",
    "QOS",
    "NodeList",
    "NNodes",
    "NCPUS",
    "AllocTRES",
    "State",
    "Submit",
    "Eligible",
    "Start",
    "End",
)
