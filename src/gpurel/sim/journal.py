"""What a simulation records, column by column: job slots, attempts, runs and faults.

Plain lists appended in the event loop (cheap) and turned into Arrow once by ``output``.
Job slots are numbered in submission order, so slot + 1 is the Slurm job id.
"""

from __future__ import annotations

from collections.abc import Sequence

from gpurel.sim import codes
from gpurel.sim.config import SimConfig

PENDING, RUNNING, DONE, WAITING = range(4)  # job slot status (as in engine)
RUN_ACTIVE, RUN_COMPLETED, RUN_ABANDONED, RUN_UNFINISHED = range(4)
RUN_STATUS = ("active", "completed", "abandoned", "unfinished")
FAULT_CAUSES = (codes.C_FAULT, codes.C_SILENT, codes.C_FALSE_POSITIVE)


class Journal:
    """Columns of everything the engine did; see ``output`` for their tables."""

    def __init__(self, n_faults: int, n_runs: int) -> None:
        # job slots
        self.first_submit: list[int] = []
        self.gpus: list[int] = []
        self.qos: list[int] = []
        self.user: list[int] = []
        self.limit: list[int] = []
        self.run: list[int] = []  # -1 = single job
        self.single: list[int] = []  # row in workload.singles, -1 = job of a run
        self.status: list[int] = []
        self.attempts: list[int] = []
        self.submit: list[int] = []  # submit time of the current attempt (reset by requeue)
        self.eligible: list[int] = []
        self.start: list[int] = []
        self.nodes: list[Sequence[int]] = []
        self.plan_state: list[int] = []
        self.plan_cause: list[int] = []
        self.last_cause: list[int] = []
        self.overhead: list[int] = []  # restart overhead u0 paid by the current attempt
        # attempts
        self.a_job: list[int] = []
        self.a_submit: list[int] = []
        self.a_eligible: list[int] = []
        self.a_start: list[int] = []  # -1 = never started
        self.a_end: list[int] = []  # -1 = still running
        self.a_state: list[int] = []
        self.a_cause: list[int] = []
        self.a_fault: list[int] = []
        self.a_by: list[int] = []  # preempting job slot, -1
        self.a_by_after_fault: list[bool] = []
        self.a_nodes: list[int] = []  # flattened
        self.a_n_nodes: list[int] = []
        # runs (one row per run of the workload)
        self.r_submit = [-1] * n_runs
        self.r_work = [0] * n_runs
        self.r_progress = [0] * n_runs
        self.r_queue = [0] * n_runs
        self.r_productive = [0] * n_runs
        self.r_unproductive = [0] * n_runs
        self.r_end = [-1] * n_runs
        self.r_status = [RUN_ACTIVE] * n_runs
        self.r_attempts = [0] * n_runs
        self.r_jobs = [0] * n_runs
        self.r_fault_stops = [0] * n_runs
        self.r_preemptions = [0] * n_runs
        # faults (one row per candidate fault of the plan)
        self.f_applied = [-1] * n_faults
        self.f_detected = [-1] * n_faults
        self.f_repaired = [-1] * n_faults
        self.f_killed = [0] * n_faults

    # --- job slots ---------------------------------------------------------------------------

    def new_job(
        self, now: int, gpus: int, qos: int, user: int, limit: int, run: int, single: int
    ) -> int:
        """A new job id submitted now; returns its slot."""
        j = len(self.gpus)
        for column, value in (
            (self.first_submit, now),
            (self.gpus, gpus),
            (self.qos, qos),
            (self.user, user),
            (self.limit, limit),
            (self.run, run),
            (self.single, single),
            (self.status, PENDING),
            (self.attempts, 0),
            (self.submit, now),
            (self.eligible, now),
            (self.start, -1),
            (self.plan_state, -1),
            (self.plan_cause, -1),
            (self.last_cause, -1),
            (self.overhead, 0),
        ):
            column.append(value)
        self.nodes.append(())
        if run >= 0:
            self.r_jobs[run] += 1
        return j

    def begin(self, j: int, now: int, nodes: list[int], u0: int) -> None:
        """An attempt of ``j`` starts on ``nodes``; a run pays ``u0`` on every restart."""
        self.status[j] = RUNNING
        self.attempts[j] += 1
        self.start[j] = now
        self.nodes[j] = nodes
        run = self.run[j]
        if run >= 0:
            self.r_queue[run] += now - self.eligible[j]
            self.overhead[j] = u0 if self.r_attempts[run] else 0
            self.r_attempts[run] += 1

    def _row(
        self, j: int, start: int, end: int, state: int, cause: int, fault: int, by: int
    ) -> None:
        self.a_job.append(j)
        self.a_submit.append(self.submit[j])
        self.a_eligible.append(self.eligible[j])
        self.a_start.append(start)
        self.a_end.append(end)
        self.a_state.append(state)
        self.a_cause.append(cause)
        self.a_fault.append(fault)
        self.a_by.append(by)
        self.a_by_after_fault.append(by >= 0 and self.last_cause[by] in FAULT_CAUSES)
        nodes = self.nodes[j] if start >= 0 else ()
        self.a_nodes.extend(nodes)
        self.a_n_nodes.append(len(nodes))
        self.nodes[j] = ()  # kept in a_nodes; the slot's list is no longer needed

    def end_attempt(
        self, j: int, now: int, state: int, cause: int, fault: int, by: int, config: SimConfig
    ) -> None:
        """The running attempt of ``j`` ends now."""
        self._row(j, self.start[j], now, state, cause, fault, by)
        self.last_cause[j] = cause
        self.submit[j] = now  # Slurm resets the submit time of a requeued job
        self.eligible[j] = -1  # unknown until it is eligible again
        run = self.run[j]
        if run >= 0:
            self._account(run, now - self.start[j], self.overhead[j], state, cause, config)
            if state == codes.COMPLETED:
                self.r_status[run], self.r_end[run] = RUN_COMPLETED, now

    def _account(
        self, r: int, elapsed: int, overhead: int, state: int, cause: int, config: SimConfig
    ) -> None:
        """Productive and unproductive time of one attempt of run ``r``: the restart overhead,
        blocking writes and the work since the last checkpoint are lost (except on success)."""
        interval, write = config.checkpoint_interval, config.checkpoint_write
        cycles = max(0, elapsed - overhead) // (interval + write)
        saved = self.run_left(r) if state == codes.COMPLETED else cycles * interval
        self.r_progress[r] += saved
        self.r_productive[r] += saved
        self.r_unproductive[r] += elapsed - saved
        self.r_fault_stops[r] += cause in FAULT_CAUSES
        self.r_preemptions[r] += state == codes.PREEMPTED

    def cancel_waiting(self, j: int, now: int) -> None:
        """Job ``j`` is cancelled while waiting: an attempt that never started."""
        self._row(j, -1, now, codes.CANCELLED, codes.C_CANCELLED, -1, -1)
        run = self.run[j]
        if run >= 0:
            self.r_status[run], self.r_end[run] = RUN_ABANDONED, now

    def close(self, horizon: int) -> None:
        """Rows for what is still running or waiting at the horizon."""
        for j, status in enumerate(self.status):
            if status == RUNNING:
                self._row(j, self.start[j], -1, codes.RUNNING, codes.C_RUNNING, -1, -1)
            elif status in (PENDING, WAITING):
                self._row(j, -1, -1, codes.PENDING, codes.C_RUNNING, -1, -1)
        for r, status in enumerate(self.r_status):
            if status == RUN_ACTIVE and self.r_submit[r] >= 0:
                self.r_status[r], self.r_end[r] = RUN_UNFINISHED, horizon

    # --- runs --------------------------------------------------------------------------------

    def run_begins(self, r: int, now: int, work: int) -> None:
        """Run ``r`` is submitted with ``work`` productive seconds to do."""
        self.r_submit[r] = now
        self.r_work[r] = work

    def run_left(self, r: int) -> int:
        """Productive seconds run ``r`` still needs."""
        return self.r_work[r] - self.r_progress[r]

    def run_abandoned(self, r: int, now: int) -> None:
        """The user gives run ``r`` up after it crashed."""
        self.r_status[r], self.r_end[r] = RUN_ABANDONED, now

    # --- faults ------------------------------------------------------------------------------

    def fault_applied(self, f: int, now: int) -> None:
        """Fault ``f`` struck an in-service node."""
        self.f_applied[f] = now

    def fault_detected(self, f: int, now: int) -> None:
        """A check saw fault ``f`` (or Slurm lost the node)."""
        self.f_detected[f] = now

    def fault_killed(self, f: int) -> None:
        """Fault ``f`` ended one more job attempt."""
        if f >= 0:
            self.f_killed[f] += 1

    def fault_repaired(self, f: int, now: int) -> None:
        """The node of fault ``f`` is back."""
        self.f_repaired[f] = now
