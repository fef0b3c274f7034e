"""`harvest --help` must stay instant on a cron host: no heavy library is imported for help."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("boto3", "botocore", "elasticsearch", "duckdb", "pyspark", "redis", "requests")
COMMANDS = ["useractions", "load-episodes", "zoom", "mediaconvert", "replay", "doctor"]


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS],
                                  ["logs", "aggregate", "--help"]])
def test_help_imports_no_heavy_library(args):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "harvester", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == [], f"{' '.join(args)} imports {heavy[:5]}"
