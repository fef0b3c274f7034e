#!/usr/bin/env python3
"""`harvest logs aggregate` throughput: the DuckDB engine vs a pure-Python pass vs `cat`, and Spark.

Two inputs, each generated once into /tmp:

- `sample` (the main case): bench/gen_sample_logs.py, the real Goonhilly sample copied with
  fresh tracking ids and dates, so the figures hold on real logs (677-byte lines, 20+ pairs,
  73 % keyless mobile-app lines);
- `synthetic`: bench/gen_player_logs.py, simulated streams with shorter, simpler lines.

For each input, side by side in the same run (the measurements take turns, `--runs` rounds,
medians reported):

- `cat FILE > /dev/null`: reading the bytes, the physical limit;
- a single-pass pure-Python parser (harvester.sources.playerlogs.parse_line on every line; it
  only parses, it does not aggregate), timed inside the child;
- CLI start-up: `harvest logs aggregate` on an empty file (interpreter, imports, DuckDB);
- CLI gross: `harvest logs aggregate FILE` (JSON lines to /dev/null), peak RSS from
  /usr/bin/time -v; CLI net = gross - start-up;
- the DuckDB engine alone (parse and aggregate, no records fetched or written), timed inside
  the child.

Then Spark `local[*]` on a smaller sample-shaped file (`--spark-mb`), and optionally a large
sample-shaped file to Parquet for peak memory (`--big-mb`).

    python bench/bench_logs.py                      # 500 MB of each, 3 rounds
    python bench/bench_logs.py --size-mb 100 --runs 1 --spark-mb 0 --cases sample
    python bench/bench_logs.py --cases sample --spark-mb 0 --big-mb 2048
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
GENERATORS = {"sample": "gen_sample_logs.py", "synthetic": "gen_player_logs.py"}


def ensure_log(case: str, size_mb: float, directory: Path) -> Path:
    path = directory / f"player-{case}-{size_mb:g}mb.log"
    if not path.exists() or path.stat().st_size < size_mb * 1024 * 1024 * 0.99:
        print(f"generating {path} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / GENERATORS[case]), "--size-mb", str(size_mb),
                        "--output", str(path)], check=True)
    return path


def timed(cmd: list[str], env: dict) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MB (from /usr/bin/time -v) and stderr of a child process."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return elapsed, (int(m.group(1)) // 1024 if m else 0), proc.stderr


PY_PASS = """
import sys, time
from harvester.sources.playerlogs import iter_lines, parse_line
started = time.perf_counter()
for line in iter_lines([sys.argv[1]]):
    parse_line(line)
