"""Fixtures shared by every test: a clean environment, a real redis-server, moto's server.

Every test starts in an empty working directory with none of the harvester's settings in the
environment, so a developer's own `.env` or exported variables can never leak into a test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harvester.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
"""Real samples and the command-line contract, copied into the repository (see tests/data/README.md)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for s in SETTINGS:
        monkeypatch.delenv(s.name, raising=False)
    for name in list(os.environ):
        if name.startswith(("AWS_", "ZOOM_", "ES_", "MATTERHORN_", "HARVEST_", "LOGGLY_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("HARVEST_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("HARVEST_HTTP_TIMEOUT", "5")
    monkeypatch.setattr("harvester.cli.dotenv_dir", lambda: None)  # a developer's own .env stays out
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def cli_run():
    """Invoke the CLI in-process; returns click's Result with separate stdout/stderr."""
    from harvester.cli import cli

    def run(*args: str, input: str | None = None):
        runner = CliRunner()
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server on a free port (skipped only where the binary is absent)."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server is not installed (CI installs it)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no",
                             "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def redis_url(redis_server):
    import redis

    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture(scope="session")
def moto_server():
    """moto's server mode over real HTTP (S3, SQS)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """Point boto3 at the moto server and reset its state between tests."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=5)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server
