"""`harvest doctor` for MediaConvert: can this host list jobs (and read the events queue)?"""

from __future__ import annotations

from harvester.errors import HarvestError
from harvester.sources.mediaconvert.client import _aws_errors, aws_client, make_client
from harvester.sources.mediaconvert.jobs import SERVICE

_DOCTOR_SETTINGS = ("MEDIACONVERT_QUEUE", "MEDIACONVERT_EVENTS_QUEUE", "MEDIACONVERT_CHECKPOINT_KEY",
                    "AWS_ENDPOINT_URL_MEDIACONVERT")


def doctor_check() -> list[tuple[str, str, str]]:
    """`harvest doctor`: can this host list MediaConvert jobs (and read the events queue)?"""
    import boto3

    from harvester.config import env
    from harvester.state.checkpoint import state_dir

    # AWS credentials alone do not mean this host harvests MediaConvert (they also serve S3 and
    # SQS): only a MediaConvert setting, or a checkpoint left by an earlier run, says it does.
    used = [n for n in _DOCTOR_SETTINGS if env(n)]
    if not used and not any(state_dir().glob("mediaconvert*")):
        return [(SERVICE, "not configured",
                 "set MEDIACONVERT_QUEUE or MEDIACONVERT_EVENTS_QUEUE (or run harvest mediaconvert once)")]
    session = boto3.session.Session()
    if not (session.region_name or env("AWS_REGION")):
        return [(SERVICE, "not configured", "no AWS region (set AWS_REGION)")]
    if session.get_credentials() is None:
        return [(SERVICE, "not configured", "no AWS credentials")]
    checks: list[tuple[str, str, str]] = []
    try:
        client = make_client(attempts=1)
        where = client.meta.endpoint_url
        with _aws_errors(SERVICE, "list_jobs"):
            client.list_jobs(MaxResults=1)
        checks.append((SERVICE, "ok", f"list_jobs answered at {where}"))
    except HarvestError as exc:
        checks.append((SERVICE, "failed", str(exc)))
    queue = env("MEDIACONVERT_EVENTS_QUEUE")
    if queue:
        name = "MediaConvert events (SQS)"
        try:
            sqs = aws_client("sqs", attempts=1)
            with _aws_errors("SQS", f"queue {queue}"):
                sqs.get_queue_url(QueueName=queue)
            checks.append((name, "ok", f"queue {queue} exists"))
        except HarvestError as exc:
            checks.append((name, "failed", str(exc)))
    return checks


# -- a run: one poll, or polls until no job is active ------------------------------------------
