"""A real Slurm cluster on loopback for the integration tests (Debian's slurm-wlm packages).

One ``SlurmLab`` runs munged, MariaDB, slurmdbd, slurmctld and one ``slurmd -N`` per node
from a private directory, on private loopback ports, so that several runs can coexist.
``stop`` ends the daemons by pid, then every process still working in the directory
(slurmstepd and job processes leave their slurmd's session and outlive a killed slurmd).
Each run records its owner, daemons and directory in a pid directory shared by all runs:
a later run kills and removes what a crashed one left behind.

Nodes have ``gres/gpu:8`` backed by plain files. The ``HealthCheckProgram``
(``slurmlab_files.healthcheck``) reports a fault planted with ``inject`` as a GCM record and
drains or downs the node with an NHC reason, and logs an ``ok`` record otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from slurmlab_files import (
    CLUSTER,
    GPUS_PER_NODE,
    Layout,
    Ports,
    gres_conf,
    healthcheck,
    slurm_conf,
    slurmdbd_conf,
)

BASE = Path(tempfile.gettempdir()) / "gpurel-slurm"
PID_DIR = BASE / "pids"
PACKAGES = ("slurm-wlm", "slurmdbd", "munge", "mariadb-server")
COMMANDS = ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "mariadb-install-db")
STOP_ORDER = ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged")

T = TypeVar("T")


class LabError(RuntimeError):
    """The lab cannot be set up or did not reach an expected state in time."""


def missing_commands() -> list[str]:
    """Daemons and tools of the lab that are not on PATH."""
    return [c for c in COMMANDS if shutil.which(c) is None]


def install_prerequisites() -> str | None:
    """Install the Slurm packages if missing; the reason they cannot be, or None."""
    if not missing_commands():
        return None
    if os.geteuid() != 0:
        return f"not root: cannot install {', '.join(PACKAGES)}"
    if shutil.which("apt-get") is None:
        return f"no apt-get to install {', '.join(PACKAGES)}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *PACKAGES]
    if _quiet(install, env) != 0 and (
        _quiet(["apt-get", "update", "-q"], env) != 0 or _quiet(install, env) != 0
    ):
        return f"apt-get install {' '.join(PACKAGES)} failed"
    missing = missing_commands()
    return f"still missing after install: {', '.join(missing)}" if missing else None


def _quiet(args: list[str], env: dict[str, str]) -> int:
    return subprocess.run(args, env=env, capture_output=True, check=False).returncode


def wait_until(
    probe: Callable[[], T | None], what: str, timeout: float = 60, every: float = 0.5
) -> T:
    """Poll ``probe`` until it returns something other than None/False; LabError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- processes: pid records, stale runs ---------------------------------------------------------


def _born(pid: int) -> int | None:
    """Start time (clock ticks after boot) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[19])


def _uses(pid: int, root: Path) -> bool:
    """Whether the process works in ``root`` or holds a file under it."""
    base = Path(f"/proc/{pid}")
    try:
        links = [base / "cwd", *(base / "fd").iterdir()]
    except OSError:
        return False
    prefix = f"{root}/"
    for link in links:
        try:
            if os.readlink(link).startswith(prefix):
                return True
        except OSError:
            continue
    return False


def processes_in(root: Path) -> list[int]:
    """Pids of the processes that work in ``root`` or hold a file under it.

    This finds what a lab started even after its parent died: slurmstepd and job processes
    start their own sessions and are reparented to init when their slurmd is killed.
    """
    me = os.getpid()
    pids = (int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit())
    return [pid for pid in pids if pid != me and _uses(pid, root)]


def terminate(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM each pid, then SIGKILL those still alive after ``grace`` seconds."""
    born = {pid: _born(pid) for pid in pids}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        alive = [pid for pid in pids if born[pid] is not None and _born(pid) == born[pid]]
        for pid in alive:
            _signal(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_born(pid) == born[pid] for pid in alive):
            time.sleep(0.1)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def kill_stale_runs() -> None:
    """Kill what earlier runs left behind (their owner is gone) and remove their files."""
    PID_DIR.mkdir(parents=True, exist_ok=True)
    for record in PID_DIR.glob("*.json"):
        data = json.loads(record.read_text())
        if _born(data["owner"]) == data["owner_born"]:
            continue  # that test session is still running
        root = Path(data["root"])
        recorded = [pid for pid, born in data["daemons"] if _born(pid) == born]
        terminate(recorded, grace=1.0)
        terminate(processes_in(root), grace=1.0)
        shutil.rmtree(root, ignore_errors=True)
        record.unlink()


