"""The questions the collector asks Slurm: sacct and sacctmgr for one time window.

Output format: ``sacct --parsable2`` text, never ``--json``. The text works the same on every
Slurm release the collector may meet (``--json`` needs the data_parser plugins, its schema
changes between releases, and Slurm 22.05 reports NODE_FAIL jobs with status SUCCESS), and
gpurel's sacct reader streams it. The field list is gpurel's (``SACCT_FIELDS``) cut to what
the local sacct knows (``sacct --helpformat``: 22.05 has no ``Restarts``, releases before 21.08
no ``SubmitLine``). The delimiter is the ASCII unit separator, which no job name contains in
practice, so a ``|`` in a name cannot shift the columns. SubmitLine, the submitting command
(where the exclusion signal comes from), comes last: a newline in it (a ``--wrap`` script of
several lines) continues the row on the next line, and the answer's rows are joined back
with a space in its place.

Times: every command runs (through ``gpurel.slurm_client``) with ``TZ=UTC`` and
``SLURM_TIME_FORMAT=standard``, so sacct and sacctmgr print UTC (they format times on the
client) and read ``-S``/``-E`` in UTC, whatever the zone of the controller or of the
collector's host.

Answers: a window is stored only from a complete answer. A client that exits nonzero, prints
nothing, runs past its timeout, or prints output that stops in the middle of a line or has a
line with the wrong number of fields has failed; each such failure but a lasting error
message is retried.

Load: one sacct and one sacctmgr query per window, each retried with backoff while slurmdbd
cannot be reached; read access to accounting is all it needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from gpurel import slurm_client
from gpurel.collect.chunks import Chunk
from gpurel.collect.retry import Backoff, CommandFailed, with_retry
from gpurel.sacct_fields import JOB_FIELDS
from gpurel.slurm_client import TIMEOUT_S, exit_text, last_line

# SubmitLine last: free text that may hold newlines (Layout.free_last)
SACCT_FIELDS = (*JOB_FIELDS, "ElapsedRaw", "TimelimitRaw", "ExitCode", "Restarts", "SubmitLine")
REQUIRED_FIELDS = frozenset({"JobID", "State", "Submit", "Start", "End", "NodeList"})
EVENT_FIELDS = ("Cluster", "NodeName", "Start", "End", "State", "Reason", "User")
DELIMITER = "\x1f"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

# stderr of a Slurm client that could not reach slurmdbd (or slurmctld), or timed out
_TRANSIENT = re.compile(
    r"connection refused|persistent connection|problem talking to the database|"
    r"unable to (contact|connect)|timed? ?out|zero bytes were transmitted|"
    r"resource temporarily unavailable|no route to host|connection reset|broken pipe|"
    r"network is unreachable|slurmdbd",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Layout:
    """A complete ``--parsable2`` answer: every row ends with a newline and has ``fields``
    fields split by ``delimiter``; more only if ``wider`` (sacctmgr keeps a ``|`` of a
    reason). With ``free_last``, the last field is free text whose newlines continue the row
    on the following lines (lines without a delimiter)."""

    delimiter: str
    fields: int
    wider: bool = False
    free_last: bool = False

    def flaw(self, text: str) -> str | None:
        """What makes ``text`` an incomplete answer, or None."""
        if not text.endswith("\n"):
            return "output stops in the middle of a line"
        for number, row in self._rows(text):
            count = row.count(self.delimiter) + 1
            if count < self.fields or (count > self.fields and not self.wider):
                return f"line {number} has {count} fields, expected {self.fields}"
        return None

    def joined(self, text: str) -> str:
        """``text`` with one row per line: a newline inside the free last field becomes a
        space."""
        return "".join(row + "\n" for _, row in self._rows(text))

    def _rows(self, text: str) -> list[tuple[int, str]]:
        """The rows of a newline-terminated answer, each with its first line's number."""
        lines = text[:-1].split("\n")
        rows: list[tuple[int, str]] = []
        for number, line in enumerate(lines, 1):
            if rows and self._continues(line):
                rows[-1] = (rows[-1][0], f"{rows[-1][1]} {line}")
            else:
                rows.append((number, line))
        return rows

    def _continues(self, line: str) -> bool:
        """Whether ``line`` continues the free last field of the row before it: a line
        without a delimiter is no row of its own."""
        return self.free_last and self.delimiter not in line


