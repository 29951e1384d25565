"""Vectorized converters for the value columns Slurm prints (sacct text, sacct JSON).

Every converter takes a string array and returns the converted array(s) plus a boolean
mask of values that were present but could not be parsed, so a reader can reject those
rows naming the field. Values Slurm prints for "nothing" (``Unknown``, ``None``, empty,
``UNLIMITED``...) become null and are not errors.

Local times have no offset in sacct output; :func:`parse_times` reads them in a given
IANA zone (or fixed offset such as ``+02:00``). Across DST changes an ambiguous wall
time (the repeated hour in autumn) is taken as its earliest instant, and a nonexistent
one (the skipped hour in spring) is shifted forward to the end of the gap.
"""

from __future__ import annotations

import os
import re
import shlex
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import hostlist, schema
from gpurel.errors import ConfigError
from gpurel.schema import JobState
from gpurel.sources import byte_columns

NULL_TIMES = ["", "Unknown", "None", "N/A"]
NULL_DURATIONS = ["", "UNLIMITED", "Partition_Limit", "INVALID"]

_WALL_SHAPE = b"9999-99-99T99:99:99"  # byte_columns.shaped: 9 is a digit
_DURATION = (
    r"^(?:(?P<d>[0-9]{1,6})-(?P<dh>[0-9]{1,9})(?::(?P<dm>[0-9]{1,9})(?::(?P<ds>[0-9]{1,9}))?)?"
    r"|(?:(?P<h>[0-9]{1,9}):)?(?P<m>[0-9]{1,9}):(?P<s>[0-9]{1,9})(?:\.[0-9]{1,6})?"
    r"|(?P<bare>[0-9]{1,12}))$"
)
_DURATION_PARTS = {"d": 86400, "dh": 3600, "dm": 60, "ds": 1, "h": 3600, "m": 60, "s": 1}
_EXIT_CODE = r"^(?P<code>[0-9]{1,9}):(?P<signal>[0-9]{1,9})$"
_INT = r"^[0-9]{1,9}$"
_FIXED_OFFSET = re.compile(r"^[+-][0-9]{2}:[0-9]{2}$")
_CANCELLED_BY = re.compile(r"^CANCELLED BY (\S+)$")

# Short options taking a value, per submitting command (slurm_opt.c); other letters are flags
# or take an optional value, which getopt only reads when attached (``-k0``).
_SHORT_VALUES = {
    "sbatch": frozenset("aAbBcCdDeFGiJLmMnNopqStwx"),
    "srun": frozenset("AbBcCdDeGiJLmMnNopqrStTwWx"),
    "salloc": frozenset("AbBcCdDFGJLmMnNpqStwx"),
}
# Long options without a value or with an optional one (given only as ``--name=value``); every
# other long option takes the next word as its value when written without ``=``.
_LONG_FLAGS = frozenset(
    {
        "bell", "contiguous", "disable-status", "exact", "exclusive", "external-launcher",
        "get-user-env", "help", "hold", "ignore-pbs", "immediate", "kill-command",
        "kill-on-bad-exit", "label", "multi-prog", "nice", "no-allocate", "no-bell", "no-kill",
        "no-requeue", "no-shell", "overcommit", "overlap", "oversubscribe", "parsable",
        "preserve-env", "propagate", "pty", "quiet", "quit-on-interrupt", "reboot", "requeue",
        "resv-ports", "send-libs", "spread-job", "test-only", "unbuffered", "usage",
        "use-min-nodes", "verbose", "version", "wait", "whole", "x11",
    }
)  # fmt: skip
_SUBMITTERS = frozenset(_SHORT_VALUES)

