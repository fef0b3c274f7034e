"""`harvest config`: every setting, the value a run would use, where it came from, secrets masked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harvester.config import SETTINGS, SETTINGS_BY_NAME, parse_dotenv
from harvester.config_report import resolve, unused_names


@pytest.fixture(autouse=True)
def restore_environ():
    """The root group merges dotenv values into os.environ; keep them from leaking between tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def forget(*names: str) -> None:
    """Drop values an earlier in-process run merged from a dotenv file (a new process would not have them)."""
    for name in names:
        os.environ.pop(name, None)


def settings_of(result) -> dict[str, dict]:
    assert result.exit_code == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["settings"]}


def test_lists_every_setting_once_with_its_default(cli_run):
    rows = settings_of(cli_run("config", "--format", "json"))
    assert list(rows) == [s.name for s in SETTINGS]
    assert rows["EPISODE_CACHE_EXPIRE"] == {"name": "EPISODE_CACHE_EXPIRE", "value": "1800",
                                            "source": "default", "where": "default", "secret": False,
                                            "group": "opencast"}
    assert rows["SQS_QUEUE_NAME"]["source"] == "unset" and rows["SQS_QUEUE_NAME"]["value"] is None
    text = cli_run("config").stdout
    for s in SETTINGS:
        assert any(line.split()[0] == s.name for line in text.splitlines() if line and line[0] != "#")


def test_each_source_is_named(cli_run, monkeypatch, tmp_path):
    (tmp_path / ".env").write_text('SQS_QUEUE_NAME="from-dotenv"\nES_HOST=dotenv:9200\n'
                                   "HARVEST_LOG_LEVEL=warning\nDEFAULT_INTERVAL=7\n")
    monkeypatch.setenv("ES_HOST", "environment:9200")  # the real environment beats the file
    monkeypatch.setenv("HARVEST_LOG_FORMAT", "text")
    rows = settings_of(cli_run("--log-format", "json", "config", "--format", "json"))
    env_file = str(tmp_path / ".env")
    assert (rows["SQS_QUEUE_NAME"]["value"], rows["SQS_QUEUE_NAME"]["where"]) == \
        ("from-dotenv", f"dotenv file {env_file}")
    assert (rows["ES_HOST"]["value"], rows["ES_HOST"]["source"]) == ("environment:9200", "environment")
    assert (rows["HARVEST_LOG_FORMAT"]["value"], rows["HARVEST_LOG_FORMAT"]["where"]) == \
        ("json", "option --log-format")
    assert (rows["HARVEST_LOG_LEVEL"]["value"], rows["HARVEST_LOG_LEVEL"]["source"]) == ("warning", "dotenv")
    assert rows["DEFAULT_INTERVAL"]["value"] == "7"
    assert rows["HARVEST_RETRY_ATTEMPTS"]["source"] == "default"


def test_env_file_option_names_that_file(cli_run, tmp_path):
    other = tmp_path / "etc" / "harvester.env"
    other.parent.mkdir()
    other.write_text("MATTERHORN_ENGAGE_HOST=engage.example.edu\n")
    (tmp_path / ".env").write_text("MATTERHORN_ADMIN_HOST=not-read.example.edu\n")
    result = cli_run("--env-file", str(other), "config", "--only-set")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"# dotenv files loaded: {other}"
    line = next(x for x in result.stdout.splitlines() if x.startswith("MATTERHORN_ENGAGE_HOST"))
    assert line.split() == ["MATTERHORN_ENGAGE_HOST", "engage.example.edu", "dotenv", "file", str(other)]
    assert "MATTERHORN_ADMIN_HOST" not in result.stdout  # --env-file means only that file
    assert "HARVEST_RETRY_ATTEMPTS" not in result.stdout  # --only-set leaves defaults out


