"""A discrete-event simulator of a GPU training cluster calibrated to the paper.

``simulate(preset("rsc1"), seed)`` returns the canonical tables a real cluster would yield
(jobs, node_events, nodes) and the ground truth behind them (``truth_*``); see
docs/simulator.md for the model, its parameters and the calibration.
"""

from gpurel.sim.config import SimConfig, preset, with_overrides
from gpurel.sim.run import SimResult, simulate

__all__ = ["SimConfig", "SimResult", "preset", "simulate", "with_overrides"]
