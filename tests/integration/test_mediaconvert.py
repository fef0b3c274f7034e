"""`harvest mediaconvert` through the CLI: boto3 over real HTTP to the strict stand-in.

The stand-in counts every request, so paging, re-polling and retries are asserted exactly;
its jobs can change between requests, which is how transitions between polls are tested.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.standins.mediaconvert import (  # noqa: F401
    Job,
    MediaConvertStandIn,
    error,
    mediaconvert,
    server_error,
    throttle,
)

JOBS = "/2017-08-29/jobs"
CHECKPOINT = Path(".harvest-state/mediaconvert")


def ago(**kw) -> datetime:
    return (datetime.now(UTC) - timedelta(**kw)).replace(microsecond=0)


def docs(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_id(text: str) -> dict[str, dict]:
    return {d["job_id"]: d for d in docs(text)}


def list_requests(standin: MediaConvertStandIn) -> int:
    return sum(1 for r in standin.requests if r.path == JOBS)


def get_requests(standin: MediaConvertStandIn) -> int:
    return sum(1 for r in standin.requests if r.path.startswith(JOBS + "/"))


def test_one_document_per_job_paging_stops_at_the_window(cli_run, mediaconvert):  # noqa: F811
    for i in range(25):
        mediaconvert.add(f"new{i:02d}", "COMPLETE", ago(minutes=50 - i), start=ago(minutes=49 - i),
                         finish=ago(minutes=48 - i))
    for i in range(30):
        mediaconvert.add(f"old{i:02d}", "COMPLETE", ago(days=3, minutes=i))
    result = cli_run("mediaconvert", "--since", "6h")
    assert result.exit_code == 0, result.stderr
    out = by_id(result.stdout)
    assert set(out) == {f"new{i:02d}" for i in range(25)}
    assert list_requests(mediaconvert) == 2  # 20 + (5 in the window, then an older one: stop)
    assert all(r.args["maxResults"] == "20" and r.args["order"] == "DESCENDING"
               for r in mediaconvert.requests)
    assert get_requests(mediaconvert) == 0
    assert out["new00"]["queued_duration"] == 60.0 and out["new00"]["progressing_duration"] == 60.0
    state = json.loads(CHECKPOINT.read_text())
    assert state["active"] == {} and state["last_poll"]
    assert "25 job(s), 25 document(s) written, 2 API request(s)" in result.stderr


def test_metrics_for_queued_progressing_complete_error_and_canceled(cli_run, mediaconvert):  # noqa: F811
    t = ago(minutes=30)
    mediaconvert.add("queued", "SUBMITTED", t)
    mediaconvert.add("running", "PROGRESSING", t, start=t + timedelta(minutes=10), percent=40,
                     phase="TRANSCODING", user_metadata={"mpid": "mp-1"})
    mediaconvert.add("done", "COMPLETE", t, start=t + timedelta(seconds=30), finish=t + timedelta(seconds=97),
                     percent=100, output_ms=[5000, 5040])
    mediaconvert.add("broken", "ERROR", t, start=t + timedelta(seconds=5), finish=t + timedelta(seconds=20),
                     error_code=1030, error_message="Unsupported codec")
    mediaconvert.add("stopped", "CANCELED", t, finish=t + timedelta(minutes=2))
    result = cli_run("mediaconvert", "--since", "1h")
    assert result.exit_code == 0, result.stderr
    out = by_id(result.stdout)
    assert out["queued"]["queued_duration"] >= 1800 and out["queued"]["progressing_duration"] is None
    run = out["running"]
    assert run["queued_duration"] == 600.0 and run["current_phase"] == "TRANSCODING"
    assert 1199 <= run["progressing_duration"] <= 1260
    # 40 % in ~1200 s: 60 % more takes ~1800 s at that rate
    assert run["est_time_remaining"] == pytest.approx(run["progressing_duration"] * 1.5, rel=0.01)
    assert run["user_metadata"] == {"mpid": "mp-1"} and run["queue"] == "Default"
    done = out["done"]
    assert (done["queued_duration"], done["progressing_duration"], done["total_duration"]) == \
        (30.0, 67.0, 97.0)
    assert done["est_time_remaining"] == 0.0 and done["output_duration_ms"] == 5040
    failed = out["broken"]
    assert (failed["error_code"], failed["error_message"]) == (1030, "Unsupported codec")
    assert failed["progressing_duration"] == 15.0 and failed["est_time_remaining"] is None
    stopped = out["stopped"]
    assert (stopped["queued_duration"], stopped["progressing_duration"], stopped["total_duration"]) == \
        (120.0, None, 120.0)
    assert "job broken failed: error 1030: Unsupported codec" in result.stderr
    state = json.loads(CHECKPOINT.read_text())
    assert set(state["active"]) == {"queued", "running"}


def test_active_jobs_are_polled_again_until_they_finish(cli_run, mediaconvert):  # noqa: F811
    job = mediaconvert.add("long", "PROGRESSING", ago(hours=2), start=ago(hours=2), percent=10)
    assert cli_run("mediaconvert").exit_code == 0  # default window: 24 h
    assert json.loads(CHECKPOINT.read_text())["active"] == {"long": {}}
    job.status, job.percent, job.finish = "COMPLETE", 100, ago(minutes=1)
    mediaconvert.reset_counters()
    result = cli_run("mediaconvert")
    assert result.exit_code == 0, result.stderr
    assert by_id(result.stdout)["long"]["status"] == "COMPLETE"
    assert get_requests(mediaconvert) == 1 and list_requests(mediaconvert) == 1
    assert json.loads(CHECKPOINT.read_text())["active"] == {}
    mediaconvert.reset_counters()
    result = cli_run("mediaconvert")
    assert result.exit_code == 0 and result.stdout == ""
    assert get_requests(mediaconvert) == 0


def test_a_finished_job_listed_by_two_polls_is_written_once(cli_run, mediaconvert):  # noqa: F811
    mediaconvert.add("fresh", "COMPLETE", ago(seconds=5), finish=ago(seconds=1))
    first = cli_run("mediaconvert", "-o", "jobs.jsonl")
    second = cli_run("mediaconvert", "-o", "jobs.jsonl")  # the window overlaps the first poll
    assert first.exit_code == second.exit_code == 0
    assert list_requests(mediaconvert) == 2
    assert [d["job_id"] for d in docs(Path("jobs.jsonl").read_text())] == ["fresh"]
    assert "0 job(s), 0 document(s) written" in second.stderr


def test_a_job_changing_status_between_listings_counts_once(cli_run, mediaconvert):  # noqa: F811
    job = mediaconvert.add("moving", "SUBMITTED", ago(minutes=5))

    def start_it(request):
        job.status, job.start, job.percent = "PROGRESSING", ago(seconds=1), 1
        return None  # let the request through, now that the job has moved on

    mediaconvert.inject(start_it, match=lambda r: r.args.get("status") == "PROGRESSING")
    result = cli_run("mediaconvert", "--status", "submitted", "--status", "PROGRESSING", "--since", "1h")
    assert result.exit_code == 0, result.stderr
    out = docs(result.stdout)
    assert [(d["job_id"], d["status"]) for d in out] == [("moving", "SUBMITTED"), ("moving", "PROGRESSING")]
    assert "1 job(s), 2 document(s) written" in result.stderr
    assert "(1 progressing)" in result.stderr


def test_status_filter_still_follows_active_jobs_to_their_end(cli_run, mediaconvert):  # noqa: F811
    job = mediaconvert.add("p1", "PROGRESSING", ago(hours=3), start=ago(hours=3), percent=50)
    mediaconvert.add("c1", "COMPLETE", ago(hours=1))
    first = cli_run("mediaconvert", "--status", "ERROR")
    assert first.exit_code == 0 and first.stdout == ""
    assert {r.args.get("status") for r in mediaconvert.requests} == {"SUBMITTED", "PROGRESSING", "ERROR"}
    job.status, job.error_code, job.error_message = "ERROR", 1040, "Output write failed"
    job.finish = ago(minutes=1)
    second = cli_run("mediaconvert", "--status", "ERROR")
    assert second.exit_code == 0, second.stderr
    assert [(d["job_id"], d["error_code"]) for d in docs(second.stdout)] == [("p1", 1040)]
    assert not CHECKPOINT.exists()  # a filtered run keeps its own checkpoint
    assert len(list(Path(".harvest-state").glob("mediaconvert-*"))) == 2  # checkpoint + lock file


def test_queue_filter(cli_run, mediaconvert, monkeypatch):  # noqa: F811
    mediaconvert.add("a", "COMPLETE", ago(minutes=3), queue="Default")
    mediaconvert.add("b", "COMPLETE", ago(minutes=2), queue="Lectures")
    monkeypatch.setenv("MEDIACONVERT_QUEUE", "Lectures")
    result = cli_run("mediaconvert", "--since", "1h")
    assert result.exit_code == 0, result.stderr
    assert list(by_id(result.stdout)) == ["b"]
    assert mediaconvert.requests[0].args["queue"] == "Lectures"


def test_throttling_is_retried(cli_run, mediaconvert):  # noqa: F811
    mediaconvert.add("a", "COMPLETE", ago(minutes=3))
    mediaconvert.inject(throttle, times=2)
    result = cli_run("mediaconvert", "--since", "1h")
    assert result.exit_code == 0, result.stderr
    assert list(by_id(result.stdout)) == ["a"]
    assert [r.status for r in mediaconvert.requests] == [429, 429, 200]


def test_a_failing_service_exits_1_and_keeps_the_checkpoint(cli_run, mediaconvert, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "3")
    mediaconvert.add("a", "COMPLETE", ago(minutes=3))
    CHECKPOINT.parent.mkdir()
    before = '{"active":{"x":{}},"done":[],"last_poll":"2026-11-24T00:00:00Z","version":1}'
    CHECKPOINT.write_text(before)
    mediaconvert.inject(server_error, times=None)
    result = cli_run("mediaconvert", "-o", "jobs.jsonl")
    assert result.exit_code == 1
    assert "MediaConvert: list_jobs" in result.stderr and "InternalServerErrorException" in result.stderr
    assert "Traceback" not in result.stderr
    assert list_requests(mediaconvert) == 3
    assert CHECKPOINT.read_text() == before


def test_a_vanished_active_job_is_dropped_with_a_warning(cli_run, mediaconvert):  # noqa: F811
    CHECKPOINT.parent.mkdir()
    CHECKPOINT.write_text('{"active":{"gone":{}},"last_poll":"' + ago(minutes=5).isoformat() + '"}')
    result = cli_run("mediaconvert")
    assert result.exit_code == 0, result.stderr
    assert "job gone is no longer known to MediaConvert" in result.stderr
    assert json.loads(CHECKPOINT.read_text())["active"] == {}


def test_watch_polls_until_no_job_is_active(cli_run, mediaconvert):  # noqa: F811
    job = mediaconvert.add("w1", "SUBMITTED", ago(minutes=10))

    def progress(j: Job) -> None:
        j.status, j.start, j.percent, j.phase = "PROGRESSING", ago(minutes=4), 50, "TRANSCODING"

    def finish(j: Job) -> None:
        j.status, j.finish, j.percent, j.phase = "COMPLETE", ago(seconds=1), 100, None

    mediaconvert.on_get["w1"] = [progress, finish]
    result = cli_run("mediaconvert", "--since", "1h", "--watch", "--interval", "0.1", "-o", "jobs.jsonl")
    assert result.exit_code == 0, result.stderr
    written = docs(Path("jobs.jsonl").read_text())
    assert [(d["status"], d["percent_complete"]) for d in written] == \
        [("SUBMITTED", None), ("PROGRESSING", 50), ("COMPLETE", 100)]
    assert written[1]["est_time_remaining"] == pytest.approx(240, abs=5)
    assert get_requests(mediaconvert) == 2 and list_requests(mediaconvert) == 3
    assert "poll 3: 1 job(s) (1 complete); 0 active" in result.stderr
    assert job.status == "COMPLETE"
    assert "\x1b[" not in result.stderr  # no terminal: log lines, not a live table


@pytest.mark.parametrize("args, message", [
    (["--since", "yesterday"], "--since"),
    (["--since", "2999-01-01"], "in the future"),
    (["--output", "sqs"], "--output"),
    (["--status", "DONE"], "--status"),
    (["--watch", "--interval", "0"], "--interval"),
])
def test_bad_options_exit_2(cli_run, mediaconvert, args, message):  # noqa: F811
    result = cli_run("mediaconvert", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert mediaconvert.requests == []


def test_missing_region_or_credentials_exit_2(cli_run, mediaconvert, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = cli_run("mediaconvert")
    assert result.exit_code == 2 and "AWS_REGION" in result.stderr
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # AWS_REGION alone is enough
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = cli_run("mediaconvert")
    assert result.exit_code == 2 and "no AWS credentials" in result.stderr
    assert mediaconvert.requests == []


def test_aws_region_alone_reaches_the_service(cli_run, mediaconvert, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = cli_run("mediaconvert")
    assert result.exit_code == 0, result.stderr
    assert "/eu-west-1/mediaconvert/aws4_request" in mediaconvert.requests[0].headers["Authorization"]


def test_secrets_never_appear_in_output(cli_run, mediaconvert, monkeypatch):  # noqa: F811
    secret = "Sup3rS3cretAwsKey/ForTesting+1234567890"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "SessionTokenValue-abcdef-123456")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "1")
    mediaconvert.add("a", "COMPLETE", ago(minutes=3))
    ok = cli_run("--log-level", "debug", "mediaconvert", "--since", "1h")
    mediaconvert.inject(server_error, times=None)
    failed = cli_run("--log-level", "debug", "mediaconvert", "--since", "1h")
    assert ok.exit_code == 0 and failed.exit_code == 1
    for text in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        assert secret not in text and "SessionTokenValue" not in text


def test_a_second_concurrent_run_is_skipped(cli_run, mediaconvert):  # noqa: F811
    from harvester.state.lock import file_lock

    with file_lock("mediaconvert"):
        result = cli_run("mediaconvert")
    assert result.exit_code == 3
    assert mediaconvert.requests == []


def test_doctor_check(mediaconvert, monkeypatch, tmp_path):  # noqa: F811
    from harvester.sources.mediaconvert import doctor_check

    [(name, status, detail)] = doctor_check()
    assert (name, status) == ("MediaConvert", "ok") and mediaconvert.url in detail
    mediaconvert.inject(lambda r: error("ForbiddenException", "User is not authorized", 403))
    [(name, status, detail)] = doctor_check()
    assert status == "failed" and "ForbiddenException" in detail and "testing" not in detail
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert doctor_check() == [("MediaConvert", "not configured", "no AWS region (set AWS_REGION)")]
    monkeypatch.delenv("AWS_ENDPOINT_URL_MEDIACONVERT")
    [(name, status, detail)] = doctor_check()
    assert status == "not configured" and "MEDIACONVERT_QUEUE" in detail


def test_no_update_checkpoint_and_a_corrupt_checkpoint_exits_2(cli_run, mediaconvert):  # noqa: F811
    mediaconvert.add("a", "SUBMITTED", ago(minutes=3))
    result = cli_run("mediaconvert", "--no-update-checkpoint")
    assert result.exit_code == 0 and list(by_id(result.stdout)) == ["a"]
    assert not CHECKPOINT.exists()
    CHECKPOINT.write_text("{not json")
    result = cli_run("mediaconvert")
    assert result.exit_code == 2
    assert "the checkpoint file .harvest-state/mediaconvert holds '{not json', which is not a " \
        "mediaconvert poll state" in result.stderr
    assert mediaconvert.requests[1:] == [] and CHECKPOINT.read_text() == "{not json"
    result = cli_run("mediaconvert", "--since", "1h")  # --since still needs a readable checkpoint
    assert result.exit_code == 2
