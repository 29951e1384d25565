"""The ETTR design space of an analysis (paper Fig. 10) and where its inputs came from.

r_f is the measured one where the data can measure it, else the ``ettr.reference_rf`` setting
(the paper's RSC-1: 6.5 per 1000 node-days); the write time is the assumed checkpoint write
(``checkpointing.write``) where it is positive, else ``ettr.design_write``: with free writes
the optimal interval would be 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpurel.absent import Absent
from gpurel.analysis.metrics import NodeFailureRate
from gpurel.models.design_space import TABLE_MINUTES, DesignSpace, design_space

if TYPE_CHECKING:
    from gpurel.analysis.summary import Settings

MEASURED = "measured"
REFERENCE_RF = "ettr.reference_rf"
ASSUMED_WRITE = "checkpointing.write"
DESIGN_WRITE = "ettr.design_write"


@dataclass(frozen=True)
class Design:
    """The design space with the provenance of its r_f and write time."""

    space: DesignSpace
    rf_source: str  # MEASURED or REFERENCE_RF
    measured_rf: NodeFailureRate | Absent  # the measured r_f, or why none stood in
    write_source: str  # ASSUMED_WRITE or DESIGN_WRITE
    assumed_ckpt_s: float  # the analysis' checkpoint interval, marked on the figure

    @property
    def rf_per_1000_node_days(self) -> float:
        """r_f of the design space, per 1000 node-days."""
        return self.space.rf_per_node_day * 1000


def ettr_design(rf: NodeFailureRate | Absent, runs: int, s: Settings) -> Design | Absent:
    """The design space at ``rf`` (else the reference r_f) under the settings' checkpointing;
    absent when there is neither a measured r_f nor a job run to compare it with."""
    if isinstance(rf, Absent) and not runs:
        return Absent(f"no job run and no measured r_f ({rf.reason})")
    c = s.checkpointing
    rate = s.reference_rf / 1000 if isinstance(rf, Absent) else rf.per_node_day
    write = c.write_s if c.write_s > 0 else s.design_write_s
    space = design_space(
        rate,
        c.restart_s,
        write,
        s.gpus_per_node,
        max(s.projection_gpus),
        s.projection_gpus,
        tuple(sorted({*TABLE_MINUTES, c.ckpt_s / 60})),
    )
    return Design(
        space,
        REFERENCE_RF if isinstance(rf, Absent) else MEASURED,
        rf,
        ASSUMED_WRITE if c.write_s > 0 else DESIGN_WRITE,
        c.ckpt_s,
    )


def to_doc(design: Design | Absent) -> dict[str, Any]:
    """The JSON form: inputs with their sources, the grid, the Young/Daly interval and the
    target contour per size, and the table at the projection sizes."""
    if isinstance(design, Absent):
        return design.to_json()
    space = design.space
    measured = design.measured_rf
    return {
        "model": "exact renewal form, one long run, no queue time, Poisson failures, nodes "
        "in series",
        "rf": {
            "per_1000_node_days": design.rf_per_1000_node_days,
            "source": design.rf_source,
            "measured": measured.to_json()
            if isinstance(measured, Absent)
            else measured.per_1000_node_days,
        },
        "restart_s": space.restart_s,
        "write_s": space.write_s,
        "write_source": design.write_source,
        "assumed_ckpt_s": design.assumed_ckpt_s,
        "gpus_per_node": space.gpus_per_node,
        "target": space.target,
        "intervals_min": space.intervals_min.tolist(),
        "gpus": space.gpus.tolist(),
        "ettr": space.ettr.tolist(),
        "young_daly_min": space.young_daly_min.tolist(),
        "contour": [vars(band) for band in space.contour],
        "table_minutes": list(space.table_minutes),
        "table": [vars(row) | {"ettr_at": list(row.ettr_at)} for row in space.table],
    }
