"""The archive in S3 (moto's server over real HTTP) and in a local directory, through boto3.

Concurrent writers, round trips through the CLI, S3 faults (unreachable, missing bucket,
503s from a flaky proxy in front of moto), and partial micro-batches.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import threading

import boto3
import pytest
import requests
from werkzeug.wrappers import Request, Response

from harvester.datasets import USERACTIONS, ZOOM_MEETINGS
from harvester.errors import DeliveryError
from harvester.sinks import open_sink
from harvester.sinks.archive import ArchiveSink, doctor_check, open_archive_sink, open_store
from harvester.sinks.jsonlines import dumps
from tests.conftest import free_port
from tests.standins.base import StandIn

BUCKET = "lake"


def actions(first: int, n: int, day: str = "2026-11-23") -> list[dict]:
    return [{"action_id": i, "timestamp": f"{day}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
             "mpid": f"mp-{i % 7}", "huid": str(10000 + i), "title": "Vorlesung ✓ \u2028 «x»",
             "action": {"type": "HEARTBEAT", "inpoint": i, "outpoint": i + 30, "is_playing": True},
             "episode": None if i % 5 == 0 else {"duration": 3_600_000, "ratio": 0.1 + i / 3}}
            for i in range(first, first + n)]


def lines(path) -> list[str]:
    """JSON lines of a file (split on newlines only: records may contain U+2028)."""
    return path.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.fixture
def s3(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def keys(client, prefix: str = "") -> list[str]:
    out = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return out


def test_s3_layout_metadata_and_byte_identical_round_trip(s3, cli_run, tmp_path):
    records = actions(1, 250) + actions(1000, 40, day="2026-11-24")
    sink = open_sink(str(tmp_path / "orig.jsonl"), USERACTIONS, {}, archive="s3://lake/harvest/")
    with sink:
        for start in range(0, len(records), 100):
            sink.write(records[start:start + 100])
    archive = sink.sinks[1]
    stored = keys(s3)
    part = archive.partition
    assert stored == [f"harvest/useractions/2026-11-23/{part}/{n:07d}.jsonl.gz" for n in range(3)] + \
        [f"harvest/useractions/2026-11-24/{part}/0000000.jsonl.gz"]
    head = s3.head_object(Bucket=BUCKET, Key=stored[0])
    assert head["Metadata"]["records"] == "100" and head["ContentType"] == "application/gzip"

    result = cli_run("replay", "s3://lake/harvest/", "--output", str(tmp_path / "replayed.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "replayed.jsonl").read_bytes() == (tmp_path / "orig.jsonl").read_bytes()

    day = cli_run("replay", "s3://lake/harvest/useractions/2026-11-24/", "--output", "-")
    assert day.exit_code == 0, day.stderr
    assert day.stdout == "".join(dumps(r) + "\n" for r in records[250:])


def test_wildcards_and_filters_on_s3(s3, cli_run):
    a = ArchiveSink(USERACTIONS, open_store("s3://lake/w/"))
    b = ArchiveSink(USERACTIONS, open_store("s3://lake/w/"))
    for day in ("2026-11-22", "2026-11-23", "2026-11-24"):
        a.write(actions(1, 3, day))
        b.write(actions(100, 2, day))
    c = ArchiveSink(ZOOM_MEETINGS, open_store("s3://lake/w/"))
    c.write([{"uuid": "z1", "start_time": "2026-11-23T10:00:00Z"}])
    in_order = [1, 2, 3, 100, 101] if a.partition < b.partition else [100, 101, 1, 2, 3]

    def ids(*args):
        result = cli_run("replay", *args)
        assert result.exit_code == 0, result.stderr
        docs = [json.loads(line) for line in result.stdout.split("\n")[:-1]]
        return [d.get("action_id", d.get("uuid")) for d in docs]

    writer_a = a.partition.split("-")[1]
    assert ids(f"s3://lake/w/useractions/2026-11-2[34]/*-{writer_a}/") == [1, 2, 3, 1, 2, 3]
    assert ids("s3://lake/w/*/2026-11-23/") == [*in_order, "z1"]  # datasets in name order
    assert ids("s3://lake/w/", "--dataset", "zoom_meetings") == ["z1"]
    assert ids("s3://lake/w/", "--dataset", "useractions", "--from", "2026-11-24") == in_order
    assert ids(f"s3://lake/w/useractions/2026-11-22/{b.partition}/0000000.jsonl.gz") == [100, 101]
    assert ids("s3://lake/w/useractions/2026-11-2") == []  # a prefix is read as a directory


def _thread_writer(target: str, first: int, batches: int, size: int, errors: list) -> None:
    try:
        sink = open_archive_sink(target, USERACTIONS, {})
        for b in range(batches):
            sink.write(actions(first + b * size, size))
        sink.close()
    except Exception as exc:  # pragma: no cover - reported by the assertion below
        errors.append(exc)


def _process_writer(target: str, first: int, batches: int, size: int) -> None:
    _thread_writer(target, first, batches, size, [])


def test_concurrent_writers_on_s3_never_collide(s3, cli_run, tmp_path):
    writers, batches, size = 6, 5, 40
    errors: list = []
    threads = [threading.Thread(target=_thread_writer,
                                args=("s3://lake/shared/", w * 10_000, batches, size, errors))
               for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = keys(s3, "shared/")
    assert len(stored) == writers * batches
    assert len({k.split("/")[3] for k in stored}) == writers  # one partition per writer

    out = tmp_path / "all.jsonl"
    result = cli_run("replay", "s3://lake/shared/", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["action_id"] for line in lines(out)]
    expected = {w * 10_000 + i for w in range(writers) for i in range(batches * size)}
    assert len(ids) == len(expected) and set(ids) == expected


def test_concurrent_writer_processes_in_one_directory(cli_run, tmp_path):
    target = f"dir:{tmp_path / 'arch'}"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_process_writer, args=(target, w * 10_000, 8, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    out = tmp_path / "all.jsonl"
    result = cli_run("replay", target, "--output", str(out))
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["action_id"] for line in lines(out)]
    assert sorted(ids) == sorted(w * 10_000 + i for w in range(4) for i in range(200))


def test_missing_bucket_fails_write_and_replay_naming_it(aws, cli_run):
    sink = open_archive_sink("s3://no-such-bucket/x/", USERACTIONS, {})
    with pytest.raises(DeliveryError) as err:
        sink.write(actions(1, 3))
    assert "bucket no-such-bucket does not exist" in str(err.value)
    assert [rid for rid, _ in err.value.failed] == ["1", "2", "3"]
    assert sink.delivered == 0

    result = cli_run("replay", "s3://no-such-bucket/x/")
    assert result.exit_code == 1
    assert "S3" in result.stderr and "bucket no-such-bucket does not exist" in result.stderr
    assert result.stdout == ""


def test_unreachable_s3_exits_1_after_retries(monkeypatch, cli_run):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    result = cli_run("replay", "s3://lake/harvest/")
    assert result.exit_code == 1
    assert "S3" in result.stderr and "Traceback" not in result.stderr
    sink = open_archive_sink("s3://lake/harvest/", USERACTIONS, {})
    with pytest.raises(DeliveryError, match="archive:s3://lake/harvest/"):
        sink.write(actions(1, 2))


class FlakyS3(StandIn):
    """Forwards to moto; a test injects 503 SlowDown answers in front of it."""

    def __init__(self, upstream: str):
        super().__init__()
        self.upstream = upstream

    def handle(self, request: Request) -> Response:
        url = self.upstream + request.full_path.rstrip("?")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        up = requests.request(request.method, url, headers=headers, data=request.get_data(), timeout=10)
        drop = {"content-length", "transfer-encoding", "connection", "content-encoding", "server", "date"}
        return Response(up.content, status=up.status_code,
                        headers=[(k, v) for k, v in up.headers.items() if k.lower() not in drop])


def slow_down(request: Request) -> Response:
    return Response("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
                    "</Error>", status=503, content_type="application/xml")


@pytest.fixture
def flaky(s3, aws, monkeypatch):
    proxy = FlakyS3(aws)
    proxy.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    yield proxy
    proxy.stop()


def test_s3_503s_are_retried_on_write_list_and_read(flaky, cli_run, tmp_path):
    flaky.inject(slow_down, times=2, match=lambda r: r.method == "PUT")
    sink = open_archive_sink("s3://lake/h/", USERACTIONS, {})
    sink.write(actions(1, 30))
    sink.write(actions(31, 30))
    assert sink.delivered == 60 and sink.batches == 2
    assert flaky.count("/lake/h/", method="PUT") == 4  # 2 refused + 2 accepted

    flaky.reset_counters()
    flaky.inject(slow_down, times=1, match=lambda r: r.method == "GET" and "list-type" in r.args)
    flaky.inject(slow_down, times=1, match=lambda r: r.method == "GET" and r.path.endswith(".jsonl.gz"))
    result = cli_run("replay", "s3://lake/h/", "--output", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert len(lines(tmp_path / "out.jsonl")) == 60
    gets = [r for r in flaky.requests if r.path.endswith(".jsonl.gz")]
    assert len(gets) == 3 and sorted(r.status for r in gets) == [200, 200, 503]


def test_s3_503_forever_fails_the_write(flaky, monkeypatch):
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "3")
    flaky.inject(slow_down, times=None, match=lambda r: r.method == "PUT")
    sink = open_archive_sink("s3://lake/h/", USERACTIONS, {})
    with pytest.raises(DeliveryError, match="SlowDown"):
        sink.write(actions(1, 5))
    assert flaky.count("/lake/h/", method="PUT") == 3
    assert sink.delivered == 0


def test_partial_objects_in_s3_are_reported_never_half_delivered(s3, cli_run, tmp_path):
    sink = ArchiveSink(ZOOM_MEETINGS, open_store("s3://lake/a/"))
    for n in range(3):
        sink.write([{"uuid": f"m{n}-{i}", "start_time": "2026-11-23T10:00:00Z"} for i in range(20)])
    stored = keys(s3, "a/")
    # A copy cut short by some other tool, and an object whose writer declared more records.
    body = s3.get_object(Bucket=BUCKET, Key=stored[1])["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=stored[1], Body=body[: len(body) // 2], Metadata={"records": "20"})
    short = gzip.compress("".join(json.dumps({"uuid": f"x{i}"}) + "\n" for i in range(5)).encode())
    s3.put_object(Bucket=BUCKET, Key=stored[2], Body=short, Metadata={"records": "20"})

    out = tmp_path / "out.jsonl"
    result = cli_run("replay", "s3://lake/a/", "--output", str(out))
    assert result.exit_code == 1
    assert f"{stored[1]}: truncated micro-batch" in result.stderr
    assert f"{stored[2]}: incomplete micro-batch: 5 records, its writer declared 20" in result.stderr
    assert "2 micro-batch(es) partial or missing" in result.stderr
    assert [json.loads(line)["uuid"] for line in lines(out)] == \
        [f"m0-{i}" for i in range(20)]

    again = cli_run("replay", "s3://lake/a/", "--output", str(tmp_path / "again.jsonl"), "--skip-partial")
    assert again.exit_code == 0 and "truncated micro-batch" in again.stderr


def test_doctor_check_s3(s3, aws, monkeypatch):
    monkeypatch.setenv("HARVEST_ARCHIVE", "s3://lake/harvest/")
    assert doctor_check() == [("archive", "ok", "s3://lake/harvest/ is readable")]
    monkeypatch.setenv("HARVEST_ARCHIVE", "s3://missing-bucket/harvest/")
    ((name, status, detail),) = doctor_check()
    assert (name, status) == ("archive", "failed") and "missing-bucket does not exist" in detail


def test_doctor_check_local(tmp_path, monkeypatch):
    assert doctor_check() == [("archive", "not configured", "HARVEST_ARCHIVE is not set")]
    monkeypatch.setenv("HARVEST_ARCHIVE", f"dir:{tmp_path}/new/arch")
    assert doctor_check() == [("archive", "ok", f"dir:{tmp_path}/new/arch is writable")]
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("HARVEST_ARCHIVE", f"dir:{tmp_path}/file")
    assert doctor_check()[0][1] == "failed"
    monkeypatch.setenv("HARVEST_ARCHIVE", "ftp://nope")
    assert doctor_check()[0][1] == "failed"
