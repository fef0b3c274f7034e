"""`harvest logs aggregate` through the CLI: inputs (files, dirs, globs, gz, S3 over moto's
server), outputs (stdout, .jsonl, .parquet, Elasticsearch stand-in, archive), bad input, faults.
"""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from tests.conftest import DATA, free_port
from tests.standins.elasticsearch import es_standin  # noqa: F401

SAMPLE = DATA / "player-logs" / "goonhilly-log-sample"
SAMPLE_STREAMS = 567  # distinct stream keys among the sample's 1,341 keyed events


def records_of(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines()]


@pytest.fixture
def split_sample(tmp_path):
    """The sample split into a plain file and a gzip file in nested directories."""
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    (tmp_path / "logs" / "day2").mkdir(parents=True)
    (tmp_path / "logs" / "part1.log").write_bytes(b"".join(lines[:2500]))
    (tmp_path / "logs" / "day2" / "part2.log.gz").write_bytes(gzip.compress(b"".join(lines[2500:])))
    return tmp_path / "logs"


def test_stdout_is_json_lines_only_and_counters_are_logged(cli_run):
    result = cli_run("logs", "aggregate", str(SAMPLE))
    assert result.exit_code == 0, result.stderr
    records = records_of(result.stdout)
    assert len(records) == SAMPLE_STREAMS
    assert len({r["stream_id"] for r in records}) == SAMPLE_STREAMS
    assert all(r["stream_id"] == f"{r['tracking_id']}-{r['earliest_time'][:10]}" for r in records)
    assert sum(r["events"] for r in records) == 1341
    first = records[0]
    assert first["tracking_id"] == "7c575311-c94b-fa72-6419-61862e36c687"
    assert first["title"] == "Breathless: Episode 1" and first["earliest_time"] == "2014-09-02T17:20:54.184Z"
    summary = "5000 line(s): 1341 event(s), 0 unparsable, 0 bad data, 3659 keyless; 567 stream(s)"
    assert summary in result.stderr
    assert "MB/s" in result.stderr


def test_dirs_globs_and_gzip_give_the_same_summaries(cli_run, split_sample):
    whole = records_of(cli_run("logs", "aggregate", str(SAMPLE)).stdout)
    by_dir = cli_run("logs", "aggregate", str(split_sample))
    assert by_dir.exit_code == 0, by_dir.stderr
    assert records_of(by_dir.stdout) == whole
    by_glob = cli_run("logs", "aggregate", str(split_sample / "*.log"), str(split_sample / "**" / "*.gz"))
    assert records_of(by_glob.stdout) == whole


def test_jsonl_appends_and_parquet_is_written(cli_run, tmp_path):
    out = tmp_path / "streams.jsonl"
    for _ in range(2):
        assert cli_run("logs", "aggregate", str(SAMPLE), "-o", str(out)).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * SAMPLE_STREAMS
    pq = tmp_path / "videos.parquet"
    result = cli_run("logs", "aggregate", str(SAMPLE), "--by", "video", "-o", str(pq))
    assert result.exit_code == 0, result.stderr
    import duckdb

    rows = duckdb.connect().execute(
        f"SELECT count(*), sum(streams), count(DISTINCT video_id) FROM read_parquet('{pq}')").fetchone()
    assert rows[0] == rows[2] and rows[1] == SAMPLE_STREAMS
    streams = records_of(cli_run("logs", "aggregate", str(SAMPLE), "--by", "video").stdout)
    assert len(streams) == rows[0]


def test_archive_receives_every_record(cli_run, tmp_path):
    result = cli_run("logs", "aggregate", str(SAMPLE), "-o", str(tmp_path / "x.parquet"),
                     "--archive", f"dir:{tmp_path / 'archive'}")
    assert result.exit_code == 0, result.stderr
    archived = set()
    for path in (tmp_path / "archive").rglob("*.gz"):
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            archived.add(json.loads(line)["stream_id"])
    assert len(archived) == SAMPLE_STREAMS


@pytest.mark.parametrize("args, needle", [
    (["/nonexistent/file.log"], "'INPUT...'"),
    (["{sample}", "-o", "out.csv"], "'--output'"),
    (["{sample}", "--engine", "hadoop"], "'--engine'"),
    (["{sample}", "--by", "viewer"], "'--by'"),
    (["{sample}", "--archive", "out.jsonl"], "'--archive'"),
    (["{sample}", "--memory-limit", "lots"], "LOGS_DUCKDB_MEMORY"),
    ([], "Missing argument"),
])
def test_bad_input_exits_2_naming_the_option(cli_run, args, needle):
    result = cli_run("logs", "aggregate", *[a.format(sample=SAMPLE) for a in args])
    assert result.exit_code == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_memory_limit_from_the_environment_is_checked(cli_run, monkeypatch):
    monkeypatch.setenv("LOGS_DUCKDB_MEMORY", "12 parsecs")
    result = cli_run("logs", "aggregate", str(SAMPLE))
    assert result.exit_code == 2 and "LOGS_DUCKDB_MEMORY" in result.stderr