@dataclass
class Daemon:
    """One started daemon."""

    name: str
    process: subprocess.Popen[bytes]
    born: int | None

    def stop(self) -> None:
        """SIGTERM the daemon (SIGKILL if it lingers) and reap it."""
        terminate([self.process.pid])
        self.process.wait(timeout=5)


def _below_ephemeral() -> tuple[int, int]:
    """Ports no outgoing connection takes: from 10000 to the kernel's ephemeral range (a port
    picked inside it can be taken by any client between the check and the daemon's bind)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10000, max(low, 12000)


def free_ports(count: int, contiguous: bool = False) -> list[int]:
    """``count`` loopback ports nobody listens on, below the ephemeral range (a contiguous
    range if asked)."""
    first, end = _below_ephemeral()
    for _ in range(200):
        if contiguous:
            base = first + secrets.randbelow(end - first - count)
            ports = list(range(base, base + count))
        else:
            ports = [first + secrets.randbelow(end - first) for _ in range(count)]
        if len(set(ports)) == count and all(_port_free(p) for p in ports):
            return ports
    raise LabError("no free loopback ports")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- the lab ------------------------------------------------------------------------------------


def _new_root() -> Path:
    BASE.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=BASE))


@dataclass
class SlurmLab:
    """A Slurm cluster of ``n_nodes`` GPU nodes on loopback, rooted in a private directory."""

    n_nodes: int = 10
    root: Path = field(default_factory=_new_root)
    daemons: dict[str, Daemon] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.nodes = [f"gpu{i:03d}" for i in range(1, self.n_nodes + 1)]
        db, dbd, ctld = free_ports(3)
        self.ports = Ports(db, dbd, ctld, tuple(free_ports(self.n_nodes, contiguous=True)))
        self.layout = Layout(self.root)
        self.env = {**os.environ, "SLURM_CONF": str(self.layout.conf)}
        self.env.pop("SLURM_TIME_FORMAT", None)

    # -- set up and tear down

    def start(self) -> None:
        """Write every file and start every daemon (under 10 s)."""
        self.root.chmod(0o755)
        for sub in ("etc", "log", "run", "state", "db", "dev", "faults", "out", "bin", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            (self.root / "spool" / node).mkdir(parents=True, exist_ok=True)
        for i in range(GPUS_PER_NODE):
            (self.root / "dev" / f"nvidia{i}").touch()
        self._write_files()
        self._start_munge()
        self._start_mariadb()
        self.start_slurmdbd()
        self._add_associations()
        self._start("slurmctld", ["slurmctld", "-D", "-i"])
        wait_until(lambda: self.run(["scontrol", "ping"], check=False).returncode == 0, "slurmctld")
        for node in self.nodes:
            self.start_slurmd(node)
        wait_until(self._all_idle, "all nodes idle", timeout=180)

    def stop(self) -> None:
        """Stop every daemon by pid (slurmd first, the database last), then any job or
        slurmstepd left over, and remove the run's files."""
        for kind in STOP_ORDER:
            group = [d for name, d in self.daemons.items() if name.split("-")[0] == kind]
            terminate([daemon.process.pid for daemon in group])
            for daemon in group:
                daemon.process.wait(timeout=5)
        self.daemons.clear()
        terminate(processes_in(self.root), grace=2.0)
        shutil.rmtree(self.root, ignore_errors=True)
        (PID_DIR / f"{self.root.name}.json").unlink(missing_ok=True)

    def _start(self, name: str, args: list[str]) -> Daemon:
        log = (self.root / "log" / f"{name}.out").open("ab")
        process = subprocess.Popen(
            args,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.root,
        )
        log.close()
        daemon = Daemon(name, process, _born(process.pid))
        self.daemons[name] = daemon
        self._record()
        return daemon

    def _record(self) -> None:
        """Write the pid record of this run: owner, daemons, root."""
        PID_DIR.mkdir(parents=True, exist_ok=True)
        record = {
            "owner": os.getpid(),
            "owner_born": _born(os.getpid()),
            "root": str(self.root),
            "daemons": [(d.process.pid, d.born) for d in self.daemons.values()],
        }
        (PID_DIR / f"{self.root.name}.json").write_text(json.dumps(record))

    def _start_munge(self) -> None:
        key = self.layout.conf.parent / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        args = [
            "munged",
            "--foreground",
            "--force",
            f"--socket={self.layout.munge_socket}",
            f"--key-file={key}",
            f"--pid-file={self.root / 'run' / 'munged.pid'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
            f"--seed-file={self.root / 'run' / 'munged.seed'}",
        ]
        self._start("munged", args)
        wait_until(self.layout.munge_socket.exists, "munged's socket")

    def _start_mariadb(self) -> None:
        datadir = self.root / "db"
        install = [
            "mariadb-install-db",
            "--no-defaults",
            "--user=root",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        done = subprocess.run(install, capture_output=True, check=False, cwd=self.root)
        if done.returncode != 0:
            raise LabError(f"mariadb-install-db failed: {done.stderr.decode()[-2000:]}")
        args = [
            "mariadbd",
            "--no-defaults",
            "--user=root",
            f"--datadir={datadir}",
            f"--socket={self.root / 'run' / 'mysql.sock'}",
            f"--port={self.ports.db}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.root / 'run' / 'mariadbd.pid'}",
            "--skip-grant-tables",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-lock-wait-timeout=900",
            "--skip-log-bin",
        ]
        self._start("mariadbd", args)
        wait_until(lambda: _listening(self.ports.db), "MariaDB", timeout=60)

    def start_slurmdbd(self) -> None:
        """Start slurmdbd and wait until it answers."""
        self._start("slurmdbd", ["slurmdbd", "-D"])
        wait_until(self._dbd_answers, "slurmdbd", timeout=60)

    def stop_slurmdbd(self) -> None:
        """Stop slurmdbd (the controller keeps running and queues its records)."""
        self.daemons.pop("slurmdbd").stop()
        self._record()

    def _dbd_answers(self) -> bool:
        return self.run(["sacctmgr", "-n", "show", "cluster"], check=False).returncode == 0

    def start_slurmd(self, node: str) -> None:
        """Start the slurmd of ``node``."""
        self._start(f"slurmd-{node}", ["slurmd", "-D", "-N", node])

    def kill_slurmd(self, node: str) -> None:
        """SIGKILL ``node``'s slurmd alone: the node dies without any check noticing."""
        daemon = self.daemons[f"slurmd-{node}"]
        daemon.process.kill()
        daemon.process.wait(timeout=5)

    def _add_associations(self) -> None:
        commands = [
            ["add", "cluster", CLUSTER],
            ["add", "account", "research", f"cluster={CLUSTER}"],
            ["add", "qos", "low", "priority=10"],
            ["add", "qos", "high", "priority=1000", "preempt=low", "preemptmode=requeue"],
            ["add", "user", "root", "account=research", f"cluster={CLUSTER}"],
            ["modify", "user", "root", "set", "qos=normal,low,high", "defaultqos=normal"],
        ]
        for command in commands:
            self.run(["sacctmgr", "-i", *command])

    def _write_files(self) -> None:
        """slurm.conf, slurmdbd.conf, gres.conf and the health check."""
        etc = self.layout.conf.parent
        self.layout.conf.write_text(slurm_conf(self.layout, self.ports))
        (etc / "gres.conf").write_text(gres_conf(self.layout, self.n_nodes))
        (etc / "slurmdbd.conf").write_text(slurmdbd_conf(self.layout, self.ports))
        (etc / "slurmdbd.conf").chmod(0o600)
        script = self.layout.healthcheck
        script.write_text(healthcheck(self.layout))
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    # -- commands

    def run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command against the lab."""
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise LabError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def sbatch(self, *args: str, script: str = "sleep 5") -> str:
        """Submit a batch job (``script`` is a shell script body); its job id."""
        out = self.root / "out" / "%j.out"
        command = ["sbatch", "--parsable", f"--output={out}", f"--chdir={self.root}", *args]
        return self.run([*command, f"--wrap={script}"]).stdout.strip().split(";")[0]

    def node_state(self, node: str) -> str:
        """The node's state as sinfo prints it (``idle``, ``down*``, ``drained``, ...)."""
        return self.run(["sinfo", "-h", "-n", node, "-o", "%t"]).stdout.strip()

    def job(self, job_id: str) -> dict[str, str]:
        """The controller's view of a job (``scontrol show job``) as a dict."""
        text = self.run(["scontrol", "-o", "show", "job", job_id]).stdout
        return dict(part.split("=", 1) for part in text.split() if "=" in part)

    def job_state(self, job_id: str) -> str:
        """The job's state in the controller."""
        return self.job(job_id).get("JobState", "")

    def wait_job(self, job_id: str, states: set[str], timeout: float = 60) -> str:
        """Wait until the job is in one of ``states``; the state."""
        return wait_until(
            lambda: _member(self.job_state(job_id), states),
            f"job {job_id} in {sorted(states)}",
            timeout,
        )

    def wait_accounted(self, job_ids: list[str], states: set[str], timeout: float = 120) -> None:
        """Wait until accounting (sacct, through slurmdbd, which may lag the controller on a
        busy machine) shows the last run of every job in one of ``states``."""

        def settled() -> bool:
            listed = ",".join(job_ids)
            answer = self.run(["sacct", "-n", "-X", "-P", "-j", listed, "-o", "JobID,State"])
            last: dict[str, str] = {}
            for line in answer.stdout.splitlines():
                job_id, _, state = line.partition("|")
                last[job_id] = state.split()[0] if state else ""
            return all(last.get(job_id) in states for job_id in job_ids)

        wait_until(settled, f"accounting of jobs {', '.join(job_ids)} in {sorted(states)}", timeout)

    def wait_node(self, node: str, states: set[str], timeout: float = 60) -> str:
        """Wait until sinfo shows the node in one of ``states``; the state."""
        return wait_until(
            lambda: _member(self.node_state(node), states),
            f"node {node} in {sorted(states)}",
            timeout,
        )

    def inject(self, node: str, fault: Fault) -> None:
        """Plant a fault: the node's next health check reports it (once)."""
        (self.layout.faults / node).write_text(fault.line())

    def resume(self, node: str) -> None:
        """Return a repaired node to service."""
        self.run(["scontrol", "update", f"nodename={node}", "state=resume"])

    def _all_idle(self) -> bool:
        out = self.run(["sinfo", "-h", "-N", "-o", "%N %t"]).stdout.split("\n")
        states = dict(line.split() for line in out if line.strip())
        return len(states) == self.n_nodes and set(states.values()) == {"idle"}

    def report(self) -> str:
        """Queue, nodes and the last lines of every daemon log, for failure reports."""
        parts = [self.run(command, check=False).stdout for command in (["squeue"], ["sinfo", "-N"])]
        for path in sorted((self.root / "log").glob("*.log")):
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-30:])
            parts.append(f"--- {path.name}\n{tail}")
        return "\n".join(parts)


@dataclass(frozen=True)
class Fault:
    """A fault a health check finds: GCM check, NHC check, action and message.

    ``action`` is ``down`` (high severity: the jobs die) or ``drain`` (low: they finish).
    ``xid`` also writes an NVIDIA XID line to the kernel log.
    """

    gcm_check: str
    nhc_check: str
    action: str
    message: str
    xid: int | None = None

    def line(self) -> str:
        """The fault file's one line: ``|``-separated fields."""
        fields = [self.gcm_check, self.nhc_check, self.action, str(self.xid or ""), self.message]
        return "|".join(fields) + "\n"


def _member(value: str, states: set[str]) -> str | None:
    return value if value in states else None
