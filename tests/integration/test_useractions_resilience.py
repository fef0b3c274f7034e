"""Crash safety, secrets and log shipping, with the harvester running as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from werkzeug.wrappers import Request, Response

from tests.conftest import ROOT, free_port
from tests.integration.test_useractions import END, START, WINDOW, populate, read_lines
from tests.standins.base import StandIn
from tests.standins.opencast import OpencastStandIn, oc  # noqa: F401


def harvest(args: list[str], env: dict, **kwargs) -> subprocess.Popen:
    full_env = {k: v for k, v in os.environ.items()}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "harvester", *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def oc_env(oc: OpencastStandIn) -> dict:
    return {"MATTERHORN_ENGAGE_HOST": oc.url, "MATTERHORN_REST_USER": oc.user,
            "MATTERHORN_REST_PASS": oc.password}


def test_sigkill_mid_run_then_rerun_delivers_every_action(oc, tmp_path):
    served = populate(oc, n=200, mpids=20)
    out = tmp_path / "out.jsonl"
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    args = ["useractions", "--end", WINDOW[3], "-i", "120", "-b", "10", "-w", "0.05", "-o", str(out)]
    proc = harvest(args, oc_env(oc), cwd=tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_text().splitlines()) >= 40:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    delivered_before = {r["action_id"] for r in read_lines(out)}
    assert 40 <= len(delivered_before) < len(served), "the kill must land mid-run"
    assert not cp.exists(), "a killed run must not move the checkpoint"

    proc = harvest(args, oc_env(oc), cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    ids = [r["action_id"] for r in read_lines(out)]
    assert set(ids) == served  # at least once; duplicates carry the same id
    assert cp.read_text() == max(r["timestamp"] for r in read_lines(out))[:19].translate(
        str.maketrans("", "", "-T:"))


def test_secrets_never_reach_any_output(oc, tmp_path):
    secrets = {
        "MATTERHORN_REST_PASS": "Opencast-S3cret-pw",
        "AWS_SECRET_ACCESS_KEY": "aws-S3cret-key-xyz",
        "REDIS_URL": f"redis://:r3dis-S3cret@127.0.0.1:{free_port()}/0",
        "LOGGLY_TOKEN": "loggly-S3cret-token",
        "ES_PASSWORD": "es-S3cret-pw",
        "ZOOM_CLIENT_SECRET": "zoom-S3cret-value",
    }
    oc.password = secrets["MATTERHORN_REST_PASS"]
    populate(oc, n=5, mpids=2)
    env = {**oc_env(oc), **secrets, "LOGGLY_URL": f"http://127.0.0.1:{free_port()}",
           "HARVEST_RETRY_ATTEMPTS": "2", "HARVEST_RETRY_BASE_DELAY": "0.01"}
    outputs = []
    runs = [
        ["--log-level", "debug", "useractions", *WINDOW, "-w", "0", "-o", "-"],
        ["--log-level", "debug", "--log-format", "json", "useractions", *WINDOW, "-w", "0", "-o", "-"],
        ["--log-level", "debug", "doctor"],
    ]
    for args in runs:
        proc = harvest(args, env, cwd=tmp_path)
        out, err = proc.communicate(timeout=120)
        outputs.append(out + err)
    # a wrong password: the error must not echo any password either
    proc = harvest(["--log-level", "debug", "useractions", *WINDOW, "-w", "0", "-o", "-"],
                   {**env, "MATTERHORN_REST_PASS": "Wrong-S3cret-pw"}, cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    outputs.append(out + err)
    text = "\n".join(outputs)
    assert "delivered 5" in text  # the runs really ran
    for value in [*secrets.values(), "r3dis-S3cret", "Wrong-S3cret-pw"]:
        if value.startswith("redis://"):
            continue
        assert value not in text, f"secret {value!r} leaked"


class LogglyStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.paths: list[str] = []

    def handle(self, request: Request) -> Response:
        self.paths.append(request.path)
        self.lines.extend(json.loads(line) for line in request.get_data(as_text=True).splitlines())
        return Response('{"response": "ok"}', content_type="application/json")


def test_logs_are_shipped_to_loggly_in_batches(oc, tmp_path):
    populate(oc, n=5, mpids=1)
    loggly = LogglyStandIn()
    loggly.start()
    try:
        env = {**oc_env(oc), "LOGGLY_TOKEN": "tok-123456", "LOGGLY_TAGS": "harvester, prod",
               "LOGGLY_URL": loggly.url}
        proc = harvest(["useractions", *WINDOW, "-w", "0", "-o", "-"], env, cwd=tmp_path)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert len(out.splitlines()) == 5
        assert loggly.paths and loggly.paths[0] == "/bulk/tok-123456/tag/harvester,prod/"
        assert len(loggly.paths) < len(loggly.lines) + 1  # batched, not one request per line
        messages = [line["message"] for line in loggly.lines]
        assert any("useractions done" in m for m in messages)
        assert all(line["level"] in ("info", "warning") for line in loggly.lines)
    finally:
        loggly.stop()


def test_unreachable_loggly_never_fails_a_harvest(oc, tmp_path):
    populate(oc, n=3, mpids=1)
    env = {**oc_env(oc), "LOGGLY_TOKEN": "tok-123456", "LOGGLY_URL": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    proc = harvest(["useractions", *WINDOW, "-w", "0", "-o", "-"], env, cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 3
    assert time.monotonic() - started < 30


def test_two_concurrent_processes_one_harvests_one_skips(oc, tmp_path):
    populate(oc, n=60, mpids=3)
    slow_args = ["useractions", *WINDOW, "-b", "5", "-w", "0.1", "-o", str(tmp_path / "a.jsonl")]
    first = harvest(slow_args, oc_env(oc), cwd=tmp_path)
    time.sleep(1.0)  # let the first one take the lock
    second = harvest(["useractions", *WINDOW, "-w", "0", "-o", str(tmp_path / "b.jsonl")], oc_env(oc),
                     cwd=tmp_path)
    _, err2 = second.communicate(timeout=60)
    _, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 3, err2
    assert "holds the lock" in err2
    assert len(read_lines(tmp_path / "a.jsonl")) == 60


def test_backfill_does_not_move_checkpoint_backwards(oc, tmp_path):
    populate(oc, n=10, mpids=1)
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    cp.parent.mkdir()
    later = (END + timedelta(days=1)).strftime("%Y%m%d%H%M%S")
    cp.write_text(later)
    proc = harvest(["useractions", "-s", START.strftime("%Y%m%d%H%M%S"), "-e", WINDOW[3], "-w", "0",
                    "-o", str(tmp_path / "o.jsonl")], oc_env(oc), cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert cp.read_text() == later
    assert "kept at" in err
