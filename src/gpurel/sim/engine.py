"""The event loop: submissions, job ends, faults, detections, repairs and scheduling passes.

Arrivals and faults come from the presorted arrays of ``workload`` and ``faults``; everything
else goes through one heap of ``(time, seq, kind, a, b)`` events. A job's planned end is
pushed when it starts and ignored if the attempt ended earlier (killed or preempted). State is
kept in plain lists indexed by job slot (one slot per job id, in submission order) so the hot
path stays cheap; ``journal.Journal`` collects what happened, column by column.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence

from gpurel.sim import codes
from gpurel.sim.cluster import Cluster
from gpurel.sim.codes import DOWN, DRAIN, HELD, SPARE, UP
from gpurel.sim.config import DAY, HOUR, QOS, SimConfig
from gpurel.sim.faults import HIGH, LOW, UNSEEN, FaultPlan
from gpurel.sim.health import HealthLog
from gpurel.sim.journal import DONE, FAULT_CAUSES, PENDING, RUNNING, WAITING, Journal
from gpurel.sim.scheduler import Scheduler
from gpurel.sim.steady import Stationarity
from gpurel.sim.workload import Workload

# event kinds
(
    END,
    SCHED,
    ELIGIBLE,
    CANCEL,
    RESUBMIT,
    DETECT,
    CRASH,
    KILL,
    SILENT_DEATH,
    DRAINED_CHECK,
    REPAIR,
    SAMPLE,
) = range(12)
SAMPLE_EVERY = HOUR  # utilization and queue samples during the warm-up

NEVER = 1 << 62
EPILOG = -2  # the "fault" of a node drained by an epilog check that failed on a healthy node


def _unreported(days: float) -> None:
    """Report no progress."""


def last_checkpoint_within(limit: int, overhead: int, config: SimConfig) -> int:
    """Seconds into an attempt at which a run that knows its time limit stops and requeues
    itself (submitit style): right after its last checkpoint that completes within ``limit``
    (after its restart overhead), so no work is lost; at the limit if none fits."""
    cycle = config.checkpoint_interval + config.checkpoint_write
    checkpoints = max(0, limit - overhead) // cycle
    return overhead + checkpoints * cycle if checkpoints else limit


class Engine:
    """One simulation run; ``run()`` fills and returns the journal.

    The output window begins after the warm-up: at ``warmup`` seconds when given, else at
    the first midnight after ``config.warmup_days`` by which utilization, queued demand and
    the GPUs of runs in progress are stationary (``steady``), at the latest at
    ``config.warmup_max_days``. It lasts
    ``config.days``; ``horizon`` bounds the drawn workload and faults.
    """

    def __init__(
        self,
        config: SimConfig,
        work: Workload,
        plan: FaultPlan,
        seed: int,
        horizon: int,
        warmup: int | None = None,
    ) -> None:
        self.config = config
        self.work = work
        self.plan = plan
        self.horizon = horizon
        self.window_begin = -1
        self.stationary = warmup is not None  # the warm-up ended in a steady state
        self.steady = Stationarity(DAY // SAMPLE_EVERY)
        self.busy_gpus = 0
        self.queued_gpus = 0
        self.run_gpus = 0  # GPUs of the training runs in progress (running or waiting)
        self.rng = random.Random(seed)
        self.now = 0
        self.heap: list[tuple[int, int, int, int, int]] = []
        self.seq = 0
        self.journal = Journal(len(plan.time), len(work.runs.submit))
        j = self.journal
        self.cluster = Cluster(
            config.effective_nodes,
            config.gpus_per_node,
            round(config.spare_nodes * config.scale),
            j.qos,
            j.start,
            j.limit,
        )
        self.scheduler = Scheduler(
            self.cluster, j.gpus, j.qos, j.status, j.limit, len(QOS), config.preempt_exempt
        )
        self.health = HealthLog(plan.phase, config.check_interval)
        self.sched_at = NEVER
        self.next_preempt = 0
        self.events = 0
        self.owed_spare: set[int] = set()
        self.drain_fault: dict[int, tuple[int, int]] = {}  # node -> (fault, detected at)
        self._single = {
            name: getattr(work.singles, name).tolist()
            for name in (
                "gpus",
                "qos",
                "work",
                "natural",
                "limit",
                "cancel_at",
                "give_up_at",
                "user",
            )
        }
        self._run = {name: getattr(work.runs, name).tolist() for name in ("gpus", "qos", "user")}
        self._run_work = work.runs.work.tolist()
        self._fault_cols = {
            name: getattr(plan, name).tolist()
            for name in (
                "node",
                "category",
                "false_positive",
                "noise",
                "repair",
                "cooccur",
                "app_crash",
                "lag",
            )
        }
        self.user_fail_rate = config.run_user_fail_per_day / 86_400
        self.epilog_rng = random.Random(plan.epilog_seed)
        self.epilog_checks = [k for k, sev in enumerate(plan.severities) if sev == HIGH]
        self.epilog_countdown = self.epilog_gap()  # node epilogs until the next false failure
        self.epilog_failures = 0
        self.capacity = self.cluster.gpn * (config.effective_nodes - len(self.cluster.spares))
        if warmup is not None:
            self.begin_window(warmup)
        else:
            self.push(SAMPLE_EVERY, SAMPLE)

    # --- the loop ----------------------------------------------------------------------------

    def push(self, time: int, kind: int, a: int = 0, b: int = 0) -> None:
        """Schedule an event."""
        self.seq += 1
        heapq.heappush(self.heap, (time, self.seq, kind, a, b))

    def run(self, days_done: Callable[[float], None] | None = None) -> Journal:
        """Simulate until the horizon; the journal holds everything that happened.
        ``days_done`` is told of each simulated day that has passed (progress)."""
        report = days_done or _unreported
        heap = self.heap
        arrivals = [*self.work.arrival_time.tolist(), NEVER]
        is_run = self.work.arrival_is_run.tolist()
        index = self.work.arrival_index.tolist()
        faults = [*self.plan.time.tolist(), NEVER]
        a = f = 0
        events = 0
        next_day = DAY
        while True:
            t_event = heap[0][0] if heap else NEVER
            t = min(t_event, arrivals[a], faults[f])
            if t >= self.horizon:
                break
            if t >= next_day:
                passed = (t - next_day) // DAY + 1
                report(passed)
                next_day += passed * DAY
            self.now = t
            events += 1
            if faults[f] == t:
                self.fault(f)
                f += 1
            elif t_event == t:
                _, _, kind, x, y = heapq.heappop(heap)
                self.dispatch(kind, x, y)
            else:
                if is_run[a]:
                    self.submit_run(index[a])
                else:
                    self.submit_single(index[a])
                a += 1
        self.events = events
        self.journal.close(self.horizon)
        return self.journal

    def dispatch(self, kind: int, x: int, y: int) -> None:
        """Handle one heap event."""
        if kind == END:
            if self.journal.status[x] == RUNNING and self.journal.attempts[x] == y:
                self.finish(x, self.journal.plan_state[x], self.journal.plan_cause[x])
        elif kind == SCHED:
            self.schedule()
        elif kind == ELIGIBLE:
            if self.journal.status[x] == WAITING:
                self.enqueue(x)
            elif self.journal.status[x] == PENDING:
                self.want_schedule()  # a requeued gang may start now
        elif kind == CANCEL:
            self.cancel_pending(x)
        elif kind == RESUBMIT:
            self.submit_job_of_run(x)
        elif kind == DETECT:
            self.detect(x)
        elif kind == CRASH:
            self.crash(x, y)
        elif kind == KILL:
            self.kill(x)
        elif kind == SILENT_DEATH:
            self.journal.fault_detected(y, self.now)
            self.kill_node(x, codes.C_SILENT, y)
        elif kind == DRAINED_CHECK:
            self.detect_low(x)
        elif kind == REPAIR:
            self.repaired(x, y)
        elif kind == SAMPLE:
            self.sample()

    # --- warm-up -----------------------------------------------------------------------------

    def sample(self) -> None:
        """Sample utilization and queued demand; begin the window once they are stationary."""
        config, now = self.config, self.now
        self.steady.add(
            utilization=self.busy_gpus / self.capacity,
            queue=self.queued_gpus / self.capacity,
            runs=self.run_gpus / self.capacity,
        )
        at_day = now % DAY == 0
        steady = at_day and self.steady.check() and now >= config.warmup_days * DAY
        if steady or now >= config.warmup_max_days * DAY:
            self.stationary = steady
            self.begin_window(now if at_day else (now // DAY + 1) * DAY)
        else:
            self.push(now + SAMPLE_EVERY, SAMPLE)

    def begin_window(self, begin: int) -> None:
        """The output window begins at ``begin`` and lasts ``config.days``."""
        self.window_begin = begin
        self.horizon = begin + round(self.config.days * DAY)

    # --- jobs --------------------------------------------------------------------------------

    def submit_single(self, s: int) -> None:
        """A single job is submitted."""
        c = self._single
        j = self.journal.new_job(
            self.now, c["gpus"][s], c["qos"][s], c["user"][s], c["limit"][s], -1, s
        )
        if c["cancel_at"][s] >= 0:
            self.push(c["cancel_at"][s], CANCEL, j)
        self.push(c["give_up_at"][s], CANCEL, j)
        self.enqueue(j)

    def submit_run(self, r: int) -> None:
        """A training run starts: its first job is submitted."""
        self.journal.run_begins(r, self.now, self._run_work[r])
        self.run_gpus += self._run["gpus"][r]
        self.submit_job_of_run(r)

    def submit_job_of_run(self, r: int) -> None:
        """Submit the next job id of run ``r``."""
        c, config = self._run, self.config
        large = c["gpus"][r] >= config.run_high_min_gpus
        limit = config.large_run_time_limit if large else config.run_time_limit
        limit = min(limit, config.max_lifetime)
        j = self.journal.new_job(self.now, c["gpus"][r], c["qos"][r], c["user"][r], limit, r, -1)
        self.enqueue(j)

    def enqueue(self, j: int) -> None:
        """Job ``j`` becomes eligible and pending."""
        self.journal.status[j] = PENDING
        self.queued_gpus += self.journal.gpus[j]
        self.journal.eligible[j] = self.now
        self.scheduler.enqueue(j, self.journal.first_submit[j])
        self.want_schedule()

    def want_schedule(self, at: int | None = None) -> None:
        """Ask for a scheduling pass at the next tick (or at ``at``)."""
        interval = self.config.sched_interval
        tick = at if at is not None else (self.now // interval + 1) * interval
        if tick < self.sched_at:
            self.sched_at = tick
            self.push(tick, SCHED)

    def schedule(self) -> None:
        """A scheduling pass (with preemption when one is due)."""
        if self.now != self.sched_at:
            return  # superseded by an earlier pass
        self.sched_at = NEVER
        preempt = self.now >= self.next_preempt
        waiting = self.scheduler.run(self.now, preempt, self.start, self.evict)
        if preempt:
            self.next_preempt = self.now + self.config.preempt_interval
        if waiting:
            self.want_schedule(max(self.next_preempt, self.now + self.config.sched_interval))

    def start(self, j: int, nodes: list[int]) -> None:
        """Start an attempt of job ``j`` on ``nodes`` and plan its end."""
        journal, now = self.journal, self.now
        self.queued_gpus -= journal.gpus[j]
        self.busy_gpus += journal.gpus[j]
        journal.begin(j, now, nodes, self.config.u0)
        self.cluster.occupy(j, nodes, now)
        run = journal.run[j]
        if run < 0:
            end, state, cause = self.single_end(j)
        else:
            end, state, cause = self.run_end(j, run)
        journal.plan_state[j] = state
        journal.plan_cause[j] = cause
        self.push(max(end, now + 1), END, j, journal.attempts[j])

    def single_end(self, j: int) -> tuple[int, int, int]:
        """When and how an attempt of a single job ends if nothing interrupts it."""
        s, now, c = self.journal.single[j], self.now, self._single
        end, state = now + c["work"][s], c["natural"][s]
        cause = {codes.COMPLETED: codes.C_COMPLETED, codes.FAILED: codes.C_USER}.get(
            state, codes.C_OOM
        )
        limit_end = now + c["limit"][s]
        if limit_end < end:
            end, state, cause = limit_end, codes.TIMEOUT, codes.C_TIMEOUT
        cancel = c["cancel_at"][s]
        if 0 <= cancel < end:
            end, state, cause = cancel, codes.CANCELLED, codes.C_CANCELLED
        return end, state, cause

    def run_end(self, j: int, r: int) -> tuple[int, int, int]:
        """When and how an attempt of a training run ends if nothing interrupts it."""
        config, now = self.config, self.now
        left = self.journal.run_left(r)
        writes = (left // config.checkpoint_interval) * config.checkpoint_write
        need = self.journal.overhead[j] + left + writes
        end, state, cause = now + need, codes.COMPLETED, codes.C_COMPLETED
        limit = self.journal.limit[j]
        if now + limit < end:
            end = now + last_checkpoint_within(limit, self.journal.overhead[j], config)
            state, cause = codes.REQUEUED, codes.C_TIME_LIMIT
        if self.user_fail_rate > 0:
            crash = now + int(self.rng.expovariate(self.user_fail_rate))
            if crash < end:
                end, state, cause = crash, codes.FAILED, codes.C_USER
        return end, state, cause

    def finish(
        self,
        j: int,
        state: int,
        cause: int,
        fault: int = -1,
        by: int = -1,
        requeue: bool | None = None,
    ) -> None:
        """End the running attempt of ``j`` now; requeue, resubmit or close the job. Slurm
        requeues what it interrupted and what a health check killed; ``requeue=False`` is a
        crash on a fault no check has seen, which ends the job as a user failure would."""
        journal, cluster, now = self.journal, self.cluster, self.now
        nodes = journal.nodes[j]
        gpus = journal.gpus[j]
        self.busy_gpus -= gpus
        cluster.release(j, nodes, min(gpus, cluster.gpn))
        journal.end_attempt(j, now, state, cause, fault, by, self.config)
        self.epilogs(nodes)
        for node in nodes:
            if cluster.state[node] == DRAIN and not cluster.jobs[node]:
                self.drained(node)
        if requeue is None:
            requeue = state in (codes.NODE_FAIL, codes.PREEMPTED, codes.REQUEUED)
            requeue |= cause in FAULT_CAUSES
        if requeue:
            self.requeue(j)
        else:
            journal.status[j] = DONE
            run = journal.run[j]
            if run >= 0 and cause in (codes.C_USER, codes.C_FAULT):
                self.maybe_resubmit(run, cause == codes.C_FAULT)
            elif run >= 0:
                self.run_gpus -= gpus  # the run is over
        self.want_schedule()

    def requeue(self, j: int) -> None:
        """Slurm requeues ``j``: eligible again ``requeue_delay`` from now. A gang is queued
        at once with that begin time, so its reservation holds the nodes it just left."""
        journal, at = self.journal, self.now + self.config.requeue_delay
        self.push(at, ELIGIBLE, j)
        if journal.gpus[j] < self.cluster.gpn:
            journal.status[j] = WAITING
            return
        journal.status[j] = PENDING
        self.queued_gpus += journal.gpus[j]
        journal.eligible[j] = at
        self.scheduler.enqueue(j, journal.first_submit[j], not_before=at)

    def maybe_resubmit(self, r: int, crashed_on_fault: bool) -> None:
        """A run that crashed is resubmitted under a new job id, or abandoned: a crash on a
        fault (an NCCL timeout, a lost GPU: not the user's bug) always, a crash of its own
        code with ``run_resubmit_prob``."""
        config = self.config
        if crashed_on_fault or self.rng.random() < config.run_resubmit_prob:
            delay = int(config.run_resubmit_delay * self.rng.lognormvariate(0.0, 1.0)) + 1
            self.push(self.now + delay, RESUBMIT, r)
        else:
            self.journal.run_abandoned(r, self.now)
            self.run_gpus -= self._run["gpus"][r]

    def evict(self, victim: int, by: int) -> None:
        """Preempt ``victim`` for job ``by``."""
        self.finish(victim, codes.PREEMPTED, codes.C_PREEMPTED, by=by)

    def cancel_pending(self, j: int) -> None:
        """The user cancels job ``j``; if it is waiting, it ends without running."""
        if self.journal.status[j] in (PENDING, WAITING):
            if self.journal.status[j] == PENDING:
                self.queued_gpus -= self.journal.gpus[j]
            self.journal.cancel_waiting(j, self.now)
            self.journal.status[j] = DONE

    # --- epilog checks -----------------------------------------------------------------------

    def epilog_gap(self) -> int:
        """Node epilogs until the next one that fails on a healthy node (geometric)."""
        p = self.config.epilog_false_positive
        if p <= 0 or not self.epilog_checks:
            return NEVER
        return int(math.log(1.0 - self.epilog_rng.random()) / math.log(1.0 - p)) + 1

    def epilogs(self, nodes: Sequence[int]) -> None:
        """The epilog checks of an attempt that just ended on ``nodes``: one of them may fail
        a high-severity check on a healthy node. Its record is stamped at the job's end and
        Slurm drains the node (its other jobs run on); a node already out or dead is left."""
        while self.epilog_countdown <= len(nodes):
            node = nodes[self.epilog_countdown - 1]
            self.epilog_countdown += self.epilog_gap()
            state = self.cluster.state[node]
            if state not in (UP, DRAIN):
                continue
            self.epilog_failures += 1
            category = self.epilog_rng.choice(self.epilog_checks)
            self.health.record(node, self.now, self.plan.categories[category], -1)
            if state == UP:
                self.cluster.set_state(node, DRAIN)
                self.drain_fault[node] = (EPILOG, self.now)
        self.epilog_countdown -= len(nodes)

    # --- faults ------------------------------------------------------------------------------

    def fault(self, f: int) -> None:
        """Candidate fault ``f`` strikes, if its node is in service."""
        c, cluster, now = self._fault_cols, self.cluster, self.now
        node = c["node"][f]
        if cluster.state[node] != UP:
            return
        self.journal.fault_applied(f, now)
        if c["noise"][f]:  # a warning: the check passes at its next run
            self.journal.fault_detected(f, now)
            self.health.record(node, now, self.plan.categories[c["category"][f]], f, warn=True)
            return
        severity = self.plan.severities[c["category"][f]]
        if c["false_positive"][f]:
            severity = HIGH
        if severity == LOW:
            self.push(self.health.next_check(node, now), DRAINED_CHECK, f)
            return
        cluster.set_state(node, HELD)
        if severity != HIGH:  # silent: Slurm notices the lost heartbeat later
            self.push(now + self.config.heartbeat_timeout, SILENT_DEATH, node, f)
            return
        lag = c["lag"][f]
        unseen = lag == UNSEEN
        p_crash, mean = (1.0 if unseen else c["app_crash"][f]), self.config.crash_delay_mean
        last = now
        for j in cluster.jobs[node]:
            if self.rng.random() < p_crash:
                crash = now + 1 + int(self.rng.expovariate(1.0 / mean))
                self.push(crash, CRASH, j, f)
                last = max(last, crash)
        if unseen:  # every job crashes; then the node is rebooted and repaired, unrecorded
            self.push(last + 1, KILL, f)
        else:
            self.push(self.health.next_check(node, now + lag), DETECT, f)

    def crash(self, j: int, f: int) -> None:
        """Job ``j`` crashes on fault ``f``; its epilog check records the fault if it can
        already be seen."""
        c = self._fault_cols
        node = c["node"][f]
        if j not in self.cluster.jobs[node]:
            return  # it ended otherwise
        lag = c["lag"][f]
        seen = self.journal.f_detected[f] >= 0 or (
            lag != UNSEEN and self.now >= self.journal.f_applied[f] + lag
        )
        self.journal.fault_killed(f)
        self.finish(j, codes.FAILED, codes.C_FAULT, fault=f, requeue=seen)
        if seen:
            self.detect(f)

    def detect(self, f: int) -> None:
        """A high-severity check fails (periodic or epilog): its records; the node's jobs are
        killed ``kill_delay`` later. Later checks of the same fault are ignored."""
        if self.journal.f_detected[f] >= 0:
            return
        c = self._fault_cols
        node = c["node"][f]
        check = self.plan.categories[c["category"][f]]
        self.health.detected(node, self.now, check, c["cooccur"][f], f)
        self.journal.fault_detected(f, self.now)
        self.push(self.now + self.config.kill_delay, KILL, f)

    def kill(self, f: int) -> None:
        """Slurm kills the jobs left on the node of fault ``f`` (NODE_FAIL); it goes to repair."""
        c = self._fault_cols
        cause = codes.C_FALSE_POSITIVE if c["false_positive"][f] else codes.C_FAULT
        self.kill_node(c["node"][f], cause, f)

    def kill_node(self, node: int, cause: int, f: int) -> None:
        """Kill every job on ``node`` (NODE_FAIL); repair it."""
        for j in list(self.cluster.jobs[node]):
            self.journal.fault_killed(f)
            self.finish(j, codes.NODE_FAIL, cause, fault=f)
        self.out_for_repair(node, f)

    def detect_low(self, f: int) -> None:
        """A low-severity check fails: the node drains (or, if already out, one record)."""
        node = self._fault_cols["node"][f]
        check = self.plan.categories[self._fault_cols["category"][f]]
        self.journal.fault_detected(f, self.now)
        if self.cluster.state[node] != UP:
            self.health.record(node, self.now, check, f)
            return
        self.cluster.set_state(node, DRAIN)
        self.drain_fault[node] = (f, self.now)
        if not self.cluster.jobs[node]:
            self.drained(node)

    def drained(self, node: int) -> None:
        """A draining node is idle: its records up to now, then repair (a node drained by its
        epilog: a re-check as long as a transient repair)."""
        f, since = self.drain_fault.pop(node)
        config = self.config
        if f == EPILOG:
            median, sigma = config.transient_repair_median, config.repair_sigma
            recheck = max(60, int(median * self.epilog_rng.lognormvariate(0.0, sigma)))
            self.out_for_repair(node, f, recheck)
            return
        check = self.plan.categories[self._fault_cols["category"][f]]
        self.health.draining(
            node, since, self.now, check, f, config.low_repeat_after, config.low_repeat_interval
        )
        self.out_for_repair(node, f)

    def out_for_repair(self, node: int, f: int, repair: int | None = None) -> None:
        """Take ``node`` out for ``repair`` seconds (default: the repair time of fault ``f``);
        a spare replaces it."""
        cluster = self.cluster
        cluster.set_state(node, DOWN)
        if repair is None:
            repair = self._fault_cols["repair"][f]
        self.push(self.now + repair, REPAIR, node, f)
        if cluster.spares:
            cluster.set_state(cluster.spares.pop(), UP)
            self.owed_spare.add(node)
            self.want_schedule()

    def repaired(self, node: int, f: int) -> None:
        """``node`` is back: in service, or into the spare pool if a spare stood in for it."""
        cluster = self.cluster
        if f >= 0:
            self.journal.fault_repaired(f, self.now)
        if node in self.owed_spare:
            self.owed_spare.discard(node)
            cluster.set_state(node, SPARE)
            cluster.spares.append(node)
        else:
            cluster.set_state(node, UP)
            self.want_schedule()