def run_command(args: list[str], timeout_s: float = TIMEOUT_S, layout: Layout | None = None) -> str:
    """Run a Slurm client; its stdout, or CommandFailed (transient if it may pass).

    With a ``layout``, output that does not match it is a transient failure.
    """
    command = " ".join(args[:3])

    def fail(detail: str, transient: bool) -> CommandFailed:
        return CommandFailed(command, detail, transient=transient)

    done = slurm_client.run(args, fail, timeout_s)
    if done.returncode != 0:
        raise fail(*_failure(done.returncode, done.stderr))
    if not done.stdout.strip():  # sacct and sacctmgr print a header even when nothing matches
        raise fail(last_line(done.stderr) or "no output, not even a header", True)
    flaw = layout.flaw(done.stdout) if layout else None
    if flaw:
        raise fail(f"incomplete answer: {flaw}", True)
    return done.stdout


def _failure(status: int, stderr: str) -> tuple[str, bool]:
    """Why a client failed, and whether trying again may help: a known passing error, a
    signal (killed, crashed) or a failure without a word may; a stated error does not."""
    said = last_line(stderr)
    return said or exit_text(status), status < 0 or not said or bool(_TRANSIENT.search(stderr))


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


@dataclass
class SlurmClient:
    """sacct and sacctmgr for one cluster, retried with ``backoff`` while slurmdbd is away;
    each call is stopped after ``timeout_s``."""

    cluster: str
    backoff: Backoff = field(default_factory=Backoff)
    on_retry: Callable[[CommandFailed, float], None] = lambda error, delay: None
    timeout_s: float = TIMEOUT_S
    _fields: tuple[str, ...] | None = field(default=None, init=False)

    def ask(self, args: list[str], layout: Layout | None = None) -> str:
        """Run a Slurm client command, retrying while slurmdbd is unreachable or the answer
        does not match ``layout``."""
        call = partial(run_command, args, self.timeout_s, layout)
        return with_retry(call, self.backoff, self.on_retry)

    def fields(self) -> tuple[str, ...]:
        """gpurel's sacct fields that this sacct knows (asked once per run)."""
        if self._fields is None:
            known = {name.lower() for name in self.ask(["sacct", "--helpformat"]).split()}
            self._fields = tuple(f for f in SACCT_FIELDS if f.lower() in known)
            missing = sorted(f for f in REQUIRED_FIELDS if f not in self._fields)
            if missing:
                detail = f"this sacct lacks the fields {', '.join(missing)}"
                raise CommandFailed("sacct --helpformat", detail, transient=False)
        return self._fields

    def sacct_args(self, chunk: Chunk) -> list[str]:
        """Every job attempt and step of every user that was eligible or ran in ``chunk``."""
        return [
            "sacct",
            "--allusers",
            "--duplicates",
            "--parsable2",
            f"--delimiter={DELIMITER}",
            f"--format={','.join(self.fields())}",
            f"--clusters={self.cluster}",
            f"--starttime={_when(chunk.start)}",
            f"--endtime={_when(chunk.end)}",
        ]

    def events_args(self, chunk: Chunk) -> list[str]:
        """Node state events (down, drain, ...) open at some moment of ``chunk``."""
        return [
            "sacctmgr",
            "--parsable2",
            "show",
            "event",
            "Event=Node",
            f"Clusters={self.cluster}",
            f"Start={_when(chunk.start)}",
            f"End={_when(chunk.end)}",
            f"Format={','.join(EVENT_FIELDS)}",
        ]

    def jobs(self, chunk: Chunk) -> str:
        """sacct's text for ``chunk``, with its header line, one row per line."""
        fields = self.fields()
        layout = Layout(DELIMITER, len(fields), free_last=fields[-1] == "SubmitLine")
        return layout.joined(self.ask(self.sacct_args(chunk), layout))

    def events(self, chunk: Chunk) -> str:
        """sacctmgr's node events for ``chunk``, with their header line."""
        return self.ask(self.events_args(chunk), Layout("|", len(EVENT_FIELDS), wider=True))


def local_cluster(timeout_s: float = TIMEOUT_S) -> str:
    """ClusterName of the local Slurm configuration (``scontrol show config``)."""
    text = run_command(["scontrol", "show", "config"], timeout_s)
    match = re.search(r"^ClusterName\s*=\s*(\S+)", text, re.MULTILINE)
    if match is None:
        raise CommandFailed(
            "scontrol show config", "no ClusterName: pass --cluster", transient=False
        )
    return match.group(1)
