"""The files of a Slurm lab: where they live under its root, and their contents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CLUSTER = "lab"
GPUS_PER_NODE = 8
SLURMD_TIMEOUT_S = 10  # a dead slurmd's node is DOWN (its jobs NODE_FAIL) about 20 s later
PREEMPT_EXEMPT_S = 10
HEALTHCHECK_INTERVAL_S = 3


@dataclass(frozen=True)
class Layout:
    """Paths under a lab's root directory."""

    root: Path

    @property
    def conf(self) -> Path:
        """slurm.conf (slurmdbd.conf and gres.conf sit next to it)."""
        return self.root / "etc" / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.root / "run" / "munge.sock"

    @property
    def healthcheck(self) -> Path:
        return self.root / "bin" / "healthcheck"

    @property
    def health_log(self) -> Path:
        """GCM-style JSON lines written by the health check."""
        return self.root / "log" / "health.jsonl"

    @property
    def kernel_log(self) -> Path:
        """Kernel-log XID lines written by the health check."""
        return self.root / "log" / "kern.log"

    @property
    def faults(self) -> Path:
        """One file per node with a planted fault."""
        return self.root / "faults"


@dataclass(frozen=True)
class Ports:
    """The lab's loopback ports."""

    db: int
    dbd: int
    ctld: int
    slurmd: tuple[int, ...]  # consecutive, one per node


def _nodes(n_nodes: int) -> str:
    return f"gpu[001-{n_nodes:03d}]"


def slurm_conf(lab: Layout, ports: Ports) -> str:
    """slurm.conf: GPU nodes on loopback, QoS preemption, a fast health check and timeouts."""
    root = lab.root
    return f"""\
ClusterName={CLUSTER}
SlurmctldHost=localhost
SlurmctldPort={ports.ctld}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={lab.munge_socket}
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool" / "%n"}
SlurmctldPidFile={root / "run" / "slurmctld.pid"}
SlurmdPidFile={root / "run" / "slurmd-%n.pid"}
SlurmctldLogFile={root / "log" / "slurmctld.log"}
SlurmdLogFile={root / "log" / "slurmd-%n.log"}
SlurmctldDebug=info
SlurmdDebug=info
TmpFS={root / "tmp"}
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={ports.dbd}
AccountingStoragePass={lab.munge_socket}
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations,qos
JobCompType=jobcomp/none
ReturnToService=1
SlurmdTimeout={SLURMD_TIMEOUT_S}
MessageTimeout=5
KillWait=2
MinJobAge=600
HealthCheckProgram={lab.healthcheck}
HealthCheckInterval={HEALTHCHECK_INTERVAL_S}
HealthCheckNodeState=ANY
PreemptType=preempt/qos
PreemptMode=REQUEUE
PreemptExemptTime=00:00:{PREEMPT_EXEMPT_S:02d}
PriorityType=priority/multifactor
PriorityWeightQOS=10000
SchedulerParameters=sched_interval=2,bf_interval=2
NodeName={_nodes(len(ports.slurmd))} NodeHostname=localhost NodeAddr=127.0.0.1 \
Port={ports.slurmd[0]}-{ports.slurmd[-1]} CPUs=4 RealMemory=1000 Gres=gpu:{GPUS_PER_NODE} \
State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def slurmdbd_conf(lab: Layout, ports: Ports) -> str:
    """slurmdbd.conf: MariaDB on loopback, munge on the lab's socket."""
    root = lab.root
    return f"""\
AuthType=auth/munge
AuthInfo=socket={lab.munge_socket}
DbdHost=localhost
DbdPort={ports.dbd}
SlurmUser=root
PidFile={root / "run" / "slurmdbd.pid"}
LogFile={root / "log" / "slurmdbd.log"}
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports.db}
StorageUser=root
StorageLoc=slurm_acct_db
"""


def gres_conf(lab: Layout, n_nodes: int) -> str:
    """gres.conf: eight GPUs per node, backed by plain files."""
    files = f"{lab.root / 'dev'}/nvidia[0-{GPUS_PER_NODE - 1}]"
    return f"NodeName={_nodes(n_nodes)} Name=gpu File={files}\n"


def healthcheck(lab: Layout) -> str:
    """The HealthCheckProgram: reports a planted fault as a GCM record (and an XID line),
    then drains or downs the node with an NHC reason; logs an ``ok`` record otherwise."""
    return HEALTHCHECK.format(
        conf=lab.conf,
        faults=lab.faults,
        health_log=lab.health_log,
        kernel_log=lab.kernel_log,
        cluster=CLUSTER,
    )


HEALTHCHECK = r"""#!/bin/bash
# gpurel lab health check: run by slurmd every HealthCheckInterval seconds.
export SLURM_CONF={conf}
node=${{SLURMD_NODENAME:?}}
fault={faults}/$node

record() {{  # GCM record: check, result (0 ok, 2 critical), message; one write per line
  local now head tail
  now=$(date +%s.%N)
  head=$(printf '{{"node":"%s","cluster":"{cluster}","health_check":"%s",' "$node" "$1")
  tail=$(printf '"type":"nagios","result":%s,"_msg":"%s","job_id":0,' "$2" "$3")
  printf '%s%s"start_time":%s,"end_time":%s}}\n' "$head" "$tail" "$now" "$now" >> {health_log}
}}

if [ ! -f "$fault" ]; then
  record "check ibstat" 0 ""
  exit 0
fi
IFS='|' read -r gcm_check nhc_check action xid message < "$fault"
rm -f "$fault"
record "$gcm_check" 2 "$message"
if [ -n "$xid" ]; then
  printf '%s %s kernel: NVRM: Xid (PCI:0000:07:00): %s, pid=4242, name=python, %s\n' \
    "$(date --iso-8601=seconds)" "$node" "$xid" "$message" >> {kernel_log}
fi
scontrol update nodename="$node" state="$action" reason="NHC: $nhc_check: $message"
"""