print(f"inner_seconds={time.perf_counter() - started:.6f}", file=sys.stderr)
"""

ENGINE_ONLY = """
import sys, time
from harvester.aggregate import duckdb_engine
started = time.perf_counter()
agg = duckdb_engine.aggregate([sys.argv[1]], "stream")
print(f"inner_seconds={time.perf_counter() - started:.6f}", file=sys.stderr)
agg.close()
"""


def _inner(stderr: str) -> float:
    return float(re.search(r"inner_seconds=([0-9.]+)", stderr).group(1))


def bench_case(case: str, log: Path, runs: int, env: dict, harvest: list[str], directory: Path) -> dict:
    mb = log.stat().st_size / 1e6
    with open(log, "rb") as fh:
        lines = sum(1 for _ in fh)
    empty = directory / "empty.log"
    empty.write_bytes(b"")
    steps = {
        "cat": (["sh", "-c", f"cat '{log}' > /dev/null"], False),
        "python": ([sys.executable, "-c", PY_PASS, str(log)], True),
        "startup": ([*harvest, str(empty)], False),
        "cli": ([*harvest, str(log)], False),
        "engine": ([sys.executable, "-c", ENGINE_ONLY, str(log)], True),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    rss: dict[str, int] = {k: 0 for k in steps}
    for _ in range(runs):  # take turns, so that the machine's load falls on every measurement alike
        for name, (cmd, inner) in steps.items():
            t, r, err = timed(cmd, env)
            times[name].append(_inner(err) if inner else t)
            rss[name] = max(rss[name], r)
    med = {k: statistics.median(v) for k, v in times.items()}
    med["cli_net"] = max(med["cli"] - med["startup"], 1e-9)
    rate = {k: mb / v for k, v in med.items() if k != "startup"}
    labels = {
        "cat": "cat > /dev/null", "python": "pure-Python parser, 1 pass (parse only)",
        "startup": "CLI start-up (empty input)", "cli": "CLI gross (harvest logs aggregate)",
        "cli_net": "CLI net of start-up", "engine": "DuckDB engine alone (in process)",
    }
    print(f"\n[{case}] {log} ({mb:.1f} MB, {lines:,} lines), medians of {runs}, {os.cpu_count()} CPUs")
    for k, label in labels.items():
        mbs = f"{rate[k]:>9.1f} MB/s" if k in rate else " " * 14
        mem = f"   peak RSS {rss[k]:>5} MB" if k in rss else ""
        print(f"  {label:<42}{med[k]:>8.3f} s {mbs}{mem}")
    ratios = {"cli_net_vs_python": rate["cli_net"] / rate["python"],
              "cli_vs_python": rate["cli"] / rate["python"],
              "engine_vs_python": rate["engine"] / rate["python"],
              "cli_net_vs_cat": rate["cli_net"] / rate["cat"]}
    print(f"  ratios: CLI net / Python {ratios['cli_net_vs_python']:.1f}x, CLI gross / Python "
          f"{ratios['cli_vs_python']:.1f}x, engine / Python {ratios['engine_vs_python']:.1f}x, "
          f"CLI net / cat {ratios['cli_net_vs_cat']:.3f}", flush=True)
    return {"input": str(log), "input_mb": round(mb, 1), "lines": lines,
            "seconds": {k: round(v, 3) for k, v in med.items()},
            "runs": {k: [round(t, 3) for t in v] for k, v in times.items()},
            "mb_per_s": {k: round(v, 1) for k, v in rate.items()}, "peak_rss_mb": rss,
            "ratios": {k: round(v, 2) for k, v in ratios.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=500)
    ap.add_argument("--cases", default="sample,synthetic", help="comma-separated: sample, synthetic")
    ap.add_argument("--spark-mb", type=float, default=50, help="sample-shaped input for Spark; 0 to skip")
    ap.add_argument("--big-mb", type=float, default=0,
                    help="a large sample-shaped input to Parquet (peak RSS)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/harvest-bench", help="where generated logs go (never committed)")
    args = ap.parse_args(argv)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    harvest = [sys.executable, str(ROOT / "harvest.py"), "--log-level", "warning", "logs", "aggregate"]
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    report: dict[str, object] = {}
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        report[case] = bench_case(case, ensure_log(case, args.size_mb, directory), args.runs, env, harvest,
                                  directory)
    if args.spark_mb > 0:
        small = ensure_log("sample", args.spark_mb, directory)
        smb = small.stat().st_size / 1e6
        duck, _, _ = timed([*harvest, str(small)], env)
        spark, _, _ = timed([*harvest, str(small), "--engine", "spark", "--spark-master", "local[*]"], env)
        print(f"\n[spark] {small} ({smb:.1f} MB), 1 run: DuckDB CLI {duck:.2f} s ({smb / duck:.1f} MB/s), "
              f"Spark local[*] {spark:.2f} s ({smb / spark:.1f} MB/s)")
        report["spark"] = {"input_mb": round(smb, 1), "duckdb_seconds": round(duck, 3),
                           "spark_seconds": round(spark, 3)}
    if args.big_mb > 0:
        big = ensure_log("sample", args.big_mb, directory)
        bmb = big.stat().st_size / 1e6
        out = directory / "big.parquet"
        t, r, _ = timed([*harvest, str(big), "-o", str(out)], env)
        print(f"\n[big] {big} ({bmb:.1f} MB) to Parquet, 1 run: {t:.2f} s ({bmb / t:.1f} MB/s), "
              f"peak RSS {r} MB")
        report["big"] = {"input_mb": round(bmb, 1), "seconds": round(t, 3), "peak_rss_mb": r}
    print(f"\nload after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_logs.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
