#!/usr/bin/env python3
"""`harvest logs aggregate` throughput: DuckDB engine vs a pure-Python parser vs `cat`, and Spark.

Generates a synthetic log (bench/gen_player_logs.py) once into /tmp, then measures side by
side, in the same run, each `--runs` times (medians reported):

- `cat FILE > /dev/null`: reading the bytes, the physical limit;
- a single-pass pure-Python parser (harvester.sources.playerlogs.parse_line on every line);
- `harvest logs aggregate FILE` with the DuckDB engine, the whole CLI in a child process
  (stdout to /dev/null), its peak RSS from /usr/bin/time -v;
- the DuckDB engine alone (parse and aggregate, no records fetched or written; timed inside
  the child, so without interpreter start-up);
- the same with `--engine spark --spark-master local[*]` on a smaller file (`--spark-mb`).

    python bench/bench_logs.py                      # 500 MB, 3 runs
    python bench/bench_logs.py --size-mb 100 --runs 1 --spark-mb 0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ensure_log(size_mb: float, directory: Path) -> Path:
    path = directory / f"player-{size_mb:g}mb.log"
    if not path.exists() or path.stat().st_size < size_mb * 1024 * 1024 * 0.99:
        print(f"generating {path} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_player_logs.py"), "--size-mb", str(size_mb),
                        "--output", str(path)], check=True)
    return path


def timed(cmd: list[str], **kwargs) -> tuple[float, int | None, str]:
    """Wall seconds, peak RSS in MB (from /usr/bin/time -v) and stderr of a child process."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return elapsed, (int(m.group(1)) // 1024 if m else None), proc.stderr


PY_BASELINE = """
import sys
from harvester.sources.playerlogs import iter_lines, parse_line
n = 0
for line in iter_lines([sys.argv[1]]):
    parse_line(line)
    n += 1
print(n, file=sys.stderr)
"""

ENGINE_ONLY = """
import sys, time
from harvester.aggregate import duckdb_engine
started = time.perf_counter()
agg = duckdb_engine.aggregate([sys.argv[1]], "stream")
print(f"engine_seconds={time.perf_counter() - started:.6f}", file=sys.stderr)
agg.close()
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=500)
    ap.add_argument("--spark-mb", type=float, default=50, help="0 to skip Spark")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/harvest-bench", help="where generated logs go (never committed)")
    args = ap.parse_args(argv)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    log = ensure_log(args.size_mb, directory)
    size = log.stat().st_size / 1e6
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    harvest = [sys.executable, str(ROOT / "harvest.py"), "--log-level", "warning", "logs", "aggregate"]

    results: dict[str, dict] = {}

    def measure(name: str, cmd: list[str], mb: float, runs: int, inner: bool = False) -> None:
        times, rss = [], []
        for _ in range(runs):
            t, r, err = timed(cmd, env=env)
            if inner:  # the child's own measurement
                t = float(re.search(r"engine_seconds=([0-9.]+)", err).group(1))
            times.append(t)
            rss.append(r or 0)
        med = statistics.median(times)
        results[name] = {"seconds": round(med, 3), "mb_per_s": round(mb / med, 1), "peak_rss_mb": max(rss),
                         "runs": [round(t, 3) for t in times], "input_mb": round(mb, 1)}
        print(f"{name:<34}{med:>8.2f} s {mb / med:>9.1f} MB/s   peak RSS {max(rss):>6} MB", flush=True)

    print(f"input: {log} ({size:.1f} MB), {args.runs} run(s) each, {os.cpu_count()} CPUs")
    measure("cat > /dev/null", ["sh", "-c", f"cat '{log}' > /dev/null"], size, args.runs)
    measure("duckdb engine (harvest CLI)", [*harvest, str(log)], size, args.runs)
    measure("duckdb engine alone (in process)", [sys.executable, "-c", ENGINE_ONLY, str(log)], size,
            args.runs, inner=True)
    measure("pure-Python parser (1 pass)", [sys.executable, "-c", PY_BASELINE, str(log)], size, 1)
    duck, py, cat = (results[k]["mb_per_s"] for k in
                     ("duckdb engine (harvest CLI)", "pure-Python parser (1 pass)", "cat > /dev/null"))
    alone = results["duckdb engine alone (in process)"]["mb_per_s"]
    summary = {"duckdb_vs_python": round(duck / py, 1), "duckdb_vs_cat": round(duck / cat, 3),
               "duckdb_alone_vs_python": round(alone / py, 1)}
    print(f"duckdb / pure Python: {summary['duckdb_vs_python']}x   duckdb / cat: {summary['duckdb_vs_cat']}"
          f"   engine alone / pure Python: {summary['duckdb_alone_vs_python']}x")
    if args.spark_mb > 0:
        small = ensure_log(args.spark_mb, directory)
        smb = small.stat().st_size / 1e6
        measure(f"duckdb engine, {args.spark_mb:g} MB", [*harvest, str(small)], smb, args.runs)
        measure(f"spark engine local[*], {args.spark_mb:g} MB",
                [*harvest, str(small), "--engine", "spark", "--spark-master", "local[*]"], smb, 1)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_logs.json").write_text(json.dumps({"results": results, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
