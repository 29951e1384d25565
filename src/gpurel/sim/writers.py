"""Write simulated tables in the formats real clusters produce, for gpurel's readers.

- ``write_sacct``: ``sacct -a -D --parsable2`` with a header, local times without offset in
  ``tz`` (as sacct prints them), ``Unknown`` for missing times, ``None assigned`` for jobs that
  never got nodes, compressed hostlists, ``CANCELLED by UID``, ``D-HH:MM:SS`` durations.
- ``write_gcm``: Meta GCM health-check JSON lines (``node``, ``cluster``, ``health_check``,
  ``type``, ``result`` 2 = critical / 1 = warn, ``_msg``, ``job_id`` 0, ``start_time`` in epoch
  seconds). Warnings and failures only; GCM also logs passing runs, which gpurel ignores.

Both read back through ``gpurel.ingest`` into the tables they were written from (the jobs'
``source`` aside). Beware that a local time in the repeated hour of a DST change is ambiguous
in sacct's own output: the reader takes the earlier instant.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import hostlist
from gpurel.sacct_fields import JOB_FIELDS

SACCT_FIELDS = (*JOB_FIELDS, "Elapsed", "Timelimit", "ExitCode")
GCM_RESULT = {"fail": 2, "warn": 1, "ok": 0}


def _text(values: pa.Array | pa.ChunkedArray, null: str = "") -> pa.Array:
    return pc.fill_null(pc.cast(values, pa.string()), null)


def _local_times(values: pa.ChunkedArray, tz: str) -> pa.Array:
    local = pc.strftime(values.cast(pa.timestamp("us", tz=tz)), format="%Y-%m-%dT%H:%M:%S")
    return pc.fill_null(pc.utf8_slice_codeunits(local, 0, 19), "Unknown")


def _durations(seconds: pa.ChunkedArray) -> pa.Array:
    """Seconds as Slurm prints durations: ``HH:MM:SS``, or ``D-HH:MM:SS`` from one day."""
    s = np.asarray(pc.fill_null(seconds, 0).to_numpy(), dtype=np.int64)
    days, rest = np.divmod(s, 86_400)
    hours, rest = np.divmod(rest, 3_600)
    minutes, secs = np.divmod(rest, 60)

    def two(x: np.ndarray) -> pa.Array:
        return pc.utf8_lpad(pa.array(x).cast(pa.string()), 2, "0")

    clock = pc.binary_join_element_wise(two(hours), two(minutes), two(secs), ":")
    with_days = pc.binary_join_element_wise(pa.array(days).cast(pa.string()), clock, "-")
    return pc.if_else(pa.array(days > 0), with_days, clock)


def _hostlists(nodes: pa.ChunkedArray) -> pa.Array:
    return pa.array(
        [hostlist.compress(n) if n else "None assigned" for n in nodes.to_pylist()], pa.string()
    )


def _tres(jobs: pa.Table) -> pa.Array:
    gpus, cpus, nodes = (_text(jobs[c]) for c in ("n_gpus", "n_cpus", "n_nodes"))
    parts = [
        pc.binary_join_element_wise("billing=", gpus, ""),
        pc.binary_join_element_wise("cpu=", cpus, ""),
        pc.binary_join_element_wise("gres/gpu=", gpus, ""),
        pc.binary_join_element_wise("node=", nodes, ""),
    ]
    joined = pc.binary_join_element_wise(*parts, ",")
    allocated = pc.greater(pc.list_value_length(jobs["nodes"]), 0)
    return pc.if_else(allocated, joined, "")


def sacct_lines(jobs: pa.Table, tz: str) -> pa.Array:
    """The ``--parsable2`` rows (without header) of canonical ``jobs``."""
    exit_code = pc.binary_join_element_wise(
        _text(jobs["exit_code"]), _text(jobs["exit_signal"]), ":"
    )
    columns = [
        _text(jobs["job_id"]),
        _text(jobs["job_id_raw"]),
        _text(jobs["name"]),
        _text(jobs["user"]),
        _text(jobs["account"]),
        _text(jobs["partition"]),
        _text(jobs["qos"]),
        _hostlists(jobs["nodes"]),
        _text(jobs["n_nodes"]),
        _text(jobs["n_cpus"]),
        _tres(jobs),
        _text(jobs["state_raw"]),
        _local_times(jobs["submit_time"], tz),
        _local_times(jobs["eligible_time"], tz),
        _local_times(jobs["start_time"], tz),
        _local_times(jobs["end_time"], tz),
        _durations(jobs["elapsed"]),
        _durations(jobs["time_limit"]),
        exit_code,
    ]
    return pc.binary_join_element_wise(*columns, "|")


def write_sacct(jobs: pa.Table, path: Path, tz: str = "UTC") -> None:
    """Write canonical ``jobs`` as ``sacct --parsable2`` text with a header line."""
    lines = sacct_lines(jobs, tz).to_pylist()
    with Path(path).open("w", encoding="utf-8") as out:
        out.write("|".join(SACCT_FIELDS) + "\n")
        for line in lines:
            out.write(line + "\n")


def write_gcm(events: pa.Table, path: Path) -> None:
    """Write canonical ``node_events`` as GCM health-check JSON lines."""
    seconds = pc.divide(pc.cast(events["time"].cast(pa.timestamp("us")), pa.int64()), 1_000_000)
    with Path(path).open("w", encoding="utf-8") as out:
        for row, start in zip(events.to_pylist(), seconds.to_pylist(), strict=True):
            record = {
                "cluster": row["cluster"],
                "node": row["node"],
                "health_check": row["check"],
                "type": "nagios",
                "result": GCM_RESULT[row["result"]],
                "_msg": row["message"] or "",
                "job_id": int(row["job_id"] or 0),
                "start_time": start,
            }
            out.write(json.dumps(record) + "\n")
