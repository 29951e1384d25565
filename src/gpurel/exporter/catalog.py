"""The metrics gpurel exports: names, types, labels and help, declared once.

Conventions (Prometheus'): every name starts with ``gpurel_``; values are in base units
(seconds, GPU-seconds, ratios 0-1, rates per node-second); a figure accumulated over the
warehouse's whole history is a counter (``_total``), a figure of a rolling window or a state
is a gauge. No label has more values than there are nodes. An interval bound is its own
gauge (``_lower_``/``_upper_``), so that no aggregation over a label mixes a value with its
bounds. A figure the data cannot measure is never exported as 0: its samples are left out
and ``gpurel_figure_absent_info{figure, scope, reason}`` says which and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "info"]


@dataclass(frozen=True)
class Metric:
    """One metric family: its name (without ``_total``/``_info``), type, labels and help."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str

    @property
    def exposed(self) -> str:
        """The sample name Prometheus stores: counters end in ``_total``, info in ``_info``."""
        suffix = {"counter": "_total", "info": "_info", "gauge": ""}[self.kind]
        return self.name + suffix


WINDOW_RF = "cluster", "window"
PER_CATEGORY = "cluster", "category", "domain"
PER_NODE = "cluster", "node"
PER_BUCKET = ("size_bucket",)
PER_CLUSTER = ("cluster",)
PER_ORDER = ("order",)
NO_LABELS = ()
ABSENT_LABELS = "figure", "scope", "reason"

_RF = "r_f by the paper's procedure (attempts of jobs above the GPU threshold that ended "
_RF += "NODE_FAIL or FAILED with a high-severity cause) over the rolling window ending at the "
_RF += "data's end, per node-second (x 86400000: per 1000 node-days)"

# The catalog is a table, one metric a line, wider than the code around it.
# ruff: noqa: E501
# fmt: off
_TABLE: tuple[tuple[str, Kind, tuple[str, ...], str], ...] = (
    # name                                                 kind       labels         help
    ("gpurel_rf_per_node_second",                          "gauge",   WINDOW_RF,     _RF + "."),
    ("gpurel_rf_lower_per_node_second",                    "gauge",   WINDOW_RF,     "Lower bound of the exact 95% Poisson interval of " + _RF + "."),
    ("gpurel_rf_upper_per_node_second",                    "gauge",   WINDOW_RF,     "Upper bound of the exact 95% Poisson interval of " + _RF + "."),
    ("gpurel_rf_failures",                                 "gauge",   WINDOW_RF,     "Failures counted by r_f in the rolling window."),
    ("gpurel_rf_exposure_node_seconds",                    "gauge",   WINDOW_RF,     "Node-seconds of the attempts r_f counts, within the rolling window."),
    ("gpurel_job_failures",                                "counter", PER_CATEGORY,  "Interrupted job attempts (FAILED, NODE_FAIL) by attributed cause category."),
    ("gpurel_failure_episodes",                            "counter", PER_CATEGORY,  "Node failure episodes (failing records of a node and category merged) by category."),
    ("gpurel_lemon_score",                                 "gauge",   PER_NODE,      "Lemon score of a node over the lemon window (threshold multiples of its signals)."),
    ("gpurel_lemon_flagged",                               "gauge",   PER_NODE,      "1 when the node is flagged as a lemon over the lemon window, else 0."),
    ("gpurel_lost_goodput_gpu_seconds",                    "counter", PER_ORDER,     "GPU time lost to infrastructure failures: order=first (work since the last checkpoint) and order=second (preemptions caused by their requeues)."),
    ("gpurel_run_ettr_ratio",                              "gauge",   PER_BUCKET,    "Mean measured ETTR of the selected runs per size bucket (GPUs, power of two)."),
    ("gpurel_run_ettr_gpu_weighted_ratio",                 "gauge",   PER_BUCKET,    "GPU-time-weighted measured ETTR of the selected runs per size bucket."),
    ("gpurel_run_ettr_runs",                               "gauge",   PER_BUCKET,    "Selected runs behind the measured ETTR of a size bucket."),
    ("gpurel_collector_last_window_end_timestamp_seconds", "gauge",   PER_CLUSTER,   "End of the last window the live collector committed (its resume point)."),
    ("gpurel_collector_lag_seconds",                       "gauge",   PER_CLUSTER,   "Seconds from the collector's last committed window end to the exposition."),
    ("gpurel_rejected_rows",                               "counter", NO_LABELS,     "Input rows that could not be read (the rejects table)."),
    ("gpurel_data_end_timestamp_seconds",                  "gauge",   NO_LABELS,     "The time the rolling windows end at: the data's end, or the configured as-of."),
    ("gpurel_figures_computed_timestamp_seconds",          "gauge",   NO_LABELS,     "When the exported figures were computed."),
    ("gpurel_figures_compute_errors",                      "counter", NO_LABELS,     "Recomputations of the figures that failed (the previous figures stay exported)."),
    ("gpurel_figure_absent",                               "info",    ABSENT_LABELS, "A figure the data cannot measure, left out instead of exported as 0, and why."),
)
# fmt: on
METRICS: tuple[Metric, ...] = tuple(Metric(*row) for row in _TABLE)
BY_NAME: Mapping[str, Metric] = {m.name: m for m in METRICS}
EXPOSED: frozenset[str] = frozenset(m.exposed for m in METRICS)
