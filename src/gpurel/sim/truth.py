"""Ground-truth tables of a simulation (stored in the warehouse as ``truth_*``).

What gpurel's analysis must recover, known exactly because the simulator made it happen:

- ``truth_jobs``: every job attempt of the canonical ``jobs`` table (same cluster, job_id,
  submit/start/end times) with its true cause (``codes.CAUSES``), the fault behind it, its run,
  and for preemptions the job that preempted it and whether that job was coming back from a
  fault (a second-order preemption in the paper's lost-goodput sense);
- ``truth_preemptions``: one row per preemption: victim, preemptor and second-order flag;
- ``truth_faults``: every fault that struck a node in the window, with its category, whether
  it was a false positive, noise (a warning only), a lemon's extra fault or permanent, its
  co-occurring records, when it was detected (null for faults never seen), when the node came
  back and how many attempts it ended;
- ``truth_nodes``: the inventory with rack, pod, and which nodes are lemons;
- ``truth_runs``: every training run submitted in the window with its Δt_cp, u0 and w_cp, its
  queue, productive and unproductive seconds and its true ETTR = productive / (queue +
  productive + unproductive).
"""

from __future__ import annotations

import pyarrow as pa

from gpurel.schema import TIME

TRUTH_JOBS = pa.schema(
    [
        ("cluster", pa.string()),
        ("job_id", pa.string()),
        ("attempt_no", pa.int32()),  # 1-based over the whole simulation (warm-up included)
        ("submit_time", TIME),
        ("start_time", TIME),
        ("end_time", TIME),
        ("state", pa.string()),
        ("cause", pa.string()),
        ("fault_id", pa.int64()),
        ("category", pa.string()),  # category of the fault behind the attempt's end
        ("fault_node", pa.string()),
        ("run_id", pa.int64()),
        ("preempted_by", pa.string()),
        ("preemptor_after_fault", pa.bool_()),
    ]
)

TRUTH_PREEMPTIONS = pa.schema(
    [
        ("cluster", pa.string()),
        ("time", TIME),
        ("job_id", pa.string()),
        ("n_gpus", pa.int32()),
        ("start_time", TIME),
        ("preempted_by", pa.string()),
        ("preemptor_after_fault", pa.bool_()),
    ]
)

TRUTH_FAULTS = pa.schema(
    [
        ("cluster", pa.string()),
        ("fault_id", pa.int64()),
        ("node", pa.string()),
        ("time", TIME),
        ("category", pa.string()),
        ("severity", pa.string()),  # high / low / silent
        ("false_positive", pa.bool_()),
        ("noise", pa.bool_()),  # a check that warned on a healthy node: a record only
        ("lemon_node", pa.bool_()),
        ("lemon_extra", pa.bool_()),
        ("permanent", pa.bool_()),
        ("with_xid79", pa.bool_()),
        ("with_ipmi", pa.bool_()),
        ("detected_time", TIME),
        ("repaired_time", TIME),
        ("attempts_ended", pa.int32()),
    ]
)

TRUTH_NODES = pa.schema(
    [
        ("cluster", pa.string()),
        ("node", pa.string()),
        ("rack", pa.int32()),
        ("pod", pa.int32()),
        ("lemon", pa.bool_()),
        ("rate_multiplier", pa.float64()),
    ]
)

TRUTH_RUNS = pa.schema(
    [
        ("cluster", pa.string()),
        ("run_id", pa.int64()),
        ("name", pa.string()),
        ("user", pa.string()),
        ("n_gpus", pa.int32()),
        ("qos", pa.string()),
        ("status", pa.string()),  # completed / abandoned / unfinished
        ("work_s", pa.int64()),
        ("checkpoint_interval_s", pa.int64()),
        ("u0_s", pa.int64()),
        ("checkpoint_write_s", pa.int64()),
        ("first_submit", TIME),
        ("end_time", TIME),
        ("attempts", pa.int32()),
        ("job_ids", pa.int32()),
        ("fault_interruptions", pa.int32()),
        ("preemptions", pa.int32()),
        ("queue_s", pa.int64()),
        ("productive_s", pa.int64()),
        ("unproductive_s", pa.int64()),
        ("ettr", pa.float64()),
    ]
)

TRUTH: dict[str, pa.Schema] = {
    "truth_jobs": TRUTH_JOBS,
    "truth_preemptions": TRUTH_PREEMPTIONS,
    "truth_faults": TRUTH_FAULTS,
    "truth_nodes": TRUTH_NODES,
    "truth_runs": TRUTH_RUNS,
}
