"""`harvest dev`: the docker command lines (checked at the subprocess boundary) and the compose file."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from harvester import devstack

NOT_RUNNING = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?")


class FakeDocker:
    """Stands in for the docker binary: records every command line, answers as configured."""

    def __init__(self, monkeypatch, *, installed=("docker",), running=True, plugin=True, fail=None):
        self.calls: list[list[str]] = []
        self.running, self.plugin, self.fail = running, plugin, fail or {}
        monkeypatch.setattr(devstack.shutil, "which",
                            lambda name: f"/usr/bin/{name}" if name in installed else None)
        monkeypatch.setattr(devstack.subprocess, "run", self.run)

    def run(self, args, capture_output=False, text=False, check=False):
        assert capture_output and text and not check
        self.calls.append(list(args))
        if args[:2] == ["docker", "info"]:
            return subprocess.CompletedProcess(args, 0 if self.running else 1, "27.3.1\n",
                                               "" if self.running else NOT_RUNNING)
        if args[:3] == ["docker", "compose", "version"]:
            return subprocess.CompletedProcess(args, 0 if self.plugin else 1, "v2.29.0", "")
        for verb, (code, err) in self.fail.items():
            if verb in args:
                return subprocess.CompletedProcess(args, code, "", err)
        return subprocess.CompletedProcess(args, 0, "", " Container harvester-elasticsearch-1  Started\n")

    def compose_calls(self) -> list[list[str]]:
        return [c for c in self.calls if "-f" in c]


COMPOSE = ["-f", str(devstack.COMPOSE_FILE), "-p", "harvester"]


def test_up_runs_compose_with_the_shipped_file(cli_run, monkeypatch):
    docker = FakeDocker(monkeypatch)
    result = cli_run("dev", "up")
    assert result.exit_code == 0, result.stderr
    assert docker.calls == [["docker", "info", "--format", "{{.ServerVersion}}"],
                            ["docker", "compose", "version"],
                            ["docker", "compose", *COMPOSE, "up", "-d"]]
    assert result.stdout == ""


def test_down_keeps_data_unless_asked(cli_run, monkeypatch):
    docker = FakeDocker(monkeypatch)
    assert cli_run("dev", "down").exit_code == 0
    assert cli_run("dev", "down", "--volumes").exit_code == 0
    assert docker.compose_calls() == [["docker", "compose", *COMPOSE, "down"],
                                      ["docker", "compose", *COMPOSE, "down", "--volumes"]]


def test_standalone_docker_compose_is_the_fallback(cli_run, monkeypatch):
    docker = FakeDocker(monkeypatch, installed=("docker", "docker-compose"), plugin=False)
    assert cli_run("dev", "up").exit_code == 0
    assert docker.compose_calls() == [["docker-compose", *COMPOSE, "up", "-d"]]


@pytest.mark.parametrize("command", [["up"], ["down"], ["status"], ["init"]])
def test_docker_missing_is_exit_2_with_a_clear_message(cli_run, monkeypatch, command):
    docker = FakeDocker(monkeypatch, installed=())
    result = cli_run("dev", *command)
    assert result.exit_code == 2
    assert "Docker is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    assert docker.calls == []


def test_docker_not_running_is_exit_2_naming_the_daemon(cli_run, monkeypatch):
    FakeDocker(monkeypatch, running=False)
    result = cli_run("dev", "up")
    assert result.exit_code == 2
    assert "installed but not running" in result.stderr and "docker daemon running" in result.stderr


def test_a_failing_compose_is_exit_1_with_its_last_line(cli_run, monkeypatch):
    FakeDocker(monkeypatch, fail={"up": (1, "Error response from daemon: port is already allocated")})
    result = cli_run("dev", "up")
    assert result.exit_code == 1
    assert "port is already allocated" in result.stderr


def test_binary_vanishing_between_checks_is_still_exit_2(cli_run, monkeypatch):
    monkeypatch.setattr(devstack.shutil, "which", lambda name: "/usr/bin/docker")

    def gone(*args, **kwargs):
        raise FileNotFoundError("docker")

    monkeypatch.setattr(devstack.subprocess, "run", gone)
    assert cli_run("dev", "up").exit_code == 2


@pytest.mark.parametrize("name", ["install-kopf", "install_kopf"])
def test_install_kopf_explains_that_kibana_replaces_it(cli_run, monkeypatch, name):
    docker = FakeDocker(monkeypatch)
    result = cli_run("dev", name)
    assert result.exit_code == 0
    assert "Kibana" in result.stdout and "Elasticsearch 2" in result.stdout
    assert "http://localhost:5601/app/dev_tools#/console" in result.stdout
    assert docker.calls == []


def test_dev_help_lists_the_commands(cli_run):
    result = cli_run("dev", "--help")
    assert result.exit_code == 0
    for name in ("init", "up", "down", "status", "install-kopf"):
        assert name in result.stdout
    assert "install_kopf" not in result.stdout


# -- the compose file ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose_doc() -> dict:
    return yaml.safe_load(devstack.COMPOSE_FILE.read_text())


def _env(service: dict) -> dict[str, str]:
    items = service["environment"]
    if isinstance(items, dict):
        return {k: str(v) for k, v in items.items()}
    return dict(item.split("=", 1) for item in items)


def test_compose_runs_matching_elasticsearch_and_kibana_8(compose_doc):
    services = compose_doc["services"]
    assert set(services) == {"elasticsearch", "kibana"}
    es_image, kb_image = services["elasticsearch"]["image"], services["kibana"]["image"]
    assert es_image.startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert kb_image.startswith("docker.elastic.co/kibana/kibana:")
    es_tag, kb_tag = es_image.split(":", 1)[1], kb_image.split(":", 1)[1]
    assert es_tag == kb_tag  # same release, by one variable
    default = es_tag.split(":-", 1)[1].rstrip("}") if ":-" in es_tag else es_tag
    assert default.split(".")[0] == "8"


def test_compose_elasticsearch_is_a_local_single_node(compose_doc):
    es = compose_doc["services"]["elasticsearch"]
    env = _env(es)
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"
    assert "-Xmx1g" in env["ES_JAVA_OPTS"]
    assert es["ports"] == ["127.0.0.1:9200:9200"]  # never on a public interface
    assert "healthcheck" in es
    assert any(v.endswith(":/usr/share/elasticsearch/data") for v in es["volumes"])


def test_compose_kibana_waits_for_a_healthy_elasticsearch(compose_doc):
    kibana = compose_doc["services"]["kibana"]
    assert _env(kibana)["ELASTICSEARCH_HOSTS"] == "http://elasticsearch:9200"
    assert kibana["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert kibana["ports"] == ["127.0.0.1:5601:5601"]
