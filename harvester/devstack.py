"""The local Elasticsearch + Kibana stack behind `harvest dev`: docker compose, readiness, imports.

Docker is called through one function (`run_docker`), which is where tests check the exact
command lines. Docker missing or not running is a problem of this machine's setup (exit 2),
reported as such instead of as a failed subprocess. Every step is idempotent, so `init_stack`
is also how to update a running stack.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

from harvester.config import env
from harvester.errors import HarvestError, ServiceError
from harvester.resources import resource

log = logging.getLogger("harvester.dev")

COMPOSE_FILE = resource("docker/docker-compose.yml")
SAVED_OBJECTS = resource("kibana/harvester.ndjson")
PROJECT = "harvester"
POLL_INTERVAL = 2.0


class DockerUnavailable(HarvestError):
    """Docker is not installed or not running here (exit 2, like any other setup problem)."""

    exit_code = 2


def run_docker(args: list[str], *, capture: bool = True) -> subprocess.CompletedProcess:
    """Run one docker command; the single boundary to the outside world."""
    try:
        return subprocess.run(args, capture_output=capture, text=True, check=False)
    except FileNotFoundError:
        raise DockerUnavailable(f"{args[0]} is not installed (or not on PATH); install Docker "
                                "Desktop or Docker Engine with the compose plugin") from None


def compose_command() -> list[str]:
    """`docker compose` (the plugin) when available, else the standalone `docker-compose`."""
    if shutil.which("docker"):
        info = run_docker(["docker", "info", "--format", "{{.ServerVersion}}"])
        if info.returncode != 0:
            detail = (info.stderr or info.stdout or "").strip().splitlines()
            raise DockerUnavailable("Docker is installed but not running (docker info: "
                                    f"{detail[-1] if detail else 'no answer'}); start Docker and retry")
        if run_docker(["docker", "compose", "version"]).returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        raise DockerUnavailable("Docker is running but has no compose plugin; install docker compose")
    raise DockerUnavailable("Docker is not installed (or not on PATH); install Docker Desktop or "
                            "Docker Engine with the compose plugin")


def compose(*args: str) -> str:
    """Run `docker compose -f docker/docker-compose.yml -p harvester ARGS`; returns its output."""
    cmd = [*compose_command(), "-f", str(COMPOSE_FILE), "-p", PROJECT, *args]
    result = run_docker(cmd)
    output = "\n".join(s for s in (result.stdout, result.stderr) if s).strip()
    if result.returncode != 0:
        last = output.splitlines()[-1] if output else "no output"
        raise HarvestError(f"docker compose {' '.join(args)} failed (exit {result.returncode}): {last}")
    return output


# -- readiness -----------------------------------------------------------------------------------
def wait_for_elasticsearch(host: str | None, timeout: float) -> str:
    """Poll until the cluster is yellow or green; returns the status."""
    from harvester.elasticsearch.client import es_client

    client = es_client(host, timeout=10)
    deadline = time.monotonic() + timeout
    last = "no answer"
    try:
        while True:
            try:
                health = client.health(wait_for_status="yellow", timeout="5s")
                status = health.get("status", "unknown")
                if status in ("yellow", "green"):
                    return status
                last = f"cluster {status}"
            except Exception as exc:  # not up yet: connection refused, 503 while starting
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                raise ServiceError("elasticsearch", f"not ready after {timeout:g}s ({last})")
            time.sleep(POLL_INTERVAL)
    finally:
        client.close()


def kibana_session():
    from harvester.http import new_session

    session = new_session({"kbn-xsrf": "true"})
    user, password = env("ES_USER"), env("ES_PASSWORD")
    if user:
        session.auth = (user, password or "")
    return session


def wait_for_kibana(url: str, timeout: float) -> None:
    """Poll /api/status until Kibana says it is available."""
    import requests

    session = kibana_session()
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            resp = session.get(f"{url}/api/status", timeout=10)
            if resp.status_code == 200:
                doc = resp.json()
                level = (doc.get("status", {}).get("overall", {}).get("level")
                         or doc.get("status", {}).get("overall", {}).get("state"))
                if level in ("available", "green"):
                    return
                last = f"status {level}"
            else:
                last = f"HTTP {resp.status_code}"
        except (requests.RequestException, ValueError) as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            raise ServiceError("kibana", f"{url} not ready after {timeout:g}s ({last})")
        time.sleep(POLL_INTERVAL)


def import_saved_objects(url: str, path: Path | None = None) -> int:
    """POST the NDJSON to Kibana's saved-objects import API (overwrite); returns the count."""
    from harvester.http import RetryPolicy, request

    path = path or SAVED_OBJECTS
    session = kibana_session()
    with path.open("rb") as fh:
        data = fh.read()
    resp = request(session, "POST", f"{url}/api/saved_objects/_import", service="kibana",
                   policy=RetryPolicy.from_env(), params={"overwrite": "true"},
                   files={"file": (path.name, data, "application/ndjson")})
    doc = resp.json()
    if not doc.get("success"):
        errors = doc.get("errors") or []
        shown = "; ".join(f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}"
                          for e in errors[:5])
        raise ServiceError("kibana", f"import of {path.name} failed for {len(errors)} object(s): {shown}")
    return int(doc.get("successCount", 0))


def init_stack(es_host: str, kibana_url: str, timeout: float, *, up: bool = True) -> tuple[int, int, int]:
    """Start (unless not `up`), wait, load templates and pipelines, import the saved objects.

    Returns (objects loaded or changed, objects already current, saved objects imported).
    """
    from harvester.elasticsearch.client import es_client
    from harvester.elasticsearch.loading import load_objects

    if up:
        compose("up", "-d")
    state = wait_for_elasticsearch(es_host, timeout)
    log.info("elasticsearch is up (cluster %s)", state)
    client = es_client(es_host)
    try:
        results = load_objects(client)
    finally:
        client.close()
    changed = sum(1 for _, outcome in results if outcome != "unchanged")
    log.info("index templates and pipelines: %d loaded, %d already current", changed, len(results) - changed)
    url = kibana_url.rstrip("/")
    wait_for_kibana(url, timeout)
    return changed, len(results) - changed, import_saved_objects(url)
