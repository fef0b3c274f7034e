"""`harvest dev init` against an Elasticsearch stand-in and a strict Kibana stand-in.

Docker is replaced at the subprocess boundary; Elasticsearch and Kibana are real HTTP.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from werkzeug.wrappers import Request, Response

from harvester import devstack
from tests.standins.base import StandIn, json_response
from tests.standins.elasticsearch import es_standin  # noqa: F401


class KibanaStandIn(StandIn):
    """Kibana's status and saved-objects import APIs, as strict as Kibana about the request."""

    def __init__(self, not_ready: int = 0):
        super().__init__()
        self.not_ready = not_ready
        self.imported: list[dict] = []

    def handle(self, request: Request) -> Response:
        if request.path == "/api/status" and request.method == "GET":
            if self.not_ready > 0:
                self.not_ready -= 1
                return Response("Kibana server is not ready yet", status=503)
            return json_response({"status": {"overall": {"level": "available"}}})
        if request.path == "/api/saved_objects/_import" and request.method == "POST":
            return self._import(request)
        return json_response({"statusCode": 404, "error": "Not Found"}, 404)

    def _import(self, request: Request) -> Response:
        if request.headers.get("kbn-xsrf") is None:
            return json_response({"statusCode": 400, "error": "Bad Request",
                                  "message": "Request must contain a kbn-xsrf header."}, 400)
        if not request.content_type.startswith("multipart/form-data") or "file" not in request.files:
            return json_response({"statusCode": 415, "error": "Unsupported Media Type"}, 415)
        upload = request.files["file"]
        if not upload.filename.endswith(".ndjson"):
            return json_response({"statusCode": 400, "message": "Invalid file extension .txt"}, 400)
        objects, errors = [], []
        for line in upload.read().decode("utf-8").splitlines():
            if line.strip():
                objects.append(json.loads(line))
        known = {(o["type"], o["id"]) for o in objects}
        for obj in objects:
            for ref in obj.get("references", []):
                if (ref["type"], ref["id"]) not in known:
                    errors.append({"id": obj["id"], "type": obj["type"],
                                   "error": {"type": "missing_references"}})
        self.imported = objects
        return json_response({"success": not errors, "successCount": len(objects) - len(errors),
                              "errors": errors})


@pytest.fixture
def kibana(monkeypatch):
    with KibanaStandIn(not_ready=2) as kb:
        monkeypatch.setenv("KIBANA_URL", kb.url)
        yield kb


@pytest.fixture
def docker(monkeypatch):
    calls: list[list[str]] = []

    def run(args, **kwargs):
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 0, "ok", "")

    monkeypatch.setattr(devstack.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(devstack.subprocess, "run", run)
    monkeypatch.setattr(devstack, "POLL_INTERVAL", 0.01)
    return calls


def test_init_brings_everything_up_and_imports_dashboards(cli_run, es_standin, kibana, docker):  # noqa: F811
    result = cli_run("dev", "init", "--timeout", "10")
    assert result.exit_code == 0, result.stderr
    assert docker[-1][-2:] == ["up", "-d"]
    assert len(es_standin.templates) == 9 and len(es_standin.pipelines) == 2
    imports = [r for r in kibana.requests if r.path == "/api/saved_objects/_import"]
    assert len(imports) == 1 and imports[0].args == {"overwrite": "true"}
    assert kibana.count("/api/status") == 3  # two "not ready" answers, then available
    types = {o["type"] for o in kibana.imported}
    assert types == {"index-pattern", "visualization", "dashboard"}
    assert f"imported {len(kibana.imported)} saved objects" in result.stderr

    # a second init changes nothing in Elasticsearch and re-imports (overwrite) in Kibana
    es_standin.reset_counters()
    again = cli_run("dev", "init", "--timeout", "10")
    assert again.exit_code == 0, again.stderr
    assert [r for r in es_standin.requests if r.method == "PUT"] == []


def test_init_no_up_skips_docker(cli_run, es_standin, kibana, docker):  # noqa: F811
    result = cli_run("dev", "init", "--no-up", "--timeout", "10")
    assert result.exit_code == 0, result.stderr
    assert docker == []


def test_kibana_never_ready_fails_naming_it(cli_run, es_standin, docker, monkeypatch):  # noqa: F811
    with KibanaStandIn(not_ready=10**6) as kb:
        result = cli_run("dev", "init", "--no-up", "--timeout", "0.2", "--kibana-url", kb.url)
    assert result.exit_code == 1
    assert "kibana" in result.stderr and "not ready" in result.stderr and "HTTP 503" in result.stderr


def test_a_refused_import_fails_the_run(cli_run, es_standin, kibana, docker, tmp_path, monkeypatch):  # noqa: F811
    broken = tmp_path / "broken.ndjson"
    broken.write_text(json.dumps({"id": "d", "type": "dashboard", "attributes": {},
                                  "references": [{"name": "panel_0", "type": "visualization",
                                                  "id": "nowhere"}]}) + "\n")
    monkeypatch.setattr(devstack, "SAVED_OBJECTS", broken)
    result = cli_run("dev", "init", "--no-up", "--timeout", "10")
    assert result.exit_code == 1
    assert "missing_references" in result.stderr


def test_status_reports_each_service(cli_run, es_standin, kibana, docker):  # noqa: F811
    kibana.not_ready = 0
    result = cli_run("dev", "status")
    assert result.exit_code == 0, result.stderr
    assert "cluster green" in result.stdout and "available" in result.stdout
