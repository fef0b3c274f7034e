"""Writers killed with SIGKILL: what they leave is either whole micro-batches or reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import ROOT

WRITER = textwrap.dedent("""
    import os, signal, sys
    from harvester.datasets import USERACTIONS
    from harvester.sinks.archive import open_archive_sink

    target, size, kill_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sink = open_archive_sink(target, USERACTIONS, {})
    if kill_at >= 0:
        real_replace = os.replace
        calls = [0]
        def replace(src, dst):
            if calls[0] == kill_at:  # die after the data is written, before it is renamed
                os.kill(os.getpid(), signal.SIGKILL)
            calls[0] += 1
            real_replace(src, dst)
        os.replace = replace
    n = 0
    while True:
        sink.write([{"action_id": n + i, "timestamp": "2026-11-23T10:00:00Z", "pad": "x" * 200}
                    for i in range(size)])
        n += size
        print(n, flush=True)
""")


def start_writer(target: str, size: int, kill_at: int = -1) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", WRITER, target, str(size), str(kill_at)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_writer_killed_before_rename_leaves_a_reported_unfinished_batch(tmp_path, cli_run):
    target = f"dir:{tmp_path / 'arch'}"
    proc = start_writer(target, 50, kill_at=3)
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    temps = list((tmp_path / "arch").rglob(".*.tmp"))
    assert len(temps) == 1 and temps[0].name.startswith(".0000003.jsonl.gz.")

    out = tmp_path / "out.jsonl"
    result = cli_run("replay", target, "-o", str(out))
    assert result.exit_code == 1
    assert "unfinished micro-batch: its writer stopped while writing it" in result.stderr
    ids = [json.loads(line)["action_id"] for line in out.read_text().splitlines()]
    assert ids == list(range(150))  # the three whole micro-batches, nothing of the fourth


def test_writer_killed_at_a_random_moment_never_yields_half_a_batch(tmp_path, cli_run):
    target = f"dir:{tmp_path / 'arch'}"
    size = 2000
    proc = start_writer(target, size)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    written = 0
    while written < 3 * size and time.monotonic() < deadline:
        written = int(proc.stdout.readline() or 0)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    out = tmp_path / "out.jsonl"
    result = cli_run("replay", target, "-o", str(out), "--skip-partial")
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["action_id"] for line in out.read_text().splitlines()]
    assert len(ids) >= written and len(ids) % size == 0  # only whole micro-batches
    assert ids == list(range(len(ids)))
    leftovers = list(Path(tmp_path / "arch").rglob(".*.tmp"))
    assert result.stderr.count("unfinished micro-batch") == len(leftovers)
