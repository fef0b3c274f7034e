import json
import logging
import os

import pytest

from harvester.config import SETTINGS, load_env, mask, parse_dotenv, secret_values
from harvester.errors import ConfigError
from harvester.http import parse_retry_after
from harvester.logconfig import setup_logging
from harvester.sinks.sqs import MAX_REQUEST_BYTES, batches
from tests.conftest import ROOT


def test_dotenv_precedence_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MATTERHORN_REST_USER=from-file\nSQS_QUEUE_NAME='q file'\n")
    monkeypatch.setenv("MATTERHORN_REST_USER", "from-env")
    loaded = load_env(None)
    assert os.environ["MATTERHORN_REST_USER"] == "from-env"
    assert os.environ["SQS_QUEUE_NAME"] == "q file"
    assert loaded.from_files == {"SQS_QUEUE_NAME": tmp_path / ".env"}
    monkeypatch.delenv("SQS_QUEUE_NAME")


def test_env_file_option_and_beside_script(tmp_path, monkeypatch):
    other = tmp_path / "prod.env"
    other.write_text("SQS_QUEUE_NAME=prod\n")
    load_env(str(other))
    assert os.environ["SQS_QUEUE_NAME"] == "prod"
    monkeypatch.delenv("SQS_QUEUE_NAME")
    with pytest.raises(ConfigError, match="no such file"):
        load_env(str(tmp_path / "missing.env"))
    script_dir = tmp_path / "bin"
    script_dir.mkdir()
    (script_dir / ".env").write_text("SQS_QUEUE_NAME=beside\n")
    load_env(None, script_dir)
    assert os.environ["SQS_QUEUE_NAME"] == "beside"
    monkeypatch.delenv("SQS_QUEUE_NAME")


def test_malformed_dotenv_line_is_named(tmp_path):
    p = tmp_path / ".env"
    p.write_text("A=1\n\n# comment\nB='unterminated\nC=3\n")
    with pytest.raises(ConfigError, match=r"line 4"):
        parse_dotenv(p)


def test_malformed_dotenv_exits_2_through_the_cli(cli_run, tmp_path):
    (tmp_path / ".env").write_text("GOOD=1\nthis is not a setting\n")
    result = cli_run("doctor")
    assert result.exit_code == 2
    assert ".env, line 2" in result.stderr


def test_secret_values_and_mask(monkeypatch):
    monkeypatch.setenv("MATTERHORN_REST_PASS", "pw-123456")
    monkeypatch.setenv("REDIS_URL", "redis://:redispw@host:6379/0")
    monkeypatch.setenv("SQS_QUEUE_NAME", "not-secret")
    values = secret_values()
    assert "pw-123456" in values and "redispw" in values and "not-secret" not in values
    assert mask("redis://:redispw@host:6379/0") == "redis://:***@host:6379/0"
    assert mask("x") == "***" and mask(None) == ""


def test_log_lines_are_redacted_in_text_and_json(monkeypatch, capsys):
    monkeypatch.setenv("MATTERHORN_REST_PASS", "pw-123456")
    for fmt in ("text", "json"):
        setup_logging("debug", fmt)
        logging.getLogger("harvester.test").info("connecting with pw-123456", extra={"n": 1})
        err = capsys.readouterr().err
        assert "pw-123456" not in err and "***" in err
        if fmt == "json":
            doc = json.loads(err.strip().splitlines()[-1])
            assert doc["level"] == "info" and doc["n"] == 1 and doc["logger"] == "harvester.test"


def test_example_env_lists_every_setting():
    text = (ROOT / "example.env").read_text()
    missing = [s.name for s in SETTINGS if f"{s.name}=" not in text]
    assert missing == []


def test_retry_after_seconds_and_http_date():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 24 Nov 2026 11:00:30 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_sqs_batches_respect_count_and_size():
    small = [(str(i), "x" * 100) for i in range(25)]
    groups = list(batches(small))
    assert [len(g) for g in groups] == [10, 10, 5]
    big = [(str(i), "y" * 100_000) for i in range(5)]
    groups = list(batches(big))
    assert all(sum(len(b) + 100 for _, b in g) <= MAX_REQUEST_BYTES for g in groups)
    assert [rid for g in groups for rid, _ in g] == [str(i) for i in range(5)]
    assert len(groups) == 3
