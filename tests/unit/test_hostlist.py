"""Slurm hostlist expand/compress: examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpurel.errors import GpurelError
from gpurel.hostlist import (
    HostlistError,
    compress,
    compress_slurm_names,
    expand,
    natural_key,
    slurm_name_problem,
)


@pytest.mark.parametrize(
    ("hostlist", "hosts"),
    [
        ("gpu[001-004,007]", ["gpu001", "gpu002", "gpu003", "gpu004", "gpu007"]),
        ("r[1-2]n[01-02]", ["r1n01", "r1n02", "r2n01", "r2n02"]),
        ("dgx-a100-[01-03]", ["dgx-a100-01", "dgx-a100-02", "dgx-a100-03"]),
        ("node[8-10]", ["node8", "node9", "node10"]),
        ("node[08-10]", ["node08", "node09", "node10"]),
        ("a[1,3],b2,c[5-6]", ["a1", "a3", "b2", "c5", "c6"]),
        ("login1", ["login1"]),
        ("n[1]", ["n1"]),
        ("n[2,1,1]", ["n2", "n1", "n1"]),
        ("gpu[1-2]-ib", ["gpu1-ib", "gpu2-ib"]),
        ("", []),
        ("None assigned", []),
        ("(null)", []),
        (None, []),
    ],
)
def test_expand_examples(hostlist: str | None, hosts: list[str]) -> None:
    assert expand(hostlist) == hosts


@pytest.mark.parametrize(
    ("hosts", "hostlist"),
    [
        (["gpu003", "gpu001", "gpu002", "gpu007"], "gpu[001-003,007]"),
        (["node10", "node9", "node8"], "node[8-10]"),
        (["dgx-a100-02", "dgx-a100-01"], "dgx-a100-[01-02]"),
        (["a1", "b1", "a2"], "a[1-2],b1"),
        (["n01", "n1", "n2"], "n[01,1-2]"),
        (["n1", "n1"], "n[1,1]"),
        (["login", "n1"], "login,n1"),
        (["r1n01", "r1n02", "r2n01"], "r1n[01-02],r2n01"),
        (["n099", "n100", "n1000"], "n[099-100,1000]"),
        ([], ""),
    ],
)
def test_compress_examples(hosts: list[str], hostlist: str) -> None:
    assert compress(hosts) == hostlist


@pytest.mark.parametrize(
    "bad",
    ["a[", "a]", "a[1-", "a[3-1]", "a,,b", "a,", "a[[1]]", "a[]", "a[x]", "a[1-2-3]", "a b"],
)
def test_expand_rejects_malformed(bad: str) -> None:
    with pytest.raises(HostlistError):
        expand(bad)


def test_very_long_numbers() -> None:
    long = "n" + "9" * 5000
    with pytest.raises(HostlistError):
        expand("n[" + "9" * 5000 + "]")
    assert expand(compress([long, "n1"])) == ["n1", long]


def test_expand_refuses_huge_ranges() -> None:
    with pytest.raises(HostlistError, match="more than"):
        expand("n[0-99999999]")
    with pytest.raises(HostlistError, match="more than"):
        expand("a[0-9999]b[0-9999]")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("gpu041", None),
        ("gpu;reboot", None),  # Slurm may have it: shell quoting makes it safe
        ("dgx-a100_01.local", None),
        ("", "empty"),
        ("(null)", "what sacct prints for no node"),
        ("gpu 041", "contains white space"),
        ("gpu\t1", "contains white space"),
        ("a\nb", "contains white space"),
        ("a,b", "contains ',', '[' or ']'"),
        ("n[1]", "contains ',', '[' or ']'"),
        ("gpu\u202e1", "contains an unprintable character"),
        ("gpu\x001", "contains an unprintable character"),
    ],
)
def test_slurm_name_problem(name: str, problem: str | None) -> None:
    assert slurm_name_problem(name) == problem


@pytest.mark.parametrize("bad", ["", "a b", "a,b", "n[1]", "(null)", "a\u202eb"])
def test_compress_rejects_unrepresentable_names(bad: str) -> None:
    with pytest.raises(HostlistError, match="cannot put host name"):
        compress([bad])


def test_compress_slurm_names_falls_back_to_the_plain_names() -> None:
    names = ["gpu2", "gpu 041", "gpu1", "a,b", "gpu;x"]
    hosts, others = compress_slurm_names(names)
    assert hosts == "gpu[1-2],gpu;x"
    assert others == {"gpu 041": "contains white space", "a,b": "contains ',', '[' or ']'"}
    assert compress_slurm_names(["gpu 041"]) == ("", {"gpu 041": "contains white space"})


def test_hostlist_error_is_in_the_family_and_a_value_error() -> None:
    assert issubclass(HostlistError, GpurelError)
    assert issubclass(HostlistError, ValueError)


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["n10", "n9", "n1x5", "n01", "n1", "a2"]
    assert sorted(names, key=natural_key) == ["a2", "n01", "n1", "n1x5", "n9", "n10"]


def _padded(number: int, width: int) -> str:
    return str(number).zfill(width)


prefixes = st.from_regex(r"[a-z][a-z0-9-]{0,5}[a-z-]", fullmatch=True)
hosts = st.one_of(
    st.builds(
        lambda p, n, w: p + _padded(n, w),
        prefixes,
        st.integers(0, 150),
        st.integers(0, 4),
    ),
    prefixes,
    st.builds(lambda p, n, s: f"{p}{n}{s}", prefixes, st.integers(0, 20), prefixes),
)


@settings(max_examples=200)
@given(st.sets(hosts, max_size=40))
def test_expand_of_compress_is_the_sorted_set(names: set[str]) -> None:
    assert expand(compress(names)) == sorted(names, key=natural_key)


@settings(max_examples=200)
@given(st.lists(hosts, max_size=40))
def test_compress_keeps_duplicates_and_is_stable(names: list[str]) -> None:
    text = compress(names)
    assert expand(text) == sorted(names, key=natural_key)
    assert compress(expand(text)) == text


def _bracket(ranges: list[tuple[int, int, int]]) -> str:
    items = [
        _padded(lo, w) if span == 0 else f"{_padded(lo, w)}-{_padded(lo + span, w)}"
        for lo, span, w in ranges
    ]
    return "[" + ",".join(items) + "]"


ranges = st.lists(
    st.tuples(st.integers(0, 120), st.integers(0, 5), st.integers(1, 4)), min_size=1, max_size=4
)
expressions = st.builds(
    lambda p, b, q, c: p + _bracket(b) + (q + _bracket(c) if q else ""),
    prefixes,
    ranges,
    st.one_of(st.just(""), prefixes),
    ranges,
)


@settings(max_examples=200)
@given(st.lists(expressions, min_size=1, max_size=4))
def test_compress_round_trips_written_hostlists(parts: list[str]) -> None:
    written = ",".join(parts)
    names = expand(written)
    text = compress(names)
    assert expand(text) == sorted(names, key=natural_key)
    assert compress(expand(text)) == text


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("ab01-9[],x \t(null)"), max_size=30) | st.text(max_size=30))
def test_malformed_input_raises_only_hostlist_error(text: str) -> None:
    try:
        result = expand(text)
    except HostlistError:
        return
    assert all(isinstance(name, str) and name for name in result)


@settings(max_examples=300)
@given(st.lists(hosts | st.text(max_size=12), max_size=20))
def test_compress_slurm_names_round_trips_what_it_can(names: list[str]) -> None:
    text, others = compress_slurm_names(names)
    listable = [n for n in names if slurm_name_problem(n) is None]
    assert expand(text) == sorted(listable, key=natural_key)
    assert list(others) == list(dict.fromkeys(n for n in names if n not in listable))
