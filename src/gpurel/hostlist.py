"""Slurm hostlists: expand ``gpu[001-004,007]`` to host names and compress them back.

Our own implementation of Slurm's hostlist syntax:

- a hostlist is a comma-separated list of host expressions; commas inside brackets
  belong to the bracket (``gpu[1,3],cpu1``);
- a host expression is literal text with any number of bracket groups
  (``r[1-2]n[01-02]`` expands left-major: r1n01, r1n02, r2n01, r2n02);
- a bracket group holds comma-separated numbers and ranges ``lo-hi``; each one is
  zero-padded to the width of its ``lo`` (``[08-10]`` gives 08, 09, 10);
- ``""``, ``None assigned`` and ``(null)`` (what sacct prints for no nodes) are empty.

Duplicates are kept: the lists are multisets. :func:`compress` sorts naturally and merges
names on their trailing number only (``gpu1-ib`` stays a plain name), which every Slurm
version reads back. It takes only names Slurm can have (:func:`slurm_name_problem`): Slurm
splits hostlists at commas, spaces and tabs and reads brackets as ranges, so no node name
holds them. :func:`compress_slurm_names` compresses those and returns the others as they are.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from gpurel.errors import GpurelError

EMPTY = frozenset({"", "None assigned", "(null)"})
MAX_HOSTS = 1 << 20  # refuse to expand more hosts than this from one string

_RANGE = re.compile(r"([0-9]{1,18})(?:-([0-9]{1,18}))?", re.ASCII)
_LAST_NUMBER = re.compile(r"^(.*?)([0-9]{1,18})$", re.ASCII | re.DOTALL)
_RUNS = re.compile(r"([0-9]+)", re.ASCII)


class HostlistError(GpurelError, ValueError):
    """A hostlist string, or a host name given to compress, is malformed."""


def expand(hostlist: str | None) -> list[str]:
    """Host names of a Slurm hostlist, in the order written."""
    if hostlist is None or hostlist.strip() in EMPTY:
        return []
    hosts: list[str] = []
    for expression in _split_top_level(hostlist.strip()):
        hosts.extend(_expand_expression(expression, MAX_HOSTS - len(hosts)))
    return hosts


def slurm_name_problem(name: str) -> str | None:
    """Why no Slurm node can be called ``name``, or None if one can.

    Refused: the empty name and sacct's words for no node, white space, ``,``, ``[`` and
    ``]`` (hostlist syntax), and unprintable characters (control and format characters,
    which no configuration line or terminal shows as they are).
    """
    if not name:
        return "empty"
    if name in EMPTY:
        return "what sacct prints for no node"
    if any(c.isspace() for c in name):
        return "contains white space"
    if any(c in "[]," for c in name):
        return "contains ',', '[' or ']'"
    if not name.isprintable():
        return "contains an unprintable character"
    return None


def compress(hosts: Iterable[str]) -> str:
    """The shortest-form Slurm hostlist of ``hosts``, naturally sorted (duplicates kept)."""
    names = list(hosts)
    for name in names:
        problem = slurm_name_problem(name)
        if problem is not None:
            raise HostlistError(f"cannot put host name {name!r} in a hostlist: {problem}")
    parts: list[str] = []
    for prefix, numbers in _runs_of_same_prefix(sorted(names, key=natural_key)):
        parts.append(_format_group(prefix, numbers))
    return ",".join(parts)


def compress_slurm_names(hosts: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The hostlist of the names Slurm can have, and the other names as they are (in the
    order given), each with why it cannot be in a hostlist."""
    names = list(hosts)
    problems = {name: why for name in names if (why := slurm_name_problem(name)) is not None}
    return compress(name for name in names if name not in problems), problems


def natural_key(name: str) -> tuple[tuple[str | tuple[int, str], ...], str]:
    """Sort key putting ``n9`` before ``n10``; ties (``n01``, ``n1``) fall back to the text."""
    pieces = _RUNS.split(name)
    return tuple(_number_key(p) if i % 2 else p for i, p in enumerate(pieces)), name


