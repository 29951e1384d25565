"""Impossible job times, found the same way by every reader of job records.

A scheduler writes a job's times after they happened and Elapsed from the same clock, so:

- no time lies in the future (beyond the moment of reading plus a day of clock skew);
- a job does not end before it starts;
- Elapsed is not longer than End - Start (suspension can only make it shorter), beyond the
  hour of a clock change.

A row that breaks one is rejected, naming the field and the values, instead of being stored
as if real: one job ending in 2100 would multiply the GPU-hours and cut every rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SKEW = timedelta(days=1)  # clocks of the cluster and of this machine may differ this much
# Elapsed may exceed End - Start read from local times by a clock change (an hour) that
# Elapsed cannot resolve, plus rounding; beyond that the row is wrong
ELAPSED_SLACK_S = 3600 + 60

TIME_FIELDS = ("submit_time", "eligible_time", "start_time", "end_time")


@dataclass(frozen=True)
class Implausible:
    """Rows (a boolean mask) whose ``field`` breaks a rule, and why."""

    field: str
    rows: np.ndarray
    reason: str


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _seconds(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.divide(pc.cast(values, pa.int64()), 1_000_000)


def job_times(columns: dict[str, pa.Array], now: datetime | None = None) -> list[Implausible]:
    """The rules above over canonical job columns (times as ``schema.TIME``, ``elapsed`` in
    seconds); absent columns are not checked. Each row is named by the first rule it breaks."""
    latest = pa.scalar((now or datetime.now(UTC)) + SKEW, pa.timestamp("us", "UTC"))
    found = []
    for name in TIME_FIELDS:
        if name in columns:
            future = _mask(pc.greater(columns[name], latest))
            found.append(Implausible(name, future, "in the future"))
    start, end = columns.get("start_time"), columns.get("end_time")
    if start is not None and end is not None:
        found.append(Implausible("end_time", _mask(pc.less(end, start)), "ends before it starts"))
        elapsed = columns.get("elapsed")
        if elapsed is not None:
            span = pc.subtract(_seconds(end), _seconds(start))
            longer = pc.greater(elapsed, pc.add(span, ELAPSED_SLACK_S))
            found.append(Implausible("elapsed", _mask(longer), "longer than End - Start"))
    return found
