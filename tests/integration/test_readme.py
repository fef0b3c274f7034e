"""The README's first command must keep working: it is what a newcomer runs first."""

import json
import re
import shlex
import subprocess
import sys

from tests.conftest import ROOT


def first_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_a_setup_and_run_command_and_a_test_command():
    commands = first_commands()
    assert len(commands) == 2
    assert "pip install" in commands[0] and "harvest " in commands[0]
    assert commands[1] == "bash .ci/run"
    assert "pytest" in (ROOT / ".ci" / "run").read_text()


def test_the_embedded_job_of_the_first_command_runs(tmp_path):
    job = first_commands()[0].split("&&")[-1].strip()
    argv = shlex.split(job)
    assert argv[0] == "harvest"
    proc = subprocess.run([sys.executable, "-m", "harvester", *argv[1:]], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) > 100, job
    assert all(r["stream_id"] and r["tracking_id"] for r in records)
    assert "aggregated" in proc.stderr