def _number_key(digits: str) -> tuple[int, str]:
    """Orders digit strings by value, however long."""
    significant = digits.lstrip("0")
    return len(significant), significant


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, checking that brackets balance and do not nest."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char == "[":
            if depth:
                raise HostlistError(f"nested '[' at position {i} in {text!r}")
            depth = 1
        elif char == "]":
            if not depth:
                raise HostlistError(f"unmatched ']' at position {i} in {text!r}")
            depth = 0
        elif char == "," and not depth:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise HostlistError(f"unclosed '[' in {text!r}")
    parts.append(text[start:])
    for part in parts:
        if not part:
            raise HostlistError(f"empty host name in {text!r}")
    return parts


def _expand_expression(expression: str, budget: int) -> list[str]:
    """Expand one host expression such as ``r[1-2]n[01-02]``."""
    if any(c.isspace() for c in expression):
        raise HostlistError(f"white space in host expression {expression!r}")
    pieces = re.split(r"\[([^\]]*)\]", expression)
    choices: list[list[str]] = []
    size = 1
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            choices.append([piece])
            continue
        numbers = _bracket_numbers(piece, expression)
        size *= len(numbers)
        if size > budget:
            raise HostlistError(f"{expression!r} expands to more than {MAX_HOSTS} hosts")
        choices.append(numbers)
    return ["".join(combo) for combo in itertools.product(*choices)]


def _bracket_numbers(body: str, expression: str) -> list[str]:
    """The zero-padded numbers of one bracket group's body (``001-004,007``)."""
    numbers: list[str] = []
    for item in body.split(","):
        match = _RANGE.fullmatch(item)
        if match is None:
            raise HostlistError(f"bad range {item!r} in {expression!r}")
        lo_text, hi_text = match.group(1), match.group(2)
        lo = int(lo_text)
        hi = lo if hi_text is None else int(hi_text)
        if hi < lo:
            raise HostlistError(f"range {item!r} goes down in {expression!r}")
        if hi - lo + len(numbers) >= MAX_HOSTS:
            raise HostlistError(f"{expression!r} expands to more than {MAX_HOSTS} hosts")
        width = len(lo_text)
        numbers.extend(str(n).zfill(width) for n in range(lo, hi + 1))
    return numbers


def _runs_of_same_prefix(names: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Consecutive names sharing the text before a trailing number, with those numbers.

    A name without a trailing number (or with nothing before it) is its own run with no
    numbers, so the output keeps the natural order of ``names`` exactly.
    """
    prefix: str | None = None
    numbers: list[str] = []
    for name in names:
        match = _LAST_NUMBER.match(name)
        if match is None or not match.group(1):
            if prefix is not None:
                yield prefix, numbers
            yield name, []
            prefix, numbers = None, []
        elif match.group(1) == prefix:
            numbers.append(match.group(2))
        else:
            if prefix is not None:
                yield prefix, numbers
            prefix, numbers = match.group(1), [match.group(2)]
    if prefix is not None:
        yield prefix, numbers


def _format_group(prefix: str, numbers: list[str]) -> str:
    """``prefix[ranges]`` for sorted number strings, or the plain name for one or none."""
    if not numbers:
        return prefix
    if len(numbers) == 1:
        return prefix + numbers[0]
    ranges: list[list[str]] = []
    for text in numbers:
        last = ranges[-1] if ranges else None
        if last is not None and _extends(last, text):
            last[1] = text
        else:
            ranges.append([text, text])
    body = ",".join(lo if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)
    return f"{prefix}[{body}]"


def _extends(span: list[str], text: str) -> bool:
    """Whether ``text`` is the next number after ``span`` at the span's padding width."""
    lo, hi = span
    value = int(text)
    return value == int(hi) + 1 and str(value).zfill(len(lo)) == text
