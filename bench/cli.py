"""Startup of gpurel's commands: CPU seconds to answer, best of N, beside ``python -c pass``.

Each command runs in a fresh interpreter (``python -m gpurel.cli``-style, no shell), so the
figure is what a person waits for: imports plus the command's own work. Targets: ``--help``
and ``mttf`` <= 0.5 CPU s, ``ettr`` (closed forms) <= 1 CPU s.

    python bench/cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys

RUN = "import sys; from gpurel.cli import main; sys.argv = ['gpurel', *sys.argv[1:]]; main()"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [],
    "gpurel --help": ["--help"],
    "gpurel mttf": ["mttf", "--gpus", "1024,16384,131072", "--rf", "6.5"],
    "gpurel ettr": ["ettr", "--gpus", "16384", "--rf", "6.5", "--ckpt", "60m"],
    "gpurel config": ["config"],
    "gpurel analyze --help": ["analyze", "--help"],
}
TARGETS = {"gpurel --help": 0.5, "gpurel mttf": 0.5, "gpurel ettr": 1.0}


def cpu_seconds(args: list[str] | None) -> float:
    """CPU seconds (user + system) of one fresh interpreter running gpurel ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-c", "pass"] if not args else [sys.executable, "-c", RUN, *args]
    subprocess.run(command, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    base = min(cpu_seconds(None) for _ in range(repeat))
    print(f"{'command':<24} {'CPU s':>7} {'× python':>9} {'target':>7}")
    for name, args in COMMANDS.items():
        best = base if not args else min(cpu_seconds(args) for _ in range(repeat))
        target = TARGETS.get(name)
        verdict = "" if target is None else f"{'≤' if best <= target else '>'} {target:g}"
        print(f"{name:<24} {best:7.3f} {best / base:9.1f} {verdict:>7}")


if __name__ == "__main__":
    main()
