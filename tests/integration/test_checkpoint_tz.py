"""The original tool's checkpoint (server wall time, no zone) and its --log-level spellings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.standins.opencast import oc  # noqa: F401

# The original wrote the `created` wall time of the last action: 10:04:00 at -04:00 = 14:04Z.
ORIGINAL = "20171010100400"


def actions_around(oc, instant: datetime) -> dict[int, datetime]:
    """Actions every 10 minutes from 5 hours before `instant` to 5 hours after it."""
    out = {}
    for i in range(-30, 31):
        when = instant + timedelta(minutes=10 * i, seconds=1)
        oc.add_action(1000 + i, "mp-1", when)
        out[1000 + i] = when
    return out


def put_original_checkpoint(value: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="harvest-ts")
    s3.put_object(Bucket="harvest-ts", Key="last-action-ts", Body=value.encode())


def stored_checkpoint() -> str:
    return boto3.client("s3").get_object(Bucket="harvest-ts", Key="last-action-ts")["Body"].read().decode()


@pytest.mark.parametrize("tz,offset_hours", [("-04:00", -4), ("America/New_York", -4), ("+01:00", 1),
                                             ("Europe/Paris", 2)])
def test_cutover_from_an_original_checkpoint_loses_nothing(cli_run, oc, aws, monkeypatch, tmp_path,
                                                           tz, offset_hours):
    oc.tz_offset_hours = offset_hours
    instant = datetime(2017, 10, 10, 10, 4, tzinfo=UTC) - timedelta(hours=offset_hours)
    actions = actions_around(oc, instant)
    put_original_checkpoint(ORIGINAL)
    monkeypatch.setenv("S3_HARVEST_TS_BUCKET", "harvest-ts")
    monkeypatch.setenv("S3_LAST_ACTION_TS_KEY", "last-action-ts")
    monkeypatch.setenv("CHECKPOINT_TZ", tz)
    end = instant + timedelta(hours=3)
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", "-e", end.strftime("%Y%m%d%H%M%S"), "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    got = {json.loads(x)["action_id"] for x in out.read_text().splitlines()}
    # Every action after the original's last one up to --end, nothing from before it.
    assert got == {i for i, when in actions.items() if instant <= when <= end}
    assert f"harvesting useractions {instant:%Y-%m-%dT%H:%M:%SZ}" in result.stderr
    # Written back the same way: the last action's wall time in that zone.
    last = max(when for i, when in actions.items() if i in got)
    assert stored_checkpoint() == (last + timedelta(hours=offset_hours)).strftime("%Y%m%d%H%M%S")


def test_without_the_setting_a_checkpoint_east_of_utc_would_skip_an_hour(cli_run, oc, aws, monkeypatch,
                                                                         tmp_path):
    """Why CHECKPOINT_TZ exists: the same +01:00 checkpoint read as UTC starts an hour late."""
    instant = datetime(2017, 10, 10, 9, 4, tzinfo=UTC)
    actions_around(oc, instant)
    put_original_checkpoint(ORIGINAL)
    monkeypatch.setenv("S3_HARVEST_TS_BUCKET", "harvest-ts")
    monkeypatch.setenv("S3_LAST_ACTION_TS_KEY", "last-action-ts")
    result = cli_run("useractions", "-e", "20171010120000", "-w", "0", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0
    assert "harvesting useractions 2017-10-10T10:04:00Z" in result.stderr  # 09:04..10:04Z skipped


def test_checkpoint_tz_in_config_and_doctor(cli_run, monkeypatch, tmp_path):
    state = tmp_path / ".harvest-state"
    state.mkdir()
    (state / "useractions-last-action-ts").write_text(ORIGINAL)
    monkeypatch.setenv("CHECKPOINT_TZ", "America/New_York")
    config = cli_run("config", "CHECKPOINT_TZ")
    assert config.exit_code == 0 and "America/New_York" in config.stdout
    doctor = cli_run("doctor")
    line = next(x for x in doctor.stdout.splitlines() if "checkpoint" in x)
    assert "last action 20171010100400 (CHECKPOINT_TZ=America/New_York: 2017-10-10T14:04:00Z)" in line
    monkeypatch.delenv("CHECKPOINT_TZ")
    line = next(x for x in cli_run("doctor").stdout.splitlines() if "checkpoint" in x)
    assert "CHECKPOINT_TZ=UTC: 2017-10-10T10:04:00Z" in line


def test_bad_checkpoint_tz_exits_2(cli_run, oc, monkeypatch):
    monkeypatch.setenv("CHECKPOINT_TZ", "Eastern-ish")
    result = cli_run("useractions", "-w", "0", "-o", "-")
    assert result.exit_code == 2
    assert "CHECKPOINT_TZ" in result.stderr and "America/New_York" in result.stderr


def test_utc_default_reads_and_writes_utc(cli_run, oc, monkeypatch, tmp_path):
    oc.add_action(1, "mp-1", datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    state = tmp_path / ".harvest-state"
    state.mkdir()
    (state / "useractions-last-action-ts").write_text("20261123140000")
    result = cli_run("useractions", "-e", "20261123150000", "-w", "0", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert (state / "useractions-last-action-ts").read_text() == "20261123143000"


# -- --log-level as the original's click choice took it ------------------------------------------

@pytest.mark.parametrize("value", ["warn", "WARN", "Warning", "critical", "CRITICAL", "Debug", "ERROR"])
def test_log_level_spellings_of_the_original(cli_run, value):
    result = cli_run("--log-level", value, "config", "HARVEST_LOG_LEVEL")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("value,shown", [("warn", False), ("critical", False), ("debug", True)])
def test_log_level_applies(cli_run, oc, value, shown):
    result = cli_run("--log-level", value, "useractions", "-s", "20261123140000", "-e", "20261123150000",
                     "-w", "0", "-o", "-")
    assert result.exit_code == 0
    assert ("harvesting useractions" in result.stderr) is shown


def test_log_level_from_the_environment_and_a_bad_one(cli_run, monkeypatch):
    monkeypatch.setenv("HARVEST_LOG_LEVEL", "WARN")
    assert cli_run("config", "HARVEST_LOG_LEVEL").exit_code == 0
    monkeypatch.setenv("HARVEST_LOG_LEVEL", "loud")
    result = cli_run("config")
    assert result.exit_code == 2 and "HARVEST_LOG_LEVEL" in result.stderr
    result = cli_run("--log-level", "loud", "config")
    assert result.exit_code == 2 and "warn" in result.stderr
