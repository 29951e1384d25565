"""What-if values, not only keys: a shorter checkpoint interval raises measured run ETTR by
what the ETTR model predicts; removing the lemons lowers the failure share of 512+ GPU
attempts by the paper's factor (14% → 4%, ×/÷ 1.5).

The model (PAPER.md §5) charges every interruption that loses work Δt_cp/2 on average; the
queue and restart terms do not depend on Δt_cp. So going from Δt_cp = 60 to 15 min should
raise the GPU-weighted ETTR over running time, R / (R + U), of the same runs by (lossy
interruptions × 22.5 min) / running time, counted on the base run. The whole ETTR, with the
queues, is not compared: shorter losses change the schedule, and the queues of a busy cluster
move either way (seed 3: 0.861 → 0.918; seed 5: 0.763 → 0.676). Attempts that requeue
themselves at their time limit stop right after their last checkpoint and lose nothing; the
test's limits are whole hours after the restart overhead, so they stop at the same time at
either interval (otherwise a 60-min interval also wastes the end of each attempt, a
scheduling effect the model leaves out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

import pytest

from gpurel.analysis.runs import RunRules, attempts_in_runs, runs, selected
from gpurel.analysis.summary import Settings, attributed_failures
from gpurel.schema import JobState
from gpurel.sim.config import SimConfig, preset, with_overrides
from gpurel.sim.run import SimResult, simulate
from gpurel.sim.validation import NO_LEMONS
from gpurel.sim.whatif import (
    MIN_RUN_HOURS,
    checkpointing,
    ettr_measured,
    large_failure_share,
    stored,
    twin,
)

# time limits of whole hours after the restart overhead: a run stops at its limit after its
# last checkpoint at either interval, so the intervals differ only in what interruptions lose
CONFIG = with_overrides(
    dataclasses.replace(preset("rsc1"), scale=0.1, days=40.0, warmup_days=7.0),
    {"run_time_limit": "485m", "large_run_time_limit": "1445m"},
)
SHORTER = {"checkpoint_interval": "15m"}
T = TypeVar("T")


def _base_and_variant(
    config: SimConfig, seed: int, change: dict[str, str], measure: Callable[[SimResult], T]
) -> tuple[T, T, SimConfig]:
    """``measure`` of ``config`` and of its twin with ``change`` (same seed and window), and
    the changed configuration."""
    base = simulate(config, seed=seed)
    variant = twin(base, with_overrides(config, change))
    return measure(base), measure(variant), variant.config


def _measured(result: SimResult) -> tuple[float, float, float]:
    """GPU-weighted measured ETTR of ``result``'s runs (as the what-if reports it), their ETTR
    over running time only (R / (R + U), the model's form without queueing), and their lossy
    interruptions per second of running time."""
    with stored(result) as warehouse:
        failures = attributed_failures(warehouse, Settings())
        ckpt = checkpointing(result.config)
        ettr = ettr_measured(warehouse, failures, ckpt)
        assert ettr is not None
        kept = selected(runs(warehouse.jobs(), failures, ckpt=ckpt), RunRules(MIN_RUN_HOURS))
        a = attempts_in_runs(warehouse.jobs(), failures, ckpt=ckpt)
        lossy = a.filter(a.interruption & (a.state != JobState.REQUEUED.value))
        per_run = lossy.group_by("cluster", "run_id").aggregate(lossy=lossy.count())
        joined = kept.left_join(per_run, ["cluster", "run_id"])
        row = warehouse.fetch(
            joined.aggregate(
                lossy=(joined.lossy.fill_null(0) * joined.n_gpus).sum(),
                running=(joined.running_s * joined.n_gpus).sum(),
                productive=(joined.productive_s * joined.n_gpus).sum(),
                n=joined.count(),
            )
        ).to_pylist()[0]
        assert row["n"] >= 30 and row["lossy"] > 0
        return ettr, row["productive"] / row["running"], row["lossy"] / row["running"]


@pytest.mark.slow
def test_a_shorter_checkpoint_interval_raises_run_ettr_as_the_model_predicts() -> None:
    base, variant, shorter = _base_and_variant(CONFIG, 3, SHORTER, _measured)
    (_, running_base, rate), (_, running_variant, _) = base, variant
    predicted = rate * (CONFIG.checkpoint_interval - shorter.checkpoint_interval) / 2
    assert predicted > 0.005
    assert running_variant - running_base == pytest.approx(predicted, rel=0.25)


# --- lemons ----------------------------------------------------------------------------------

LEMONS = dataclasses.replace(preset("rsc1"), scale=0.25, days=90.0)
PAPER_FACTOR = 14 / 4  # 512+ GPU attempts ended by infrastructure failures, before / after


def _large_failure_share(result: SimResult) -> float:
    with stored(result) as warehouse:
        share = large_failure_share(warehouse.jobs(), attributed_failures(warehouse, Settings()))
    assert share is not None
    return share


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the model's lemons account for a factor of about 2 (quarter size, 90 days, seeds "
    "1-4: 1.72, 1.92, 3.06, 1.89; the year: 2.13), not the paper's 3.5 (docs/simulator.md, "
    "Gaps); strict, so that meeting it fails here until this mark goes",
)
def test_lemon_removal_lowers_the_large_job_failure_share_by_the_papers_factor() -> None:
    before, after, _ = _base_and_variant(LEMONS, 1, NO_LEMONS, _large_failure_share)
    assert after > 0
    assert PAPER_FACTOR / 1.5 <= before / after <= PAPER_FACTOR * 1.5
