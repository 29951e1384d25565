"""What the ingest benches share: timing one peer's work in a child process, keeping the fastest.

A peer is set up (imports, inputs) before the clock starts; its work returns the rows it read.
Each run happens in a fresh interpreter, so peak RSS is that run's own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable

Work = Callable[[], int]  # does the measured work, returns the rows it read


def timed(work: Work) -> dict[str, float]:
    """Run ``work`` once: rows, wall and CPU seconds (all threads), peak RSS of this process."""
    import pyarrow as pa

    pa.array([0])  # pyarrow imports its pandas shim on first use: not part of the work
    wall, cpu = time.perf_counter(), time.process_time()
    rows = work()
    return {
        "rows": rows,
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def fastest(command: list[str], repeat: int) -> dict[str, float]:
    """The fastest (per row) of ``repeat`` runs of ``command``, which prints ``timed``'s JSON."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, *command], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["seconds"] / r["rows"])
