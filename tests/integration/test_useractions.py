"""useractions end to end through the CLI: Opencast stand-in, moto S3/SQS, a real redis-server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from harvester.timeutil import format_compact
from tests.standins.opencast import OpencastStandIn, oc, only, server_error, slow, truncated_json  # noqa: F401
from tests.standins.sqs import SqsStandIn, drain_bodies

START = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
WINDOW = ["--start", format_compact(START), "--end", format_compact(END)]


def populate(oc: OpencastStandIn, n: int = 45, mpids: int = 5, first_id: int = 1) -> set[int]:
    ids = set()
    for i in range(n):
        aid = first_id + i
        oc.add_action(aid, f"mp-{i % mpids}", START + timedelta(seconds=60 + i * 13, milliseconds=250),
                      user=str(10000 + i), ip=f"10.0.{i % 250}.1, 192.168.0.1, 172.16.0.1",
                      is_playing=2 if i % 7 == 0 else True)
        ids.add(aid)
    # Outside the window: must never be delivered.
    oc.add_action(90001, "mp-0", START - timedelta(days=2))
    oc.add_action(90002, "mp-1", END + timedelta(minutes=5))
    for m in range(mpids - 1):  # the last mpid has no episode: delivered with episode null
        oc.add_episode(f"mp-{m}", title=f"Lecture {m}", series="20260112345", seriestitle="CSCI E-50",
                       duration=3_600_000 + m)
    return ids


@pytest.fixture
def env(oc, monkeypatch):
    return monkeypatch


def drain(queue: str) -> list[dict]:
    return [json.loads(body) for body in drain_bodies(queue)]


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def s3_checkpoint(bucket: str = "harvest-ts", key: str = "last-action-ts") -> str | None:
    s3 = boto3.client("s3")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        return None
    except s3.exceptions.NoSuchBucket:
        return None


# -- the main path ------------------------------------------------------------------------------

def test_sqs_s3_redis_end_to_end(cli_run, env, oc, aws, redis_url):
    served = populate(oc)
    env.setenv("SQS_QUEUE_NAME", "actions")
    env.setenv("S3_HARVEST_TS_BUCKET", "harvest-ts")
    env.setenv("S3_LAST_ACTION_TS_KEY", "last-action-ts")
    env.setenv("REDIS_URL", redis_url)
    result = cli_run("useractions", *WINDOW, "-b", "10", "-w", "0")
    assert result.exit_code == 0, result.stderr
    records = drain("actions")
    assert {r["action_id"] for r in records} == served
    assert len(records) == len(served)
    # lookups: one per distinct mpid, never one per action (Digest challenges are not lookups)
    assert oc.count("/search/episode.json", status=200) == 5
    assert oc.count("/search/episode.json", status=401) <= 4  # at most one per lookup thread
    # the checkpoint: the newest delivered action, in the original bare format
    newest = max(r["timestamp"] for r in records)
    assert s3_checkpoint() == newest[:19].replace("-", "").replace("T", "").replace(":", "")
    assert "fetched 45, delivered 45, episode lookups 5" in result.stderr

    # A second run within the cache TTL does not touch the search endpoint at all.
    oc.reset_counters()
    result = cli_run("useractions", *WINDOW, "-b", "10", "-w", "0", "--no-update-last-ts")
    assert result.exit_code == 0, result.stderr
    assert oc.count("/search/episode.json") == 0
    assert "episode lookups 0, cache hits" in result.stderr


def test_record_fields_match_the_contract(cli_run, env, oc, tmp_path):
    populate(oc, n=8, mpids=2)
    out = tmp_path / "out.jsonl"
    assert cli_run("useractions", *WINDOW, "-w", "0", "-o", str(out)).exit_code == 0
    records = {r["action_id"]: r for r in read_lines(out)}
    first = records[1]
    assert set(first) == {"action_id", "timestamp", "mpid", "session_id", "huid", "useragent", "ip",
                          "proxy1", "proxy2", "is_live", "action", "episode"}
    assert first["timestamp"] == "2026-11-23T14:01:00.250Z"
    assert first["huid"] == "10000" and isinstance(first["huid"], str)
    assert (first["ip"], first["proxy1"], first["proxy2"]) == ("10.0.0.1", "192.168.0.1", "172.16.0.1")
    assert first["is_live"] == 1  # isPlaying == 2
    assert records[2]["is_live"] == 0
    assert first["action"] == {"type": "HEARTBEAT", "inpoint": 0, "outpoint": 30, "length": 30,
                               "is_playing": True}
    assert first["episode"] == {"title": "Lecture 0", "duration": 3600000, "start": "2026-11-01T14:00:00Z",
                                "course": "CSCI E-50", "series": "20260112345", "year": "2026",
                                "term": "01", "cdn": "12345", "type": "L01", "description": None}
    assert records[2]["episode"] is None  # mp-1 has no episode: still delivered


@pytest.mark.parametrize("dialect,mode", [("dce", "auto"), ("stock", "auto"), ("stock", "day"),
                                          ("dce", "window")])
@pytest.mark.parametrize("shape", ["solr", "oc16"])
def test_dialects_and_shapes(cli_run, env, oc, tmp_path, dialect, mode, shape):
    oc.dialect, oc.search_shape = dialect, shape
    served = populate(oc, n=30, mpids=3)
    env.setenv("OPENCAST_USERTRACKING_MODE", mode)
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", *WINDOW, "-b", "7", "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    records = read_lines(out)
    assert sorted(r["action_id"] for r in records) == sorted(served)
    assert all(r["episode"]["title"].startswith("Lecture") for r in records if r["mpid"] != "mp-2")
    assert all(r["episode"]["duration"] in (3600000, 3600001) for r in records if r["mpid"] != "mp-2")
    if dialect == "stock" and mode == "auto":
        assert "ignores start/end" in result.stderr
        assert any("day" in r.args for r in oc.requests)
    if dialect == "dce" and mode in ("auto", "window"):
        assert not any("day" in r.args for r in oc.requests)


def test_server_capping_the_page_size_is_paged_to_the_end(cli_run, env, oc, tmp_path):
    oc.max_limit = 7
    served = populate(oc, n=40, mpids=2)
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", *WINDOW, "-b", "100", "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert {r["action_id"] for r in read_lines(out)} == served


def test_flat_matterhorn_actions_and_basic_auth(cli_run, env, oc, tmp_path):
    oc.action_format = "flat"
    served = populate(oc, n=12, mpids=2)
    env.setenv("OPENCAST_AUTH", "basic")
    env.setenv("MATTERHORN_REST_USER", "admin")  # Basic needs a user of the user directory
    env.setenv("MATTERHORN_REST_PASS", "opencast")
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    records = read_lines(out)
    assert {r["action_id"] for r in records} == served
    assert all(r["useragent"] is None and r["session_id"] == "s1" for r in records)
    assert all("Digest" not in r.headers.get("Authorization", "") for r in oc.requests)


def test_stdout_has_only_json_lines_and_keeps_checkpoint(cli_run, env, oc):
    populate(oc, n=5, mpids=1)
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(json.loads(line)["action_id"] for line in lines)
    assert "checkpoint unchanged" in result.stderr
    assert not (env and __import__("pathlib").Path(".harvest-state/useractions-last-action-ts").exists())


def test_local_checkpoint_and_incremental_run(cli_run, env, oc, tmp_path, monkeypatch):
    populate(oc, n=10, mpids=2)
    out = tmp_path / "out.jsonl"
    assert cli_run("useractions", *WINDOW, "-w", "0", "-o", str(out)).exit_code == 0
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    first = cp.read_text()
    assert first == "20261123140257"  # action 10: 14:01:00.250 + 9 * 13 s
    # New actions after the checkpoint; the next run starts from it (inclusive) up to --end.
    oc.add_action(500, "mp-0", START + timedelta(minutes=30))
    assert cli_run("useractions", "--end", format_compact(END), "-w", "0", "-o", str(out)).exit_code == 0
    ids = [r["action_id"] for r in read_lines(out)]
    assert 500 in ids
    assert cp.read_text() == "20261123143000"


def test_original_checkpoint_in_s3_is_picked_up(cli_run, env, oc, aws, tmp_path):
    populate(oc, n=20, mpids=2)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="harvest-ts")
    s3.put_object(Bucket="harvest-ts", Key="last-action-ts", Body=b"20261123140200")
    env.setenv("S3_HARVEST_TS_BUCKET", "harvest-ts")
    env.setenv("S3_LAST_ACTION_TS_KEY", "last-action-ts")
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", "--end", format_compact(END), "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    times = [r["timestamp"] for r in read_lines(out)]
    assert times and min(times) >= "2026-11-23T14:02:00"
    assert "start from checkpoint" in result.stderr


def test_fifo_queue_gets_group_and_dedup_id(cli_run, env, oc, aws):
    served = populate(oc, n=15, mpids=2)
    env.setenv("SQS_QUEUE_NAME", "actions.fifo")
    assert cli_run("useractions", *WINDOW, "-w", "0").exit_code == 0
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="actions.fifo")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])["Attributes"]["FifoQueue"] \
        == "true"
    seen = {}
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            body = json.loads(m["Body"])
            seen[body["action_id"]] = m["Attributes"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert set(seen) == served
    for action_id, attrs in seen.items():
        assert attrs["MessageDeduplicationId"] == str(action_id)
        assert attrs["MessageGroupId"] == "harvester-useractions"


# -- faults -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [server_error, truncated_json, slow(1.5)],
                         ids=["500", "truncated-json", "timeout"])
def test_transient_opencast_faults_are_retried(cli_run, env, oc, tmp_path, fault):
    env.setenv("HARVEST_HTTP_TIMEOUT", "1")
    served = populate(oc, n=25, mpids=3)
    oc.inject(fault, times=2, match=only("/usertracking/actions.json"))
    oc.inject(server_error, times=1, match=only("/search/episode.json"))
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", *WINDOW, "-b", "10", "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert {r["action_id"] for r in read_lines(out)} == served
    assert "retry 1/" in result.stderr


def test_persistent_failure_exits_1_and_keeps_checkpoint(cli_run, env, oc, tmp_path):
    populate(oc, n=25, mpids=3)
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    cp.parent.mkdir()
    cp.write_text("20261123140000")
    env.setenv("HARVEST_RETRY_ATTEMPTS", "3")
    # the first page works, then Opencast breaks for good
    oc.inject(lambda r: None, times=1, match=only("/usertracking/actions.json"))
    oc.inject(server_error, times=None, match=only("/usertracking/actions.json"))
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", "--end", format_compact(END), "-b", "10", "-w", "0", "-o", str(out))
    assert result.exit_code == 1
    assert "Opencast" in result.stderr and "HTTP 500" in result.stderr
    assert "Traceback" not in result.stderr
    assert cp.read_text() == "20261123140000"


def test_wrong_password_is_an_authentication_error(cli_run, env, oc):
    env.setenv("MATTERHORN_REST_PASS", "wrong-password-123")
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 1
    assert "credentials" in result.stderr
    assert "wrong-password-123" not in result.stderr + result.stdout


def test_login_page_is_reported_as_authentication_failure(cli_run, env, oc, monkeypatch):
    from werkzeug.wrappers import Response

    from tests.standins.opencast import LOGIN_PAGE

    oc.inject(lambda r: Response(LOGIN_PAGE, content_type="text/html"), times=None)
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 1
    assert "login page" in result.stderr


def test_sqs_entry_failures_are_retried_then_reported(cli_run, env, oc, tmp_path):
    served = populate(oc, n=30, mpids=2)
    sqs = SqsStandIn()
    sqs.start()
    try:
        env.setenv("AWS_ENDPOINT_URL_SQS", sqs.url)
        env.setenv("SQS_QUEUE_NAME", "actions")
        failures = {"left": 7}

        def flaky(entry):
            if failures["left"] > 0:
                failures["left"] -= 1
                return ("ServiceUnavailable", False)
            return None

        sqs.entry_fault = flaky
        result = cli_run("useractions", *WINDOW, "-w", "0")
        assert result.exit_code == 0, result.stderr
        assert {b["action_id"] for b in sqs.bodies("actions")} == served
        assert sqs.calls["SendMessageBatch"] <= -(-30 // 10) + 2
        cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
        assert cp.exists()

        # A permanent (sender) fault: exit 1, named ids, checkpoint unchanged.
        before = cp.read_text()
        sqs.entry_fault = lambda e: ("InvalidParameterValue", True) if '"action_id":3,' in e["MessageBody"] \
            else None
        oc.add_action(700, "mp-0", END - timedelta(seconds=1))
        result = cli_run("useractions", *WINDOW, "-w", "0")
        assert result.exit_code == 1
        assert "not delivered" in result.stderr and "3: InvalidParameterValue" in result.stderr
        assert cp.read_text() == before
    finally:
        sqs.stop()


def test_redis_down_warns_once_and_continues(cli_run, env, oc, tmp_path):
    from tests.conftest import free_port

    served = populate(oc, n=30, mpids=3)
    env.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", *WINDOW, "-b", "5", "-w", "0", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert {r["action_id"] for r in read_lines(out)} == served
    assert result.stderr.count("continuing without the shared episode cache") == 1
    assert oc.count("/search/episode.json", status=200) == 3


def test_s3_unreachable_exits_1_naming_s3(cli_run, env, oc, tmp_path):
    from tests.conftest import free_port

    populate(oc, n=5, mpids=1)
    env.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    env.setenv("S3_HARVEST_TS_BUCKET", "harvest-ts")
    env.setenv("S3_LAST_ACTION_TS_KEY", "last-action-ts")
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", "--end", format_compact(END), "-w", "0", "-o", str(out))
    assert result.exit_code == 1
    assert "S3" in result.stderr
    assert not out.exists() or out.read_text() == ""


# -- lock and span check ------------------------------------------------------------------------------

def test_second_run_exits_3_while_file_lock_is_held(cli_run, env, oc):
    from harvester.state.lock import file_lock

    with file_lock("useractions"):
        result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 3
    assert "another useractions run holds the lock" in result.stderr
    assert oc.count() == 0


def test_second_run_exits_3_while_redis_lock_is_held(cli_run, env, oc, redis_url):
    from harvester.state.lock import redis_lock

    env.setenv("REDIS_URL", redis_url)
    with redis_lock("useractions", redis_url):
        result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 3
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 0  # released


def test_span_check_exits_3_and_explains_both_remedies(cli_run, env, oc, tmp_path):
    env.setenv("MAX_START_END_SPAN", "600")
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 3
    assert "spans 3600 seconds" in result.stderr
    assert "--disable-start-end-span-check" in result.stderr and "deleting" in result.stderr
    # a span of more than a day counts in full (not just the seconds part)
    result = cli_run("useractions", "-s", "20261120000000", "-e", "20261120000500", "-w", "0", "-o", "-")
    assert result.exit_code == 0
    env.setenv("MAX_START_END_SPAN", "86400")
    result = cli_run("useractions", "-s", "20261120000000", "-e", "20261122000500", "-w", "0", "-o", "-")
    assert result.exit_code == 3
    result = cli_run("useractions", "-s", "20261120000000", "-e", "20261122000500", "-w", "0", "-o", "-",
                     "--disable-start-end-span-check")
    assert result.exit_code == 0


# -- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["--start", "2026-11-23"], "--start"),
    (["--start", "20261332000000"], "real date"),
    (["--batch-size", "-5"], "--batch-size"),
    (["--wait", "-1"], "--wait"),
    (["--interval", "abc"], "DEFAULT_INTERVAL"),
])
def test_bad_options_exit_2_with_a_message(cli_run, env, args, needle):
    result = cli_run("useractions", "-o", "-", *args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("var,value,needle", [
    ("MAX_START_END_SPAN", "lots", "MAX_START_END_SPAN"),
    ("OPENCAST_USERTRACKING_MODE", "sideways", "OPENCAST_USERTRACKING_MODE"),
    ("EPISODE_CACHE_EXPIRE", "-3", "EPISODE_CACHE_EXPIRE"),
    ("OPENCAST_AUTH", "kerberos", "OPENCAST_AUTH"),
])
def test_bad_settings_exit_2_naming_the_variable(cli_run, env, var, value, needle):
    env.setenv(var, value)
    result = cli_run("useractions", *WINDOW, "-o", "-")
    assert result.exit_code == 2
    assert needle in result.stderr


def test_missing_settings_name_option_and_variable(cli_run, monkeypatch):
    result = cli_run("useractions", "-o", "-")
    assert result.exit_code == 2
    assert "--engage-host" in result.stderr and "MATTERHORN_ENGAGE_HOST" in result.stderr
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", "engage.example.edu")
    monkeypatch.setenv("MATTERHORN_REST_USER", "u")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "p")
    result = cli_run("useractions")
    assert result.exit_code == 2
    assert "--queue-name" in result.stderr and "SQS_QUEUE_NAME" in result.stderr


def test_corrupt_checkpoint_is_explained(cli_run, env, oc, tmp_path):
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    cp.parent.mkdir()
    cp.write_text("yesterday")
    result = cli_run("useractions", "-w", "0", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2
    assert "not YYYYMMDDHHmmss" in result.stderr and "fix or delete" in result.stderr


def test_underscore_flags_of_the_original_work(cli_run, env, oc, monkeypatch):
    populate(oc, n=3, mpids=1)
    monkeypatch.delenv("MATTERHORN_ENGAGE_HOST")
    result = cli_run("useractions", "--engage_host", oc.url, *WINDOW, "-w", "0", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
