"""`harvest mediaconvert --events-queue`: EventBridge events from moto's SQS server.

Events add decoded-frame counts and decode rates, and name jobs that changed between polls.
A message is deleted only after the document it fed was written; anything else stays.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.test_mediaconvert import CHECKPOINT, ago, by_id, get_requests
from tests.standins.mediaconvert import mediaconvert, queue_arn  # noqa: F401

QUEUE = "mc-events"


def event(job_id: str, status: str, when: datetime, queue: str = "Default", **detail) -> str:
    return json.dumps({
        "version": "0", "id": f"{job_id}-{status}-{when.timestamp()}",
        "detail-type": "MediaConvert Job State Change", "source": "aws.mediaconvert",
        "account": "123456789012", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
        "resources": [f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{job_id}"],
        "detail": {"timestamp": int(when.timestamp() * 1000), "accountId": "123456789012",
                   "queue": queue_arn(queue), "jobId": job_id, "status": status,
                   "userMetadata": {}, **detail}})


@pytest.fixture
def sqs(aws):
    import boto3

    client = boto3.client("sqs")
    url = client.create_queue(QueueName=QUEUE)["QueueUrl"]
    return client, url


def counts(sqs) -> tuple[int, int]:
    client, url = sqs
    attrs = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def send(sqs, *bodies: str) -> None:
    client, url = sqs
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body)


def test_events_add_frames_and_decode_rate_and_catch_jobs_outside_the_window(cli_run, sqs, mediaconvert):  # noqa: F811
    start = ago(seconds=200)
    job = mediaconvert.add("run", "PROGRESSING", ago(minutes=5), start=start, percent=40, phase="TRANSCODING")
    mediaconvert.add("old", "COMPLETE", ago(days=3), start=ago(days=3), finish=ago(minutes=1))
    send(sqs,
         event("run", "PROGRESSING", start),
         event("run", "STATUS_UPDATE", start + timedelta(seconds=100), framesDecoded=3000,
               jobProgress={"phaseProgress": {}, "jobPercentComplete": 40, "currentPhase": "TRANSCODING"}),
         event("run", "STATUS_UPDATE", start + timedelta(seconds=50), framesDecoded=1000),  # late delivery
         event("old", "COMPLETE", ago(minutes=1)),
         "this is not an event")
    result = cli_run("mediaconvert", "--since", "1h", "--events-queue", QUEUE)
    assert result.exit_code == 0, result.stderr
    out = by_id(result.stdout)
    assert out["run"]["frames_decoded"] == 3000
    assert out["run"]["decode_rate"] == 30.0  # 3000 frames in the first 100 s of transcoding
    assert out["run"]["last_event_status"] == "STATUS_UPDATE"
    assert out["old"]["status"] == "COMPLETE"  # created long before the window: found by its event
    assert "frames_decoded" not in out["old"]
    assert get_requests(mediaconvert) == 1  # only "old"; "run" came with the listing
    assert counts(sqs) == (0, 1)  # the four events are deleted; the stray message waits for its DLQ
    assert "1 message(s) in mc-events are not MediaConvert job events" in result.stderr
    assert json.loads(CHECKPOINT.read_text())["active"]["run"]["frames_decoded"] == 3000

    # The job finishes; no new events: its final document keeps the last frame count seen.
    job.status, job.finish, job.percent = "COMPLETE", ago(seconds=1), 100
    result = cli_run("mediaconvert", "--events-queue", QUEUE)
    assert result.exit_code == 0, result.stderr
    final = by_id(result.stdout)["run"]
    assert (final["status"], final["frames_decoded"], final["decode_rate"]) == ("COMPLETE", 3000, 30.0)
    assert json.loads(CHECKPOINT.read_text())["active"] == {}


def test_messages_stay_when_the_documents_could_not_be_written(cli_run, sqs, mediaconvert):  # noqa: F811
    mediaconvert.add("run", "PROGRESSING", ago(minutes=5), start=ago(minutes=4), percent=10)
    send(sqs, event("run", "STATUS_UPDATE", ago(minutes=1), framesDecoded=500),
         event("run", "PROGRESSING", ago(minutes=4)))
    result = cli_run("mediaconvert", "--since", "1h", "--events-queue", QUEUE, "-o", "no/such/dir/jobs.jsonl")
    assert result.exit_code == 1
    assert "cannot open output file" in result.stderr
    assert counts(sqs) == (0, 2)  # received, not deleted: they come back after the visibility timeout
    assert not CHECKPOINT.exists()


def test_events_of_other_queues_are_not_fetched(cli_run, sqs, mediaconvert):  # noqa: F811
    mediaconvert.add("mine", "COMPLETE", ago(days=2), queue="Lectures")
    mediaconvert.add("theirs", "COMPLETE", ago(days=2), queue="Default")
    send(sqs, event("mine", "COMPLETE", ago(minutes=1), queue="Lectures"),
         event("theirs", "COMPLETE", ago(minutes=1), queue="Default"))
    result = cli_run("mediaconvert", "--queue", "Lectures", "--events-queue", QUEUE)
    assert result.exit_code == 0, result.stderr
    assert list(by_id(result.stdout)) == ["mine"]
    assert [r.path.rsplit("/", 1)[1] for r in mediaconvert.requests if r.path.count("/") == 3] == ["mine"]
    # the other queue's event is left (visible again) for the harvest of that queue
    assert counts(sqs) == (1, 0)
    result = cli_run("mediaconvert", "--queue", "Default", "--events-queue", QUEUE)
    assert result.exit_code == 0, result.stderr
    assert "theirs" in by_id(result.stdout)
    assert counts(sqs) == (0, 0)


def test_a_missing_events_queue_is_a_clear_error(cli_run, aws, mediaconvert):  # noqa: F811
    result = cli_run("mediaconvert", "--events-queue", "no-such-queue")
    assert result.exit_code == 1
    assert "SQS: queue no-such-queue" in result.stderr
    assert not Path(".harvest-state/mediaconvert").exists()


def test_doctor_checks_the_events_queue(sqs, mediaconvert, monkeypatch):  # noqa: F811
    from harvester.sources.mediaconvert import doctor_check

    monkeypatch.setenv("MEDIACONVERT_EVENTS_QUEUE", QUEUE)
    checks = doctor_check()
    assert [(name, status) for name, status, _ in checks] == [("MediaConvert", "ok"),
                                                               ("MediaConvert events (SQS)", "ok")]
    monkeypatch.setenv("MEDIACONVERT_EVENTS_QUEUE", "missing-queue")
    name, status, detail = doctor_check()[1]
    assert status == "failed" and "missing-queue" in detail