# Slurm's base states and the state flags sacct may print instead, as canonical states.
BASE_STATES: dict[str, JobState] = {
    s.value: s
    for s in (
        JobState.PENDING,
        JobState.RUNNING,
        JobState.SUSPENDED,
        JobState.COMPLETED,
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
        JobState.OUT_OF_MEMORY,
    )
}
FLAG_STATES: dict[str, JobState] = {
    "REQUEUED": JobState.REQUEUED,
    "REQUEUE_FED": JobState.REQUEUED,
    "REQUEUE_HOLD": JobState.REQUEUED,
    "SPECIAL_EXIT": JobState.REQUEUED,
    "REVOKED": JobState.REVOKED,
    "COMPLETING": JobState.RUNNING,
    "CONFIGURING": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "STOPPED": JobState.SUSPENDED,
    "RESV_DEL_HOLD": JobState.PENDING,
    "LAUNCH_FAILED": JobState.FAILED,
    "RECONFIG_FAIL": JobState.FAILED,
    "UNKNOWN": JobState.UNKNOWN,
}
STATES: dict[str, JobState] = {**BASE_STATES, **FLAG_STATES}

INT32_MAX = 2**31 - 1

Converted = tuple[pa.Array, pa.Array]


def local_zone() -> str:
    """This machine's time zone: ``$TZ``, else /etc/localtime's zone, else its UTC offset."""
    for candidate in (os.environ.get("TZ", ""), _zone_of_localtime()):
        key = _zone_key(candidate)
        if key:
            return key
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def resolve_zone(tz: str | None) -> str:
    """The zone to read local times in: ``tz`` checked, or :func:`local_zone` when None."""
    if tz is None:
        return local_zone()
    if _FIXED_OFFSET.match(tz) or _zone_key(tz) == tz:
        return tz
    raise ConfigError(f"unknown time zone {tz!r}: give an IANA name such as Europe/Berlin")


def parse_times(values: pa.Array, tz: str, ambiguous: str = "earliest") -> Converted:
    """Local ``YYYY-MM-DDTHH:MM:SS`` times in zone ``tz`` as UTC ``timestamp[us]``.

    Years 1970-2999; a date or clock that does not exist (02-30, 24:00, :60) is bad.
    ``ambiguous="latest"`` reads the repeated autumn hour as its second instant.
    """
    local, ok = _wall_seconds(values)
    naive = pa.array(local, pa.timestamp("s"), mask=~ok)
    try:
        utc = pc.assume_timezone(naive, tz, ambiguous=ambiguous, nonexistent="latest")
    except pa.ArrowInvalid as exc:
        raise ConfigError(f"time zone {tz!r} is not in the time zone database") from exc
    return utc.cast(schema.TIME), _bad(values, pa.array(ok), NULL_TIMES)


def parse_durations(values: pa.Array, bare_unit: int = 1) -> Converted:
    """``[D-]HH:MM:SS``, ``D-HH[:MM]``, ``MM:SS[.mmm]`` as whole seconds (int64).

    A bare number counts ``bare_unit`` seconds: 1 for Elapsed, 60 for Timelimit, which
    Slurm gives in minutes. Fractions of a second are dropped. The shape sacct prints,
    ``[D-]HH:MM:SS``, is read from the bytes; the regular expression reads only the rest.
    """
    seconds, ok = _clock_seconds(values)
    fast = pa.array(seconds, pa.int64(), mask=~ok)
    marker = pc.is_in(values, pa.array(NULL_DURATIONS, pa.string()))
    rest = pc.and_not(pc.invert(pa.array(ok)), pc.fill_null(marker, True))
    if not pc.any(rest).as_py():
        return fast, _bad(values, pa.array(ok), NULL_DURATIONS)
    parsed, parsed_ok = _regex_durations(values.filter(rest), bare_unit)
    total = pc.replace_with_mask(fast, rest, parsed)
    good = pc.replace_with_mask(pa.array(ok), rest, parsed_ok)
    return total, _bad(values, good, NULL_DURATIONS)


def parse_ints(values: pa.Array) -> Converted:
    """Non-negative integers (node, CPU, restart counts) as int64; empty is null."""
    ok = pc.match_substring_regex(values, _INT)
    ints = pc.if_else(ok, values, pa.scalar(None, pa.string())).cast(pa.int64())
    return ints, _bad(values, ok, [""])


