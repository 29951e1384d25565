"""Progress of long work on stderr: drawn only on a terminal, never with ``--quiet``.

``Progress`` shows one bar per piece of work (``task``: bytes of a file, simulated days) and
the current step of a multi-step command (``step``). Off a terminal (a pipe, a file, a
service's journal) or with ``quiet`` it draws nothing, so output that is parsed stays clean.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    """A command's progress display on ``console`` (stderr by default)."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        self.shown = not quiet and console.is_terminal
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[done]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not self.shown,
        )
        self._step: TaskID | None = None

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def task(self, description: str, total: float | None, unit: str = "") -> Meter:
        """A bar for ``total`` units of work (bytes when ``unit`` is "bytes"); calling the
        returned meter with an amount advances it."""
        task = self._bar.add_task(escape(description), total=total, done="")
        return Meter(self._bar, task, total, unit)

    def step(self, description: str) -> None:
        """Show ``description`` as the step now running (replacing the previous step)."""
        if self._step is None:
            self._step = self._bar.add_task(escape(description), total=None, done="")
        else:
            self._bar.update(self._step, description=escape(description))


class Meter:
    """One bar of a ``Progress``: how much of its work is done."""

    def __init__(self, bar: RichProgress, task: TaskID, total: float | None, unit: str) -> None:
        self._bar, self._task, self._total, self._unit = bar, task, total, unit
        self.done = 0.0

    def __call__(self, amount: float) -> None:
        """Add ``amount`` of done work."""
        self.done += amount
        shown = _amount(self.done, self._total, self._unit)
        self._bar.update(self._task, completed=self.done, done=shown)


def _amount(done: float, total: float | None, unit: str) -> str:
    """``done`` of ``total`` in ``unit`` ("1.2 MB/3.4 MB", "12/30 days")."""
    if unit == "bytes":
        return decimal(int(done)) + ("" if total is None else f"/{decimal(int(total))}")
    return f"{done:,.0f}" + ("" if total is None else f"/{total:,.0f}") + f" {unit}".rstrip()
