"""Canonical tables: the Arrow schemas every reader produces and every analysis reads.

Times are UTC (``timestamp[us, tz=UTC]``), durations are seconds (int64).
The job attempt number is not stored: the warehouse derives it (see ``warehouse.jobs``)
so that attempts ingested from overlapping files always number the same way.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")


class JobState(StrEnum):
    """Canonical Slurm job states (``state``); the raw text is kept in ``state_raw``."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    REQUEUED = "REQUEUED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    CANCELLED = "CANCELLED"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    UNKNOWN = "UNKNOWN"


# States that end a job attempt because something went wrong while it ran.
INTERRUPTING_STATES = (JobState.FAILED, JobState.NODE_FAIL)


class Domain(StrEnum):
    """Failure domain of a check or category (PAPER.md §2)."""

    HARDWARE = "hardware"
    SYSTEM_SOFTWARE = "system_software"
    USER = "user"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    """High: node removed at once and its jobs killed. Low: drained. Info: recorded only."""

    HIGH = "high"
    LOW = "low"
    INFO = "info"


class Result(StrEnum):
    """Outcome of one health-check run or node state record."""

    FAIL = "fail"
    WARN = "warn"
    OK = "ok"


JOBS = pa.schema(
    [
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("job_id", pa.string(), nullable=False),  # as Slurm prints it: 123, 123_4, 123+0
        pa.field("job_id_raw", pa.string()),  # Slurm's numeric JobIDRaw where known
        pa.field("name", pa.string()),
        pa.field("user", pa.string()),
        pa.field("account", pa.string()),
        pa.field("partition", pa.string()),
        pa.field("qos", pa.string()),
        pa.field("submit_time", TIME),
        pa.field("eligible_time", TIME),
        pa.field("start_time", TIME),
        pa.field("end_time", TIME),
        pa.field("state", pa.string(), nullable=False),  # JobState
        pa.field("state_raw", pa.string()),
        pa.field("cancelled_by", pa.string()),  # uid or name from "CANCELLED by N"
        pa.field("exit_code", pa.int32()),
        pa.field("exit_signal", pa.int32()),
        pa.field("n_nodes", pa.int32()),
        pa.field("n_gpus", pa.int32()),
        pa.field("n_cpus", pa.int32()),
        pa.field("nodes", pa.list_(pa.string())),  # expanded host names, empty if none
        pa.field("excluded_nodes", pa.list_(pa.string())),  # null where the input has no such field
        pa.field("time_limit", pa.int64()),  # seconds, null = unlimited/unknown
        pa.field("elapsed", pa.int64()),  # seconds as reported by the scheduler
        pa.field("restarts", pa.int32()),
        pa.field("source", pa.string(), nullable=False),
    ]
)

STEPS = pa.schema(
    [
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("job_id", pa.string(), nullable=False),
        pa.field("step_id", pa.string(), nullable=False),  # batch, extern, 0, 1, ...
        pa.field("name", pa.string()),
        pa.field("start_time", TIME),
        pa.field("end_time", TIME),
        pa.field("state", pa.string(), nullable=False),
        pa.field("state_raw", pa.string()),
        pa.field("exit_code", pa.int32()),
        pa.field("exit_signal", pa.int32()),
        pa.field("n_nodes", pa.int32()),
        pa.field("nodes", pa.list_(pa.string())),
        pa.field("source", pa.string(), nullable=False),
    ]
)

NODE_EVENTS = pa.schema(
    [
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("node", pa.string(), nullable=False),
        pa.field("time", TIME, nullable=False),
        pa.field("end_time", TIME),
        pa.field("source", pa.string(), nullable=False),  # nhc, gcm, slurm_event, kernel_xid, ...
        pa.field("check", pa.string(), nullable=False),  # raw check name
        pa.field("category", pa.string(), nullable=False),  # taxonomy category
        pa.field("domain", pa.string(), nullable=False),  # Domain
        pa.field("severity", pa.string(), nullable=False),  # Severity
        pa.field("result", pa.string(), nullable=False),  # Result
        pa.field("xid", pa.int32()),
        pa.field("job_id", pa.string()),  # job the record names, where the source has one
        pa.field("message", pa.string()),
    ]
)

NODES = pa.schema(
    [
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("node", pa.string(), nullable=False),
        pa.field("gpus", pa.int32()),
        pa.field("in_service_start", TIME),
        pa.field("in_service_end", TIME),
        pa.field("source", pa.string(), nullable=False),
    ]
)

REJECTS = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),  # file the row came from
        pa.field("line", pa.int64()),  # 1-based line (or record number for JSON)
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),  # the offending text, cut to RAW_LIMIT characters
    ]
)

RAW_LIMIT = 500

TABLES: dict[str, pa.Schema] = {
    "jobs": JOBS,
    "steps": STEPS,
    "node_events": NODE_EVENTS,
    "nodes": NODES,
    "rejects": REJECTS,
}

# Natural keys: ingesting a row whose key is present replaces the stored row.
KEYS: dict[str, tuple[str, ...]] = {
    "jobs": ("cluster", "job_id", "submit_time", "start_time"),
    "steps": ("cluster", "job_id", "step_id", "start_time"),
    "node_events": ("cluster", "node", "time", "source", "check", "result", "message"),
    "nodes": ("cluster", "node"),
    "rejects": ("source", "line", "field", "reason"),
}


def empty(name: str) -> pa.Table:
    """An empty table with the canonical schema ``name``."""
    return TABLES[name].empty_table()


def conform(name: str, table: pa.Table) -> pa.Table:
    """Cast ``table`` to canonical schema ``name`` (order, types); missing columns are null."""
    schema = TABLES[name]
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
