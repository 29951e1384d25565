"""Retrying with exponential backoff while a command fails for a passing reason."""

from __future__ import annotations

import pytest

from gpurel.collect.retry import Backoff, CommandFailed, GaveUp, with_retry

REFUSED = CommandFailed("sacct -a", "Connection refused", transient=True)


class Flaky:
    """A call that fails ``failures`` times with ``error``, then returns ``"ok"``."""

    def __init__(self, failures: int, error: CommandFailed = REFUSED) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def test_delays_double_up_to_the_cap() -> None:
    policy = Backoff(retries=6, first_s=5, factor=2, max_s=60)
    assert list(policy.delays()) == [5, 10, 20, 40, 60, 60]


def test_transient_failures_are_retried_after_growing_waits() -> None:
    slept: list[float] = []
    told: list[tuple[str, float]] = []
    call = Flaky(2)
    result = with_retry(
        call,
        Backoff(retries=3, first_s=1),
        on_retry=lambda error, delay: told.append((error.detail, delay)),
        sleep=slept.append,
    )
    assert (result, call.calls) == ("ok", 3)
    assert slept == [1, 2]
    assert told == [("Connection refused", 1), ("Connection refused", 2)]


def test_gives_up_when_the_budget_is_spent() -> None:
    slept: list[float] = []
    call = Flaky(10)
    with pytest.raises(GaveUp) as caught:
        with_retry(call, Backoff(retries=2, first_s=0.5), sleep=slept.append)
    assert call.calls == 3
    assert caught.value.attempts == 3
    assert caught.value.last is REFUSED
    assert str(caught.value) == ("sacct -a failed 3 times over 2 s; last error: Connection refused")


def test_without_retries_the_first_transient_failure_gives_up() -> None:
    with pytest.raises(GaveUp):
        with_retry(Flaky(1), Backoff(retries=0), sleep=lambda s: None)


def test_a_lasting_failure_is_raised_at_once() -> None:
    invalid = CommandFailed("sacct", "Invalid field requested: Foo", transient=False)
    call = Flaky(1, invalid)
    with pytest.raises(CommandFailed) as caught:
        with_retry(call, Backoff(retries=5), sleep=lambda delay: pytest.fail("slept"))
    assert caught.value is invalid and call.calls == 1
