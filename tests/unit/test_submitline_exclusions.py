"""The nodes a job excluded, read from sacct's SubmitLine as users write their commands."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpurel import hostlist
from gpurel.sources.slurm_values import parse_submit_lines, submit_line_exclusions


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sbatch -x gpu01 train.sh", ["gpu01"]),
        ("sbatch -xgpu01 train.sh", ["gpu01"]),
        ("sbatch --exclude=gpu01,gpu02 train.sh", ["gpu01", "gpu02"]),
        ("sbatch --exclude gpu[01-03,07] train.sh", ["gpu01", "gpu02", "gpu03", "gpu07"]),
        ("sbatch --exclud=gpu01 train.sh", ["gpu01"]),  # getopt accepts unique abbreviations
        ("sbatch -Hx gpu01 train.sh", ["gpu01"]),  # a flag, then -x in one word
        ("sbatch -N 4 --gres=gpu:8 -x gpu01 --requeue train.sh", ["gpu01"]),
        ("sbatch -x gpu01 -x gpu02 train.sh", ["gpu02"]),  # the last one wins, as in Slurm
        ("sbatch --exclude='gpu[01-02]' train.sh", ["gpu01", "gpu02"]),
        ('sbatch -x "gpu01,gpu02" --job-name="my run" train.sh', ["gpu01", "gpu02"]),
        ("/usr/bin/sbatch -x gpu01 job.sh", ["gpu01"]),
        ("srun -N2 -x gpu[1-2] python train.py", ["gpu1", "gpu2"]),
        ("salloc --exclude=gpu3 -N 1", ["gpu3"]),
        ("sbatch --exclude= --wrap=true", []),
        # Slurm joins argv unquoted: a value with a space is two words
        ("srun -x gpu002 -J s r true", ["gpu002"]),
        ("sbatch --parsable --chdir=/tmp -x gpu001 --wrap=sleep 1", ["gpu001"]),
        # nothing excluded, and nothing else could have
        ("sbatch --wrap=hostname", []),
        ("sbatch --wrap hostname -N 2", []),
        ("srun -N 2 hostname", []),
        ("salloc -N 1", []),
        # options after the script or command belong to it
        ("sbatch train.sh -x gpu01", None),
        ("srun python -x gpu01", []),
        ("srun -- -x gpu01", []),
        ("sbatch --requeue -- train.sh -x gpu01", None),
        # a long option without '=' takes the next word; a flag does not
        ("sbatch --partition gpu -x gpu01 train.sh", ["gpu01"]),
        ("sbatch --time 10 --exclude gpu01 train.sh", ["gpu01"]),
        ("srun --wait 30 -x gpu01 hostname", ["gpu01"]),  # srun --wait takes seconds
        ("sbatch --wait -x gpu01 train.sh", ["gpu01"]),  # sbatch --wait is a flag
        # unbalanced quotes (a --wrap script's): words at white space
        ("sbatch -x gpu01 --wrap=echo it's done", ["gpu01"]),
    ],
)
def test_exclusions_of_a_submit_line(line: str, expected: list[str] | None) -> None:
    assert submit_line_exclusions(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "sbatch train.sh",  # its #SBATCH lines may exclude nodes: the line cannot say
        "sbatch",  # script on stdin
        "sbatch -N 2 --requeue job.sh",
        "sbatch -x ./bad_nodes.txt train.sh",  # a file of names, which accounting does not keep
        "sbatch --exclude=/etc/slurm/exclude --wrap=true",
    ],
)
def test_a_line_that_cannot_say_gives_null(line: str) -> None:
    assert submit_line_exclusions(line) is None


def test_an_exclude_value_that_is_no_hostlist_raises() -> None:
    with pytest.raises(hostlist.HostlistError):
        submit_line_exclusions("sbatch -x gpu[01- train.sh")


def test_column_conversion_keeps_null_empty_and_bad_apart() -> None:
    values = pa.array(
        ["sbatch -x gpu[1-2] a.sh", "srun hostname", "", "sbatch a.sh", "sbatch -x n[1- a.sh"]
    )
    nodes, bad = parse_submit_lines(values)
    assert nodes.to_pylist() == [["gpu1", "gpu2"], [], None, None, None]
    assert bad.to_pylist() == [False, False, False, False, True]


_NAMES = st.lists(st.from_regex(r"gpu[0-9]{1,3}", fullmatch=True), min_size=1, max_size=6)
_SPELLINGS = st.sampled_from(["-x {}", "-x{}", "--exclude={}", "--exclude {}", "--exclude='{}'"])


@given(names=_NAMES, spelling=_SPELLINGS, before=st.sampled_from(["", "-N 2 ", "--requeue "]))
def test_any_spelling_of_a_hostlist_gives_its_names(
    names: list[str], spelling: str, before: str
) -> None:
    line = f"sbatch {before}{spelling.format(hostlist.compress(names))} train.sh"
    assert sorted(submit_line_exclusions(line) or []) == sorted(names)