def parse_exit_codes(values: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``code:signal`` as (exit_code, exit_signal, bad); empty (step rows) is null."""
    parts = pc.extract_regex(values, _EXIT_CODE)
    codes = _group_int(parts, "code", blank_is_zero=False).cast(pa.int32())
    signals = _group_int(parts, "signal", blank_is_zero=False).cast(pa.int32())
    return codes, signals, _bad(values, pc.is_valid(parts), [""])


def parse_states(values: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """State text as (canonical state, cancelled_by, bad); unknown or empty text is bad."""
    state, by, ok = _per_unique(values, _state_row, (pa.string(), pa.string(), pa.bool_()))
    return state, by, _bad(values, ok, [])


def canonical_state(text: str) -> tuple[JobState, str | None] | None:
    """One state as sacct prints it, e.g. ``CANCELLED by 1234`` or ``OUT_OF_ME+``.

    Returns the canonical state and who cancelled the job (None when not given or cut
    off), or None when the text is no Slurm state.
    """
    upper = text.strip().upper()
    if upper.endswith("+"):
        return _truncated_state(upper[:-1])
    if upper in STATES:
        return STATES[upper], None
    match = _CANCELLED_BY.match(upper)
    if match:
        return JobState.CANCELLED, text.strip().split()[-1]
    return None


def state_of_list(names: Sequence[str]) -> JobState | None:
    """The canonical state of a JSON state list: its base state, else its first known flag."""
    for name in names:
        if name.upper() in BASE_STATES:
            return BASE_STATES[name.upper()]
    for name in names:
        if name.upper() in FLAG_STATES:
            return FLAG_STATES[name.upper()]
    return None


def parse_tres_counts(values: pa.Array, kind: str) -> Converted:
    """Allocated count of ``kind`` ("gpu", "cpu", "node") in TRES strings, as int32.

    An empty TRES string (a job that never ran) counts 0, like a string without ``kind``.
    """
    counts, ok = _per_unique(values, lambda text: _tres_row(text, kind), (pa.int32(), pa.bool_()))
    return counts, _bad(values, ok, [])


def tres_count(tres: Mapping[str, int], kind: str) -> int:
    """Count of ``kind`` in a parsed TRES mapping such as ``{"gres/gpu:a100": 2}``.

    For GPUs the untyped total ``gres/gpu`` wins when present (sacct prints it next to
    the typed entries); otherwise the typed ``gres/gpu:TYPE`` entries are summed.
    """
    if kind != "gpu":
        return tres.get(kind, 0)
    if "gres/gpu" in tres:
        return tres["gres/gpu"]
    return sum(n for key, n in tres.items() if key.startswith("gres/gpu:"))


def parse_tres(text: str) -> dict[str, int] | None:
    """``cpu=8,gres/gpu=1,mem=50G`` as the integer entries; None if malformed.

    Entries with unit suffixes (``mem=50G``) are skipped; GPU, CPU and node entries
    must be integers.
    """
    tres: dict[str, int] = {}
    if not text:
        return tres
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key:
            return None
        if value.isascii() and value.isdigit() and len(value) <= 18:
            tres[key] = int(value)
        elif key in ("cpu", "node", "gres/gpu") or key.startswith("gres/gpu:"):
            return None
    return tres


def parse_nodelists(values: pa.Array) -> Converted:
    """Slurm hostlists as lists of host names; ``None assigned`` and empty give []."""
    nodes, ok = _per_unique(values, _nodelist_row, (pa.list_(pa.string()), pa.bool_()))
    return nodes, _bad(values, ok, [])


def parse_submit_lines(values: pa.Array) -> Converted:
    """SubmitLine texts as the nodes each job excluded (:func:`submit_line_exclusions`).

    Null where the line cannot say (empty, or a script that may hold ``#SBATCH`` lines); an
    exclude value that is no hostlist is bad.
    """
    nodes, ok = _per_unique(values, _exclusion_row, (pa.list_(pa.string()), pa.bool_()))
    return nodes, _bad(values, ok, [""])


def submit_line_exclusions(line: str) -> list[str] | None:
    """The nodes excluded by the ``-x``/``--exclude`` option of an sbatch, srun or salloc line.

    Options are read as getopt reads them up to the first word that is not an option (the
    script or command) or ``--``: ``-x LIST``, ``-xLIST``, ``-vx LIST``, ``--exclude LIST``,
    ``--exclude=LIST`` and its abbreviations down to ``--exclud``; the last one given wins, as
    in Slurm. Quotes are honoured where they pair up (the line holds argv as typed only when a
    wrapper put them there). An empty list: the line excludes nothing and nothing else could
    (srun, salloc, ``sbatch --wrap``). None: the line cannot say, because it is empty, the
    exclusion is a file (a value with ``/``), or sbatch ran a script whose ``#SBATCH`` lines may
    exclude nodes. HostlistError if the value is no hostlist. Words of a ``--wrap`` command
    that look like options are read as options: SubmitLine does not keep argv's boundaries.
    """
    words = _words(line)
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    shorts = _SHORT_VALUES.get(program, _SHORT_VALUES["sbatch"])
    excluded: str | None = None
    wrapped = program != "sbatch" and program in _SUBMITTERS
    i = 1
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--" or not word.startswith("-") or word == "-":
            break
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
            if not has_value and _long_takes_value(name, program):
                value, i = (words[i], i + 1) if i < len(words) else ("", i)
            if len(name) >= len("exclud") and "exclude".startswith(name):
                excluded = value
            wrapped = wrapped or (len(name) >= 2 and "wrap".startswith(name))
            continue
        for at, letter in enumerate(word[1:], 1):
            if letter in shorts:
                value = word[at + 1 :]
                if not value:
                    value, i = (words[i], i + 1) if i < len(words) else ("", i)
                if letter == "x":
                    excluded = value
                break
    if excluded is None:
        return [] if wrapped else None
    excluded = _unquoted(excluded)
    return None if "/" in excluded else hostlist.expand(excluded)


def _words(line: str) -> list[str]:
    """The words of a submit line: shell-like where its quotes pair up, else at white space."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _unquoted(value: str) -> str:
    """``value`` without one pair of surrounding quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _long_takes_value(name: str, program: str) -> bool:
    """Whether long option ``name`` (written without ``=``) takes the next word."""
    if name == "wait":
        return program == "srun"  # srun --wait=SECONDS; sbatch --wait is a flag
    return name not in _LONG_FLAGS


@lru_cache(maxsize=1 << 12)
def _exclusion_row(text: str) -> tuple[list[str] | None, bool]:
    try:
        return submit_line_exclusions(text), True
    except hostlist.HostlistError:
        return None, False


def _zone_of_localtime() -> str:
    try:
        return os.readlink("/etc/localtime")
    except OSError:
        try:
            return Path("/etc/timezone").read_text(encoding="utf-8").strip()
        except OSError:
            return ""


def _zone_key(candidate: str) -> str | None:
    """The IANA key in a TZ value, zoneinfo path or key, if the zone database knows it."""
    key = candidate.lstrip(":").split("zoneinfo/")[-1]
    if not key:
        return None
    try:
        zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return key


def _wall_seconds(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 of ``YYYY-MM-DDTHH:MM:SS`` wall times, and which values are such."""
    matrix, lengths = byte_columns.tail_bytes(values, len(_WALL_SHAPE))
    (year, month, day, hour, minute, second), ok = byte_columns.shaped(matrix, _WALL_SHAPE)
    months = (year - 1970) * 12 + month - 1
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    length = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - first
    ok &= (lengths == len(_WALL_SHAPE)) & (year >= 1970) & (year <= 2999)
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= length)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    local = (first + day - 1) * 86400 + hour * 3600 + minute * 60 + second
    return np.where(ok, local, 0), ok


def _clock_seconds(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of ``HH:MM:SS`` and ``D-HH:MM:SS`` (up to 6 day digits), and which values are."""
    matrix, lengths = byte_columns.tail_bytes(values, 15)
    (hours, minutes, seconds), ok = byte_columns.shaped(matrix[7:], b"99:99:99")
    days, numeric = byte_columns.left_digits(matrix[:6], lengths - 9)
    dashed = (lengths >= 10) & (lengths <= 15) & (matrix[6] == ord("-")) & numeric
    ok &= (lengths == 8) | dashed
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    return np.where(ok, total, 0), ok


def _regex_durations(values: pa.Array, bare_unit: int) -> Converted:
    """Durations in any shape sacct prints, by regular expression: (seconds, matched)."""
    parts = pc.extract_regex(values, _DURATION)
    total = pc.multiply(_group_int(parts, "bare"), pa.scalar(bare_unit, pa.int64()))
    for name, seconds in _DURATION_PARTS.items():
        total = pc.add(total, pc.multiply(_group_int(parts, name), pa.scalar(seconds, pa.int64())))
    return total, pc.is_valid(parts)


def _bad(values: pa.Array, ok: pa.Array, nulls: Sequence[str]) -> pa.Array:
    """Present, not a null marker, and not parsed."""
    marker = pc.is_in(values, pa.array(nulls, pa.string()))
    present = pc.and_(pc.is_valid(values), pc.invert(marker))
    return pc.fill_null(pc.and_(present, pc.invert(pc.fill_null(ok, False))), False)


def _group_int(parts: pa.Array, name: str, *, blank_is_zero: bool = True) -> pa.Array:
    """A regex group as int64; an unmatched group is 0 (or null), an unmatched row null."""
    text = pc.struct_field(parts, name)
    blank = pa.scalar("0" if blank_is_zero else None, pa.string())
    return pc.if_else(pc.equal(text, ""), blank, text).cast(pa.int64())


def _per_unique(
    values: pa.Array, convert: Callable[[str], tuple[Any, ...]], types: Sequence[pa.DataType]
) -> list[pa.Array]:
    """Apply ``convert`` once per distinct value and spread its outputs over all rows."""
    encoded = pc.dictionary_encode(values)
    rows = [convert(text) for text in encoded.dictionary.to_pylist()]
    columns = [pa.array([row[i] for row in rows], type=t) for i, t in enumerate(types)]
    return [column.take(encoded.indices) for column in columns]


@lru_cache(maxsize=1 << 16)  # states, TRES and node lists repeat from block to block
def _state_row(text: str) -> tuple[str | None, str | None, bool]:
    found = canonical_state(text)
    if found is None:
        return None, None, False
    return found[0].value, found[1], True


def _truncated_state(prefix: str) -> tuple[JobState, str | None] | None:
    """A state name cut by a narrow ``--format`` width, when the prefix is unambiguous."""
    if prefix.startswith("CANCELLED"):
        return JobState.CANCELLED, None
    if not prefix:
        return None
    matches = {state for name, state in STATES.items() if name.startswith(prefix)}
    return (matches.pop(), None) if len(matches) == 1 else None


@lru_cache(maxsize=1 << 16)
def _tres_row(text: str, kind: str) -> tuple[int | None, bool]:
    tres = parse_tres(text)
    count = None if tres is None else tres_count(tres, kind)
    if count is None or count > INT32_MAX:
        return None, False
    return count, True


@lru_cache(maxsize=1 << 12)  # fewer: an expanded list can be long
def _nodelist_row(text: str) -> tuple[list[str] | None, bool]:
    try:
        return hostlist.expand(text), True
    except hostlist.HostlistError:
        return None, False
