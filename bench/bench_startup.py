"""CLI start-up time: median of 10 runs of `harvest --help` and each command's --help.

    python bench/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COMMANDS = [[], ["useractions"], ["load-episodes"], ["zoom"], ["logs", "aggregate"], ["mediaconvert"],
            ["replay"], ["doctor"]]


def median_ms(args: list[str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harvester", *args, "--help"], capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    python_only = []
    for _ in range(10):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python_only.append((time.perf_counter() - started) * 1000)
    base = statistics.median(python_only)
    print(f"{'python -c pass':<32}{base:>8.0f} ms")
    for args in COMMANDS:
        ms = median_ms(args)
        print(f"{'harvest ' + ' '.join(args) + ' --help':<32}{ms:>8.0f} ms  ({ms / base:.1f}x bare python)")


if __name__ == "__main__":
    main()