def test_original_names_are_shown_as_the_source_of_the_new_ones(cli_run, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    (tmp_path / ".env").write_text("ZOOM_KEY=original-key-id\nAWS_DEFAULT_REGION=us-east-2\n"
                                   "GEOLITE_PATH=/opt/geolite\nBANNER_ENDPOINT_BASE=https://b.example.edu\n")
    result = cli_run("config", "--format", "json")
    rows = settings_of(result)
    assert rows["ZOOM_CLIENT_ID"]["value"] == "original-key-id"
    assert rows["ZOOM_CLIENT_ID"]["where"] == f"dotenv file {tmp_path / '.env'} (as ZOOM_KEY)"
    assert rows["AWS_REGION"]["value"] == "us-east-2"
    assert json.loads(result.stdout)["unused"] == ["BANNER_ENDPOINT_BASE"]  # GEOLITE_PATH is read
    forget("ZOOM_KEY", "AWS_DEFAULT_REGION", "GEOLITE_PATH", "BANNER_ENDPOINT_BASE")
    text = cli_run("config").stdout
    assert "not read by harvest" in text and "BANNER_ENDPOINT_BASE" in text


SECRETS = {
    "MATTERHORN_REST_PASS": "oc-Pa55word-XYZZY",
    "ZOOM_SECRET": "zoom-s3cret-PLUGH",
    "ZOOM_CLIENT_SECRET": "zoom-client-s3cret-FROBOZZ",
    "ES_PASSWORD": "es-Pa55-QUUX",
    "ES_API_KEY": "es-api-key-GRAULT",
    "LOGGLY_TOKEN": "loggly-token-GARPLY",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-WALDO",
    "AWS_SESSION_TOKEN": "aws-session-FRED",
    "REDIS_URL": "redis://:redis-pw-THUD@127.0.0.1:6379/0",
}


def test_every_secret_is_masked_in_every_format(cli_run, monkeypatch, tmp_path):
    declared = {s.name for s in SETTINGS if s.secret}
    assert declared <= set(SECRETS), f"a new secret setting needs a value here: {declared - set(SECRETS)}"
    half = sorted(SECRETS)
    dotenv = {n: SECRETS[n] for n in half[::2]}  # half from a dotenv file, half from the environment
    (tmp_path / ".env").write_text("".join(f'{k}="{v}"\n' for k, v in dotenv.items())
                                   + "ES_HOST=https://elastic:url-pw-XYZZY2@es.example.edu:9243\n")
    for name in half[1::2]:
        monkeypatch.setenv(name, SECRETS[name])
    outputs = []
    for args in ([], ["--format", "json"], ["--format", "dotenv"], ["--only-set"], list(SECRETS)):
        result = cli_run("--log-level", "debug", "config", *args)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    needles = [v for v in SECRETS.values()] + ["redis-pw-THUD", "url-pw-XYZZY2"]
    for out in outputs:
        for needle in needles:
            assert needle not in out
    rows = settings_of(cli_run("config", "--format", "json"))
    assert all(rows[n]["value"] == "***" and rows[n]["secret"] for n in SECRETS if n != "REDIS_URL")
    assert rows["REDIS_URL"]["value"] == "redis://:***@127.0.0.1:6379/0"  # where it points stays visible
    assert rows["ES_HOST"]["value"] == "https://elastic:***@es.example.edu:9243"


def test_dotenv_format_is_a_loadable_env_file(cli_run, monkeypatch, tmp_path):
    monkeypatch.setenv("LOGGLY_TAGS", "stack one, #two")
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", "http://127.0.0.1:8080")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "hunter2hunter2")
    result = cli_run("config", "--format", "dotenv")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out.env"
    out.write_text(result.stdout)
    parsed = parse_dotenv(out)
    assert parsed["LOGGLY_TAGS"] == "stack one, #two"
    assert parsed["MATTERHORN_ENGAGE_HOST"] == "http://127.0.0.1:8080"
    assert parsed["MATTERHORN_REST_PASS"] == "***"  # to be filled in, never copied
    assert "EPISODE_CACHE_EXPIRE" not in parsed  # defaults are left out


def test_names_select_settings_and_unknown_names_exit_2(cli_run):
    result = cli_run("config", "--format", "json", "es_host", "DEFAULT_INTERVAL")
    assert list(settings_of(result)) == ["ES_HOST", "DEFAULT_INTERVAL"]
    bad = cli_run("config", "NO_SUCH_SETTING")
    assert bad.exit_code == 2
    assert "NO_SUCH_SETTING" in bad.stderr and "Traceback" not in bad.stderr


def test_a_malformed_dotenv_file_is_exit_2_naming_file_and_line(cli_run, tmp_path):
    (tmp_path / ".env").write_text("ES_HOST=localhost:9200\nthis line is not a setting\n")
    result = cli_run("config")
    assert result.exit_code == 2
    assert ".env, line 2" in result.stderr and result.stdout == ""


# -- the resolution rules, without the CLI -----------------------------------------------------------

def test_resolve_precedence_and_fallbacks():
    settings = [SETTINGS_BY_NAME[n] for n in ("ES_HOST", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET",
                                               "HARVEST_LOG_LEVEL", "SQS_QUEUE_NAME", "AWS_REGION")]
    environ = {"ES_HOST": "env:9200", "ZOOM_CLIENT_ID": "", "ZOOM_KEY": "k", "ZOOM_CLIENT_SECRET": "new",
               "ZOOM_SECRET": "old", "HARVEST_LOG_LEVEL": "error", "AWS_DEFAULT_REGION": "eu-west-1"}
    files = {"ZOOM_KEY": Path("/etc/h.env")}
    got = {e.setting.name: e for e in resolve(settings, environ, files,
                                              {"HARVEST_LOG_LEVEL": ("--log-level", "debug")})}
    assert (got["ES_HOST"].value, got["ES_HOST"].where) == ("env:9200", "environment")
    assert (got["ZOOM_CLIENT_ID"].value, got["ZOOM_CLIENT_ID"].where) == \
        ("k", "dotenv file /etc/h.env (as ZOOM_KEY)")
    assert got["ZOOM_CLIENT_SECRET"].value == "new" and got["ZOOM_CLIENT_SECRET"].via == ""
    assert got["ZOOM_CLIENT_SECRET"].shown == "***"
    assert (got["HARVEST_LOG_LEVEL"].value, got["HARVEST_LOG_LEVEL"].where) == ("debug", "option --log-level")
    assert (got["SQS_QUEUE_NAME"].source, got["SQS_QUEUE_NAME"].where) == ("unset", "not set")
    assert (got["AWS_REGION"].value, got["AWS_REGION"].where) == \
        ("eu-west-1", "environment (as AWS_DEFAULT_REGION)")


@pytest.mark.parametrize("names,expected", [
    (["ES_HOST", "ZOOM_KEY", "AWS_DEFAULT_REGION", "AWS_PROFILE"], []),
    (["GEOLITE_PATH", "ES_HOTS", "HTTPS_PROXY"], ["ES_HOTS"]),
])
def test_unused_names(names, expected):
    assert unused_names({n: Path(".env") for n in names}) == expected


def test_settings_a_command_registers_are_listed_and_a_broken_command_is_only_a_warning(
        cli_run, monkeypatch, tmp_path):
    from harvester.cli import cli

    (tmp_path / "ops_extra_cmd.py").write_text(
        "import click\n"
        "from harvester.config import Setting, register_settings\n"
        "register_settings([Setting('EXTRA_JOB_URL', 'an extra job', 'https://x.example.edu',"
        " False, 'extra')])\n"
        "extra = click.Command('extra')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.lazy, "extra", ("ops_extra_cmd:extra", "an extra job"))
    monkeypatch.setitem(cli.lazy, "broken", ("ops_no_such_module:broken", "cannot be imported"))
    try:
        result = cli_run("config", "--format", "json")
        rows = settings_of(result)
        assert rows["EXTRA_JOB_URL"]["value"] == "https://x.example.edu"
        assert "command broken could not be loaded" in result.stderr
    finally:
        cli.commands.pop("extra", None)
        SETTINGS[:] = [s for s in SETTINGS if s.name != "EXTRA_JOB_URL"]
        SETTINGS_BY_NAME.pop("EXTRA_JOB_URL", None)
