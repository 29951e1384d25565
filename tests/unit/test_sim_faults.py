"""Fault drawing: taxonomy severities, lemons, co-occurrence, common random numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gpurel.sim import faults
from gpurel.sim.config import DAY, SILENT, preset

CONFIG = dataclasses.replace(preset("rsc1"), scale=0.5, fault_scale=4.0)
HORIZON = 200 * DAY


def draw(config=CONFIG, seed: int = 1) -> faults.FaultPlan:
    return faults.draw(np.random.SeedSequence(seed), config, HORIZON)


@pytest.mark.parametrize(
    ("category", "severity"),
    [
        ("ib_link", faults.HIGH),
        ("filesystem_mount", faults.HIGH),
        ("gpu_memory", faults.HIGH),
        ("host_service", faults.LOW),
        ("thermal", faults.LOW),
        (SILENT, faults.NONE),
    ],
)
def test_severity_comes_from_the_taxonomy(category: str, severity: str) -> None:
    assert faults.severity_of(category) == severity


def test_unknown_check_is_refused() -> None:
    with pytest.raises(ValueError, match="not a taxonomy category"):
        faults.severity_of("warp_core")


def test_plan_is_time_ordered_with_lemons() -> None:
    plan = draw()
    assert np.all(np.diff(plan.time) >= 0)
    assert plan.lemon.sum() == round(CONFIG.lemon_fraction * CONFIG.effective_nodes)
    assert np.all(plan.lemon[plan.node[plan.lemon_extra]])
    assert np.all((plan.phase >= 0) & (plan.phase < CONFIG.check_interval))


def test_cooccurrence_shares() -> None:
    plan = draw()
    pcie = (plan.category == plan.categories.index("pcie")) & ~plan.noise  # warnings: alone
    xid = (plan.cooccur[pcie] & faults.XID79) > 0
    ipmi = (plan.cooccur[pcie] & faults.IPMI) > 0
    assert abs(xid.mean() - CONFIG.pcie_xid79_share) < 0.06
    assert abs(ipmi.mean() - CONFIG.pcie_ipmi_share) < 0.06
    assert np.all(xid[ipmi])
    others = ~np.isin(plan.category, [plan.categories.index(c) for c in ("pcie", "ib_link")])
    assert not plan.cooccur[others].any()


def test_lemon_multiplier_changes_only_the_lemons_extra_faults() -> None:
    base = draw()
    plain = draw(dataclasses.replace(CONFIG, lemon_rate_multiplier=1.0))
    assert not plain.lemon_extra.any()
    keep = ~base.lemon_extra
    assert np.array_equal(base.time[keep], plain.time)
    assert np.array_equal(base.node[keep], plain.node)


def test_a_lemons_own_faults_are_transient() -> None:
    plan = draw()
    assert plan.lemon_extra.any()
    assert not plan.permanent[plan.lemon_extra].any()
    assert plan.permanent[~plan.lemon_extra & ~plan.false_positive].any()
    transient = plan.repair[~plan.permanent & ~plan.noise]  # noise takes no node out
    assert np.median(plan.repair[plan.lemon_extra]) == pytest.approx(np.median(transient), rel=0.2)
