"""Time windows of a collection: grid edges, clipping, resume points."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpurel.collect.chunks import floor, plan, resume_start
from gpurel.errors import ConfigError

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_floor_is_a_multiple_of_the_chunk_since_the_epoch() -> None:
    assert floor(T0 + timedelta(minutes=17, seconds=3), 3600) == T0
    assert floor(T0 + timedelta(minutes=17, seconds=3), 600) == T0 + timedelta(minutes=10)
    assert floor(T0, 3600) == T0


def test_plan_starts_on_the_grid_and_cuts_the_last_window_at_the_end() -> None:
    chunks = plan(T0 + timedelta(minutes=20), T0 + timedelta(hours=2, minutes=5), 3600)
    assert [(c.start, c.end) for c in chunks] == [
        (T0, T0 + timedelta(hours=1)),
        (T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=5)),
    ]
    assert chunks[-1].grid_end == T0 + timedelta(hours=3)


def test_label_names_the_window_on_the_grid() -> None:
    (chunk,) = plan(T0, T0 + timedelta(minutes=5), 3600)
    assert chunk.label == "2024-05-01T10:00:00Z/2024-05-01T11:00:00Z"


def test_plan_of_an_empty_span_is_empty() -> None:
    assert plan(T0, T0, 60) == []


def test_chunk_length_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="at least one second"):
        plan(T0, T0 + timedelta(hours=1), 0)


def test_resume_starts_the_overlap_before_the_resume_point_on_the_grid() -> None:
    resume = T0 + timedelta(minutes=37)
    assert resume_start(resume, 3600, 3600) == T0 - timedelta(hours=1)
    assert resume_start(resume, 600, 600) == T0 + timedelta(minutes=20)


def test_resumed_run_asks_the_same_windows_as_one_run() -> None:
    end = T0 + timedelta(hours=5)
    whole = plan(T0, end, 1800)
    first = plan(T0, T0 + timedelta(hours=2), 1800)
    rest = plan(resume_start(first[-1].end, 1800, 1800), end, 1800)
    assert rest[0] == first[-1]  # the last window is asked again
    assert first + rest[1:] == whole


@given(
    start=st.integers(0, 10**9),
    size=st.integers(1, 10**5),
    count=st.integers(1, 50),
    extra=st.floats(0, 1, exclude_max=True),
)
def test_chunks_cover_the_span_without_gaps(
    start: int, size: int, count: int, extra: float
) -> None:
    begin = datetime.fromtimestamp(start, UTC)
    end = floor(begin, size) + timedelta(seconds=size * (count - 1) + max(extra * size, 1))
    chunks = plan(begin, end, size)
    assert chunks[0].start <= begin and chunks[-1].end == end
    for before, after in itertools.pairwise(chunks):
        assert before.end == after.start
    for chunk in chunks:
        assert chunk.start == floor(chunk.start, size)
        assert chunk.grid_end - chunk.start == timedelta(seconds=size)
