"""The deployment files are checked by parsing them: no Docker engine or init system is needed.

Every scheduled command (docker/crontab.example, docker/systemd/*.service) must resolve to a
real CLI command with valid options, exactly as click would parse it at run time; the
Dockerfile must run `harvest` as a non-root user with JSON logs and no secret baked in.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from harvester.cli import cli
from harvester.config import SETTINGS_BY_NAME, is_secret

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CRONTAB = ROOT / "docker" / "crontab.example"
SYSTEMD = ROOT / "docker" / "systemd"

#: The original analytics node's schedule (seed 001's cron.d entries), which must be kept.
ORIGINAL = {
    "useractions": ("*/2 * * * *", "*:0/2"),
    "load-episodes": ("0 4 * * *", "*-*-* 04:00:00 UTC"),
    "zoom": ("0 5 * * *", "*-*-* 05:00:00 UTC"),
}

#: What a production env file provides, so that required options resolve as they would at run time.
PRODUCTION_ENV = {
    "MATTERHORN_ENGAGE_HOST": "engage.example.edu", "MATTERHORN_ADMIN_HOST": "admin.example.edu",
    "MATTERHORN_REST_USER": "rest", "MATTERHORN_REST_PASS": "rest-pass", "SQS_QUEUE_NAME": "actions",
    "ES_HOST": "es.example.edu:9200", "ZOOM_ACCOUNT_ID": "acct", "ZOOM_KEY": "key", "ZOOM_SECRET": "secret",
}


# -- a validator for command lines ----------------------------------------------------------------

def resolve_argv(argv: list[str]) -> tuple[list[str], click.Context]:
    """Parse argv like `harvest` would (no callback runs); return the command path and its context.

    Raises click's UsageError for an unknown command or option, a bad value, or a missing
    required setting, which is what cron would otherwise find out at 04:00.
    """
    ctx = cli.make_context("harvest", list(argv), resilient_parsing=False)
    command: click.Command = cli
    path: list[str] = []
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            raise click.UsageError(f"no command after {' '.join(['harvest', *path])}")
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None
        ctx = sub.make_context(name, rest, parent=ctx, resilient_parsing=False)
        path.append(sub.name)
        command = sub
    assert not ctx.args, f"unexpected arguments {ctx.args}"
    return path, ctx


@pytest.fixture
def production_env(monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("argv", [
    ["useractions", "-b", "10000"],
    ["useractions", "--engage_host", "x.example.edu", "--batch_size", "5"],
    ["load_episodes"],
    ["setup", "load_index_templates"],
    ["--env-file", "/etc/harvester/harvester.env", "--log-format", "json", "zoom", "--es_host", "h:9200"],
])
def test_validator_accepts_real_command_lines(production_env, argv):
    path, _ = resolve_argv(argv)
    assert path[0] in ("useractions", "load-episodes", "setup", "zoom")


@pytest.mark.parametrize("argv,message", [
    (["useractoins"], "No such command"),
    (["useractions", "-b", "many"], "is not a valid integer"),
    (["useractions", "--batch-size", "0"], "x>=1"),
    (["useractions", "--no-such-flag"], "No such option"),
    (["setup"], "COMMAND [ARGS]"),  # a group alone is not a job
    (["zoom", "--date", "2026-02-30"], "2026-02-30"),
])
def test_validator_rejects_broken_command_lines(production_env, argv, message):
    with pytest.raises(click.UsageError) as err:
        resolve_argv(argv)
    assert message in err.value.format_message()


def test_validator_reports_a_setting_missing_from_the_env_file(production_env, monkeypatch):
    monkeypatch.delenv("ZOOM_ACCOUNT_ID")
    with pytest.raises(click.MissingParameter) as err:
        resolve_argv(["zoom"])
    assert "ZOOM_ACCOUNT_ID" in err.value.format_message()


# -- crontab ------------------------------------------------------------------------------------------

@dataclass
class CronJob:
    schedule: str
    user: str
    command: str
    argv: list[str]

    @property
    def job(self) -> str:
        return resolve_argv(self.argv)[0][0]


def parse_crontab(text: str) -> tuple[dict[str, str], list[CronJob]]:
    """A cron.d file: NAME=value lines, and `m h dom mon dow user command` lines."""
    variables: dict[str, str] = {}
    jobs: list[CronJob] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if assignment:
            variables[assignment.group(1)] = assignment.group(2)
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"not a cron.d job line: {line}"
        assert "%" not in fields[6], "cron turns % into newlines"
        jobs.append(CronJob(" ".join(fields[:5]), fields[5], fields[6], harvest_argv(fields[6], variables)))
    return variables, jobs


def harvest_argv(command: str, variables: dict[str, str]) -> list[str]:
    """The harvest arguments of a shell command line: after $HARVEST (expanded), up to 2>&1 ; or |."""
    match = re.search(r"\$\{?HARVEST\}?\s(.*?)(?:\s+2>&1|\s*;|\s*\||$)", command)
    assert match, f"no $HARVEST invocation in {command!r}"
    prefix = shlex.split(variables["HARVEST"])
    return harvest_args_of(prefix) + shlex.split(match.group(1))


def harvest_args_of(prefix: list[str]) -> list[str]:
    """Root options inside the HARVEST prefix: what follows the image (docker run) or the binary."""
    for i, token in enumerate(prefix):
        if token.startswith("harvester:") or token.endswith("/harvest") or token == "harvest":
            return prefix[i + 1:]
    raise AssertionError(f"neither the harvester image nor a harvest binary in {prefix}")


def test_crontab_keeps_the_original_schedule_and_every_command_parses(production_env):
    variables, jobs = parse_crontab(CRONTAB.read_text())
    assert variables["SHELL"] == "/bin/sh"
    by_job = {}
    for job in jobs:
        path, _ = resolve_argv(job.argv)  # raises on any unknown command, option or bad value
        by_job[path[0]] = job
        assert job.user == "harvester"
        assert "run-one" not in job.command  # the harvester's own lock replaces it
        assert re.search(r'echo "\{\\"job\\": \\"' + re.escape(path[0]) + r'\\", \\"exit_code\\": \$\?\}"',
                         job.command), "every run ends with its exit code in the log"
    for name, (schedule, _) in ORIGINAL.items():
        assert by_job[name].schedule == schedule, name
    assert by_job["useractions"].argv[-2:] == ["-b", "10000"]


def test_crontab_docker_prefix_reads_the_env_file_through_harvest():
    variables, _ = parse_crontab(CRONTAB.read_text())
    prefix = shlex.split(variables["HARVEST"])
    assert prefix[:3] == ["docker", "run", "--rm"]
    # docker's own --env-file keeps quotes; harvest's dotenv parser does not, so it must be harvest's.
    image = next(i for i, t in enumerate(prefix) if t.startswith("harvester:"))
    assert "--env-file" not in prefix[:image]
    mounted = [prefix[i + 1] for i, t in enumerate(prefix[:image]) if t == "-v"]
    env_file = harvest_args_of(prefix)[harvest_args_of(prefix).index("--env-file") + 1]
    assert f"{env_file}:{env_file}:ro" in mounted
    assert any(m.endswith(":/var/lib/harvester") for m in mounted)  # state survives the container


def test_the_cron_lines_run_in_a_real_shell(tmp_path):
    """The brace group and the exit-code line behave as documented, with a stand-in HARVEST."""
    variables, jobs = parse_crontab(CRONTAB.read_text())
    fake = tmp_path / "harvest"
    fake.write_text("#!/bin/sh\necho \"args: $*\" >&2\nexit 3\n")
    fake.chmod(0o755)
    log = tmp_path / "log"
    for job in jobs[:2]:
        command = job.command.replace("| logger -t", f">> {log} #")
        subprocess.run(["/bin/sh", "-c", command], env={"HARVEST": str(fake), "PATH": "/usr/bin:/bin"},
                       check=True, timeout=10)
    lines = log.read_text().splitlines()
    assert lines[0] == "args: useractions -b 10000"
    assert json.loads(lines[1]) == {"job": "useractions", "exit_code": 3}
    assert json.loads(lines[3])["exit_code"] == 3


# -- systemd ------------------------------------------------------------------------------------------

def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None and _ == "=", f"{path.name}: bad line {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_units_cover_every_cron_job_with_the_same_command(production_env):
    _, jobs = parse_crontab(CRONTAB.read_text())
    cron = {resolve_argv(j.argv)[0][0]: j for j in jobs}
    services = sorted(SYSTEMD.glob("harvest-*.service"))
    assert {p.stem.removeprefix("harvest-") for p in services} == set(cron)
    for service in services:
        name = service.stem.removeprefix("harvest-")
        unit = parse_unit(service)["Service"]
        assert unit["Type"] == ["oneshot"]
        assert unit["User"] == ["harvester"]
        assert "HARVEST_LOG_FORMAT=json" in unit["Environment"]
        argv = shlex.split(unit["ExecStart"][0])
        assert argv[0].endswith("/harvest")
        path, _ = resolve_argv(argv[1:])
        assert path[0] == name
        # the same job arguments as the crontab line (root options may differ)
        assert argv[-len(cron[name].argv[2:]):] == cron[name].argv[2:]
        assert "SuccessExitStatus" not in unit  # exit 3 must stay visible as a failure
        timer = parse_unit(service.with_suffix(".timer"))
        assert timer["Timer"]["Unit"] == [service.name]
        assert timer["Install"]["WantedBy"] == ["timers.target"]
        if name in ORIGINAL:
            assert timer["Timer"]["OnCalendar"] == [ORIGINAL[name][1]]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_units_verify_and_calendars_match_cron(tmp_path):
    harvest = shutil.which("harvest")
    assert harvest, "the harvest console script is installed"
    for unit in SYSTEMD.iterdir():
        text = unit.read_text().replace("/opt/harvester/venv/bin/harvest", harvest)
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # verify only warns (exit 0) about unknown keys and bad values: those count as failures here
    assert not re.search(r"unknown|ignoring|invalid|failed", result.stderr, re.I), result.stderr
    out = subprocess.run(["systemd-analyze", "calendar", "--iterations=3", "*:0/2"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    assert "Normalized form: *-*-* *:00/2:00" in out


# -- Dockerfile ----------------------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continuation line"
    return out


def env_pairs(args: str) -> dict[str, str]:
    tokens = shlex.split(args)
    if len(tokens) >= 2 and "=" not in tokens[0]:  # legacy `ENV KEY value`
        return {tokens[0]: " ".join(tokens[1:])}
    return dict(t.split("=", 1) for t in tokens)


SECRETISH = re.compile(r"(PASS|SECRET|TOKEN|API_KEY|ACCESS_KEY|PRIVATE|CREDENTIAL)", re.I)


def test_dockerfile_runs_harvest_as_non_root_with_json_logs_and_no_secrets():
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    froms = [a for k, a in instructions if k == "FROM"]
    assert froms and all(a.split()[0] == "python:3.11-slim" for a in froms)
    users = [a for k, a in instructions if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # USER comes after the last RUN that installs: the entry point never runs as root
    last_user = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
    assert all(k != "RUN" for k, _ in instructions[last_user:])
    entrypoints = [a for k, a in instructions if k == "ENTRYPOINT"]
    assert len(entrypoints) == 1 and json.loads(entrypoints[0]) == ["harvest"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "harvest" in scripts
    envs: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword == "ENV":
            envs.update(env_pairs(args))
        if keyword == "ARG":
            name = args.split("=", 1)[0]
            assert not SECRETISH.search(name), f"ARG {name} would bake a secret into the image history"
    for name, value in envs.items():
        assert not SECRETISH.search(name) and not is_secret(name), f"ENV {name} looks like a secret"
        assert not re.search(r"//[^/@\s]+:[^@\s]+@", value), f"ENV {name} carries a URL password"
        if name in SETTINGS_BY_NAME:
            assert not SETTINGS_BY_NAME[name].secret
    assert envs["HARVEST_LOG_FORMAT"] == "json"
    assert any(k == "RUN" and re.search(r"pip install (--\S+ )*\.(\s|$)", a) for k, a in instructions)
    volumes = [json.loads(a) for k, a in instructions if k == "VOLUME"]
    assert [envs["HARVEST_STATE_DIR"]] in volumes


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    """(negated, regex) per .dockerignore line, with Docker's rules: `*` stays within one path
    segment, `**` spans any number, and a pattern that matches a directory excludes its content."""
    out = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        out.append((negated, re.compile(regex + "(?:/.*)?")))
    return out


def excluded(path: str, patterns: list[tuple[bool, re.Pattern]] | None = None) -> bool:
    result = False
    for negated, regex in patterns if patterns is not None else dockerignore_patterns():
        if regex.fullmatch(path):
            result = not negated
    return result


def build_context() -> set[str]:
    """The files `docker build .` would send: the repository's files less .dockerignore's."""
    patterns = dockerignore_patterns()
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return {p for p in listed if (ROOT / p).is_file() and not excluded(p, patterns)}


def test_dockerignore_follows_docker_matching_rules():
    assert excluded(".env") and excluded("config/prod.env") and excluded("deploy/.env.local")
    assert excluded("tests/unit/test_x.py") and excluded("harvester/__pycache__/cli.cpython-311.pyc")
    assert not excluded("harvester/cli.py") and not excluded("index_templates/pipelines/x.json")
    assert not excluded("README.md") and not excluded("pyproject.toml")


def test_build_context_holds_everything_pip_install_needs_and_no_secret():
    context = build_context()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["readme"] in context
    assert {"pyproject.toml", "requirements.txt", "harvester/__init__.py", "harvester/cli.py"} <= context
    # every data file pyproject installs must be in the context, or `pip install .` fails in the build
    data_files = project.get("tool", {}).get("setuptools", {}).get("data-files", {})
    for globs in data_files.values():
        for pattern in globs:
            assert any(fnmatch.fnmatch(p, pattern) for p in context), f"{pattern} is not in the build context"
    assert any(p.startswith("index_templates/pipelines/") for p in context)
    for path in context:
        name = Path(path).name
        assert not (name == ".env" or name.endswith(".env") or name.startswith(".env.")), path
        assert not path.startswith((".git/", "tests/", ".harvest-state/"))


def test_dockerfile_copies_only_what_exists_and_never_an_env_file():
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    for keyword, args in instructions:
        if keyword not in ("COPY", "ADD"):
            continue
        assert keyword == "COPY", "ADD can fetch URLs and unpack archives; COPY says what it does"
        tokens = [t for t in args.split() if not t.startswith("--")]
        for source in tokens[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
            assert source == "." or not excluded(source), f"COPY {source}, but .dockerignore excludes it"
            assert ".env" not in Path(source).name
    copied = [a for k, a in instructions if k == "COPY"]
    assert copied.index("requirements.txt ./") < copied.index(". ./"), "dependencies get their own layer"
