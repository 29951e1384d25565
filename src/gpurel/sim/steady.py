"""When a simulated cluster has left its start-up transient, measured rather than assumed.

The engine samples a few state variables of the cluster (GPU utilization, queued GPU demand,
GPUs of the training runs in progress, all as shares of the cluster's GPUs) during the
warm-up; ``Stationarity`` batches them into daily means, so that the daily cycle of
submissions averages out, and applies the MSER rule (White, 1997): for each series the
truncation point d* minimizes the squared standard error of the mean of what follows it,

    MSER(d) = (sum_{i >= d} (x_i - mean(x[d:]))**2 + FLOOR (n - d)) / (n - d)**2,

searched over the first half of the series, as MSER prescribes, so that a calm last stretch
(an empty queue for a few days) cannot pass for the steady state (``FLOOR``, a noise floor of
1% of the cluster, keeps constant stretches from scoring zero). A series is past its transient
when d* lies inside the first half; a d* on the search's edge means the series is still
moving (a ramp, a growing queue). The warm-up is
over when every series has been past its transient for ``confirm`` daily checks in a row, so
that a quiet first week before the first large run arrives is not taken for a steady state.
Unlike a fixed number of days this waits as long as the slowest state variable needs, and
unlike a fixed tolerance on block means it scales with the series' own noise: a cluster whose
utilization swings with a few huge runs is stationary once the swings no longer trend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_TAIL = 5  # least batches after the search's edge: shorter series are not judged
FLOOR = 0.01**2  # noise floor of a batch mean (shares of the cluster, squared)


def mser_truncation(values: list[float]) -> int:
    """The MSER truncation point of ``values``: the d in the first half that minimizes the
    squared standard error of ``mean(values[d:])``, or n when the minimum is on the half's
    edge (still moving) or the series is too short to judge."""
    n = len(values)
    if n < 2 * MIN_TAIL:
        return n
    total = sq = 0.0
    suffix: list[tuple[float, float]] = [(0.0, 0.0)] * (n + 1)
    for i in range(n - 1, -1, -1):  # sums of x and x**2 over values[i:]
        total += values[i]
        sq += values[i] * values[i]
        suffix[i] = (total, sq)
    best, best_d = float("inf"), n
    edge = n // 2
    for d in range(edge + 1):
        s, s2 = suffix[d]
        k = n - d
        score = (max(s2 - s * s / k, 0.0) + FLOOR * k) / (k * k)
        if score < best:
            best, best_d = score, d
    return best_d if best_d < edge else n


@dataclass
class Stationarity:
    """Samples of named series, batched ``batch`` at a time, and the MSER verdict."""

    batch: int  # samples per batch (a day)
    confirm: int = 7  # checks in a row that must find every series past its transient
    series: dict[str, list[float]] = field(default_factory=dict)
    streak: int = 0

    def add(self, **values: float) -> None:
        """One sample of every series."""
        for name, value in values.items():
            self.series.setdefault(name, []).append(value)

    def batch_means(self, name: str) -> list[float]:
        """The means of the complete batches of series ``name``."""
        values = self.series.get(name, [])
        b = self.batch
        return [sum(values[i : i + b]) / b for i in range(0, len(values) - b + 1, b)]

    def truncation(self) -> int | None:
        """The batch at which every series is past its transient (the latest of their MSER
        truncation points), or None while some series is still moving."""
        if not self.series:
            return None
        points = [mser_truncation(self.batch_means(name)) for name in self.series]
        n = len(self.batch_means(next(iter(self.series))))
        latest = max(points)
        return None if latest >= n else latest

    def check(self) -> bool:
        """One check (once a batch): True when every series has been past its transient for
        ``confirm`` checks in a row."""
        self.streak = self.streak + 1 if self.truncation() is not None else 0
        return self.streak >= self.confirm