def test_an_empty_directory_is_nothing_to_do(cli_run, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli_run("logs", "aggregate", str(tmp_path / "empty"))
    assert result.exit_code == 0 and result.stdout == ""
    assert "nothing to aggregate" in result.stderr


def test_unparsable_and_bad_lines_never_fail_the_run(cli_run, tmp_path):
    path = tmp_path / "mixed.log"
    path.write_bytes(SAMPLE.read_bytes()[:20000] + b"\n\xff\xfe garbage\nnot a line\n"
                     b"2014-09-02 17:20:54 x_tracking_id=abc x_tpmid=1 x_buffering_length=-3\n")
    result = cli_run("logs", "aggregate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "2 unparsable (1 no-timestamp, 1 not-utf8), 1 bad data" in result.stderr


# -- S3 (moto server over real HTTP) ---------------------------------------------------------

def test_s3_prefix_is_listed_and_read_through_boto3(cli_run, aws, split_sample):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="player-logs")
    s3.upload_file(str(split_sample / "part1.log"), "player-logs", "goonhilly/2014-09-02/part1.log")
    s3.upload_file(str(split_sample / "day2" / "part2.log.gz"), "player-logs",
                   "goonhilly/2014-09-02/part2.log.gz")
    s3.put_object(Bucket="player-logs", Key="goonhilly/2014-09-02/_SUCCESS", Body=b"")
    s3.put_object(Bucket="player-logs", Key="goonhilly/2014-09-02-old/other.log", Body=b"ignored x=1\n")
    result = cli_run("logs", "aggregate", "s3://player-logs/goonhilly/2014-09-02")
    assert result.exit_code == 0, result.stderr
    assert records_of(result.stdout) == records_of(cli_run("logs", "aggregate", str(SAMPLE)).stdout)
    assert "2 file(s)" in result.stderr


def test_s3_missing_bucket_and_unreachable_endpoint_exit_1(cli_run, aws, monkeypatch):
    result = cli_run("logs", "aggregate", "s3://no-such-bucket/logs/")
    assert result.exit_code == 1 and "s3" in result.stderr and "NoSuchBucket" in result.stderr
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = cli_run("logs", "aggregate", "s3://player-logs/logs/")
    assert result.exit_code == 1 and "s3" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- Elasticsearch (stand-in) ----------------------------------------------------------------

def test_es_output_dated_indexes_and_ids(cli_run, es_standin):  # noqa: F811
    assert cli_run("setup", "load-index-templates").exit_code == 0
    result = cli_run("logs", "aggregate", str(SAMPLE), "-o", "es")
    assert result.exit_code == 0, result.stderr
    ids = es_standin.ids("player-streams-*")
    assert len(ids) == SAMPLE_STREAMS
    assert es_standin.index_names() == ["player-streams-2014.09.02"]
    doc = es_standin.doc("player-streams-2014.09.02", "7c575311-c94b-fa72-6419-61862e36c687-2014-09-02")
    assert doc["media_id"] == "2365304868"
    assert es_standin.doc_requests == 0 and es_standin.bulk_requests >= 1
    # a re-run overwrites the same documents
    assert cli_run("logs", "aggregate", str(SAMPLE), "-o", "es").exit_code == 0
    assert len(es_standin.ids("player-streams-*")) == SAMPLE_STREAMS


def test_es_outage_is_retried_then_delivered(cli_run, es_standin):  # noqa: F811
    es_standin.inject_unavailable(times=2, path_prefix="/_bulk")
    result = cli_run("logs", "aggregate", str(SAMPLE), "--by", "video", "-o", "es")
    assert result.exit_code == 0, result.stderr
    videos = records_of(cli_run("logs", "aggregate", str(SAMPLE), "--by", "video").stdout)
    assert es_standin.ids("player-videos-*") == {v["video_id"] for v in videos}


def test_es_down_exits_1(cli_run, es_standin):  # noqa: F811
    es_standin.inject_unavailable(times=None, path_prefix="/_bulk")
    result = cli_run("logs", "aggregate", str(SAMPLE), "-o", "es")
    assert result.exit_code == 1 and "elasticsearch" in result.stderr.lower()


# -- doctor ------------------------------------------------------------------------------------

def test_doctor_check_reports_both_engines(monkeypatch):
    from harvester.aggregate import doctor_check

    checks = dict((name, (status, detail)) for name, status, detail in doctor_check())
    assert checks["logs engine duckdb"][0] == "ok"
    assert checks["logs engine spark"][0] in ("ok", "not configured")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    status, detail = dict((n, (s, d)) for n, s, d in doctor_check())["logs engine spark"]
    assert status == "not configured" and ("Java" in detail or "pyspark" in detail)


def test_spark_engine_without_java_is_a_usage_error(cli_run, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    result = cli_run("logs", "aggregate", str(SAMPLE), "--engine", "spark")
    assert result.exit_code == 2 and "'--engine'" in result.stderr


def test_cluster_only_uris_need_the_spark_engine(cli_run):
    result = cli_run("logs", "aggregate", "gs://bucket/player-logs/")
    assert result.exit_code == 2 and "--engine spark" in result.stderr
