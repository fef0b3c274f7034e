"""Replay into SQS (moto and the SQS stand-in) and Elasticsearch (the stand-in), and end to end:
a day replayed from the archive equals what the original harvest delivered.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from harvester.datasets import EPISODES, USERACTIONS, ZOOM_MEETINGS
from harvester.sinks.archive import ArchiveSink, LocalStore, open_store
from harvester.sinks.jsonlines import dumps
from harvester.timeutil import format_compact
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.opencast import oc  # noqa: F401
from tests.standins.sqs import SqsStandIn, drain_bodies


def actions(first: int, n: int, day: str = "2026-11-23") -> list[dict]:
    return [{"action_id": i, "timestamp": f"{day}T10:{i % 60:02d}:00Z", "mpid": f"mp-{i % 3}",
             "session_id": "s", "huid": str(i), "useragent": "Mozilla/5.0", "ip": "10.0.0.1", "is_live": 0,
             "action": {"type": "PLAY", "inpoint": i, "outpoint": i + 1, "length": 1, "is_playing": True},
             "episode": None} for i in range(first, first + n)]


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "arch"
    sink = ArchiveSink(USERACTIONS, LocalStore(str(root)))
    sink.write(actions(1, 45))
    sink.write(actions(500, 5, day="2026-11-24"))
    return root


# -- SQS ----------------------------------------------------------------------------------------

def test_replay_into_moto_sqs_delivers_identical_bodies(aws, archive, cli_run):
    boto3.client("sqs").create_queue(QueueName="refill")
    result = cli_run("replay", f"dir:{archive}", "--date", "2026-11-23", "-o", "sqs", "-q", "refill")
    assert result.exit_code == 0, result.stderr
    bodies = drain_bodies("refill")
    assert sorted(bodies) == sorted(dumps(r) for r in actions(1, 45))


@pytest.fixture
def sqs(monkeypatch):
    server = SqsStandIn()
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.url)
    monkeypatch.setenv("SQS_QUEUE_NAME", "refill")
    server.queues["refill"] = []
    yield server
    server.stop()


def test_replay_into_sqs_batches_by_ten_and_retries_entry_faults(sqs, archive, cli_run):
    left = {"n": 6}

    def flaky(entry):
        if left["n"] > 0:
            left["n"] -= 1
            return ("ServiceUnavailable", False)
        return None

    sqs.entry_fault = flaky
    result = cli_run("replay", f"dir:{archive}", "--dataset", "useractions", "-o", "sqs")
    assert result.exit_code == 0, result.stderr
    assert sorted(b["action_id"] for b in sqs.bodies("refill")) == list(range(1, 46)) + list(range(500, 505))
    assert sqs.calls["SendMessageBatch"] <= math.ceil(50 / 10) + 1  # the failed entries go in one retry


def test_replay_into_sqs_with_a_permanent_fault_exits_1_naming_the_record(sqs, archive, cli_run):
    sqs.entry_fault = lambda e: ("InvalidParameterValue", True) if '"action_id":7,' in e["MessageBody"] \
        else None
    result = cli_run("replay", f"dir:{archive}", "-o", "sqs")
    assert result.exit_code == 1
    assert "not delivered" in result.stderr and "7: InvalidParameterValue" in result.stderr
    assert 7 not in {b["action_id"] for b in sqs.bodies("refill")}


# -- Elasticsearch ------------------------------------------------------------------------------

@pytest.fixture
def mixed(tmp_path):
    """Zoom meetings over two days and episodes, as two harvests would have archived them."""
    root = tmp_path / "mixed"
    z = ArchiveSink(ZOOM_MEETINGS, LocalStore(str(root)))
    z.write([{"uuid": f"m{i}==", "start_time": f"2026-11-2{3 + i % 2}T09:00:00Z", "topic": f"Lecture {i}",
              "duration": 50 + i} for i in range(30)])
    e = ArchiveSink(EPISODES, LocalStore(str(root)))
    e.write([{"mpid": f"mp-{i}", "start": "2026-11-20T14:00:00Z", "title": f"E{i}"} for i in range(12)])
    return root


def test_replay_into_elasticsearch_uses_bulk_and_record_dates(es_standin, mixed, cli_run):  # noqa: F811
    result = cli_run("replay", f"dir:{mixed}", "-o", "es", "-b", "10")
    assert result.exit_code == 0, result.stderr
    assert es_standin.ids("zoom-meetings-2026.11.23") == {f"m{i}==" for i in range(0, 30, 2)}
    assert es_standin.ids("zoom-meetings-2026.11.24") == {f"m{i}==" for i in range(1, 30, 2)}
    assert es_standin.ids("episodes") == {f"mp-{i}" for i in range(12)}
    assert es_standin.doc("episodes", "mp-3")["title"] == "E3"
    assert es_standin.doc_requests == 0
    assert es_standin.bulk_requests == 2 + 3  # episodes 10+2, zoom meetings 10+10+10

    again = cli_run("replay", f"dir:{mixed}", "-o", "es", "--es-host", es_standin.url)
    assert again.exit_code == 0
    assert len(es_standin.docs("zoom-meetings-*")) == 30  # same ids: overwritten, not duplicated


def test_replay_into_elasticsearch_survives_503_and_429(es_standin, mixed, cli_run):  # noqa: F811
    es_standin.inject_unavailable(times=2, path_prefix="/_bulk")
    es_standin.inject_item_error(times=3, match=lambda index, id_: id_ in {"m4==", "m5=="})
    result = cli_run("replay", f"dir:{mixed}", "--dataset", "zoom_meetings", "-o", "es")
    assert result.exit_code == 0, result.stderr
    assert es_standin.ids("zoom-meetings-*") == {f"m{i}==" for i in range(30)}


def test_replay_into_elasticsearch_that_stays_down_exits_1(es_standin, mixed, cli_run,  # noqa: F811
                                                           monkeypatch):
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    es_standin.inject_unavailable(times=None)
    result = cli_run("replay", f"dir:{mixed}", "--dataset", "zoom_meetings", "-o", "es")
    assert result.exit_code == 1
    assert "elasticsearch" in result.stderr.lower() and "Traceback" not in result.stderr
    assert "replay stopped after delivering 0 records; last micro-batch read: " in result.stderr
    assert es_standin.ids("zoom-meetings-*") == set()


def test_a_permanent_item_error_stops_the_replay_naming_the_document(es_standin, mixed,  # noqa: F811
                                                                     cli_run):
    es_standin.inject_item_error(times=None, status=400, error_type="mapper_parsing_exception",
                                 reason="failed to parse", match=lambda index, id_: id_ == "m17==")
    result = cli_run("replay", f"dir:{mixed}", "-o", "es", "-b", "10")
    assert result.exit_code == 1
    assert "m17==" in result.stderr and "mapper_parsing_exception" in result.stderr
    assert "replay stopped after delivering" in result.stderr
    assert es_standin.ids("episodes") == {f"mp-{i}" for i in range(12)}  # delivered before the failure
    assert "m17==" not in es_standin.ids("zoom-meetings-*")


# -- end to end: a harvest with --archive, then replay of its day --------------------------------

START = datetime(2026, 11, 23, 23, 0, 0, tzinfo=UTC)  # the window crosses midnight
END = START + timedelta(hours=2)
WINDOW = ["--start", format_compact(START), "--end", format_compact(END), "-w", "0", "-b", "10"]


@pytest.fixture
def seeded(oc):
    server = oc
    for i in range(60):
        server.add_action(i + 1, f"mp-{i % 4}", START + timedelta(seconds=30 + i * 110), user=str(20000 + i))
    for m in range(3):
        server.add_episode(f"mp-{m}", title=f"Lecture {m}", series="20260112345")
    return server


def test_replay_of_a_day_equals_what_the_harvest_delivered(seeded, cli_run, tmp_path):
    out = tmp_path / "delivered.jsonl"
    harvest = cli_run("useractions", *WINDOW, "-o", str(out), "--archive", f"dir:{tmp_path / 'arch'}")
    assert harvest.exit_code == 0, harvest.stderr
    delivered = out.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(delivered) == 60
    by_day: dict[str, set[str]] = {}
    for line in delivered:
        by_day.setdefault(json.loads(line)["timestamp"][:10], set()).add(line)
    assert set(by_day) == {"2026-11-23", "2026-11-24"}

    for day, expected in by_day.items():
        replay = cli_run("replay", f"dir:{tmp_path / 'arch'}", "--dataset", "useractions", "--date", day)
        assert replay.exit_code == 0, replay.stderr
        assert set(replay.stdout.splitlines()) == expected  # byte for byte, record by record
        assert len(replay.stdout.splitlines()) == len(expected)


def test_harvest_to_sqs_with_s3_archive_then_refill_another_queue(seeded, aws, cli_run):
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="actions")
    sqs.create_queue(QueueName="refill")
    boto3.client("s3").create_bucket(Bucket="lake")
    harvest = cli_run("useractions", *WINDOW, "-q", "actions", "--archive", "s3://lake/harvest/")
    assert harvest.exit_code == 0, harvest.stderr
    original = drain_bodies("actions")
    assert len(original) == 60

    replay = cli_run("replay", "s3://lake/harvest/", "--dataset", "useractions", "--from", "2026-11-23",
                     "--to", "2026-11-24", "-o", "sqs", "-q", "refill")
    assert replay.exit_code == 0, replay.stderr
    assert sorted(drain_bodies("refill")) == sorted(original)
    store = open_store("s3://lake/harvest/")
    dirs, _ = store.children("harvest/useractions")
    assert dirs == ["2026-11-23", "2026-11-24"]


def test_replayed_useractions_reach_elasticsearch_through_the_pipeline(seeded, es_standin, cli_run,  # noqa: F811
                                                                       tmp_path):
    assert cli_run("setup", "load-index-templates").exit_code == 0
    out = tmp_path / "delivered.jsonl"
    harvest = cli_run("useractions", *WINDOW, "-o", str(out), "--archive", f"dir:{tmp_path / 'arch'}")
    assert harvest.exit_code == 0, harvest.stderr
    delivered = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n")[:-1]]

    replay = cli_run("replay", f"dir:{tmp_path / 'arch'}", "-o", "es")
    assert replay.exit_code == 0, replay.stderr
    for day in ("2026-11-23", "2026-11-24"):
        expected = {str(r["action_id"]) for r in delivered if r["timestamp"].startswith(day)}
        assert expected and es_standin.ids(f"useractions-{day.replace('-', '.')}") == expected
    first = delivered[0]
    index = f"useractions-{first['timestamp'][:10].replace('-', '.')}"
    assert es_standin.pipeline_of(index, str(first["action_id"])) == "harvester-useractions"
    assert es_standin.doc_requests == 0


def test_secrets_never_appear_in_replay_output(archive, cli_run, monkeypatch):
    from tests.conftest import free_port

    secrets = ["Es-Pa55word-x9", "Aws-Secret-Key-x9"]
    monkeypatch.setenv("ES_USER", "elastic")
    monkeypatch.setenv("ES_PASSWORD", secrets[0])
    monkeypatch.setenv("ES_HOST", f"http://elastic:{secrets[0]}@127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secrets[1])
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "1")
    runs = [cli_run("--log-level", "debug", "replay", f"dir:{archive}", "-o", "es"),
            cli_run("--log-level", "debug", "replay", "s3://lake/harvest/"),
            cli_run("--log-level", "debug", "replay", f"dir:{archive}", "-o", "s3://lake/copy/")]
    assert [r.exit_code for r in runs] == [1, 1, 1]
    for r in runs:
        for secret in secrets:
            assert secret not in r.stdout and secret not in r.stderr
