"""Retrying a command that fails for a passing reason, with exponential backoff."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from gpurel.errors import GpurelError

T = TypeVar("T")


class CommandFailed(GpurelError):
    """An external command failed; ``transient`` when trying again later may succeed."""

    def __init__(self, command: str, detail: str, *, transient: bool) -> None:
        super().__init__(f"{command}: {detail}")
        self.command = command
        self.detail = detail
        self.transient = transient


class GaveUp(GpurelError):
    """A command kept failing for a passing reason until the retry budget ran out."""

    def __init__(self, last: CommandFailed, attempts: int, waited_s: float) -> None:
        super().__init__(
            f"{last.command} failed {attempts} times over {waited_s:.0f} s; last error: "
            f"{last.detail}"
        )
        self.last = last
        self.attempts = attempts


@dataclass(frozen=True)
class Backoff:
    """Up to ``retries`` more attempts, waiting ``first_s``, then ``factor`` times longer each
    time, never more than ``max_s``."""

    retries: int = 5
    first_s: float = 5.0
    factor: float = 2.0
    max_s: float = 120.0

    def delays(self) -> Iterator[float]:
        """The waits before each retry."""
        delay = self.first_s
        for _ in range(self.retries):
            yield min(delay, self.max_s)
            delay *= self.factor


def with_retry(
    call: Callable[[], T],
    backoff: Backoff,
    on_retry: Callable[[CommandFailed, float], None] = lambda error, delay: None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried after each transient CommandFailed; GaveUp when the budget is spent.

    A failure that is not transient is raised at once. ``on_retry(error, delay)`` is told
    before each wait.
    """
    delays = backoff.delays()
    waited = 0.0
    attempts = 0
    while True:
        attempts += 1
        try:
            return call()
        except CommandFailed as error:
            if not error.transient:
                raise
            delay = next(delays, None)
            if delay is None:
                raise GaveUp(error, attempts, waited) from error
            on_retry(error, delay)
            sleep(delay)
            waited += delay
