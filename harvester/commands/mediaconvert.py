"""`harvest mediaconvert`: MediaConvert job status and progress -> stdout, a .jsonl file or ES.

Options -> `MediaConvertSettings` -> the job (harvester.jobs.mediaconvert) -> the summary line.
"""

from __future__ import annotations

import logging

import click

from harvester.cli import HarvestCommand
from harvester.config import EnvOption

log = logging.getLogger("harvester.mediaconvert")

STATUS_CHOICES = ("SUBMITTED", "PROGRESSING", "COMPLETE", "CANCELED", "ERROR")


def check_output(value: str) -> str:
    if value in ("-", "es") or value.startswith(("s3://", "dir:")) or value.endswith(".jsonl"):
        return value
    raise click.BadParameter(f"{value!r}: use - (stdout), es, or a file path ending in .jsonl",
                             param_hint="'-o' / '--output'")


@click.command(cls=HarvestCommand)
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES, case_sensitive=False),
              help="Only jobs with this status (repeatable); default: all.")
@click.option("--queue", cls=EnvOption, envvar="MEDIACONVERT_QUEUE",
              help="Only jobs of this queue (name or ARN); default: all queues.")
@click.option("--since", metavar="WHEN",
              help="Jobs created since: ISO date/time (UTC) or a duration like 90m, 6h, 2d; "
                   "default: the checkpoint, else 24h.")
@click.option("--watch", is_flag=True, help="Poll every --interval seconds until no job is active.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds between polls with --watch.")
@click.option("-o", "--output", default="-", show_default=True, callback=lambda c, p, v: check_output(v),
              help="- (JSON lines on stdout), es, or a path ending in .jsonl (appended).")
@click.option("--archive", metavar="TARGET",
              help="Also archive the documents (s3://bucket/prefix/ or dir:PATH).")
@click.option("--events-queue", cls=EnvOption, envvar="MEDIACONVERT_EVENTS_QUEUE", metavar="NAME",
              help="SQS queue of MediaConvert job state change events (adds frames decoded, decode rate).")
@click.option("--es-host", cls=EnvOption, envvar="ES_HOST", help="Elasticsearch for --output es.")
@click.option("--update-checkpoint/--no-update-checkpoint", default=True,
              help="Remember this poll for the next run (default).")
def mediaconvert(**options) -> None:
    """AWS Elemental MediaConvert job status, queueing and progress metrics.

    Each job becomes one document with job_id as its id; a later poll replaces it. Jobs still
    SUBMITTED or PROGRESSING at the previous poll are polled again until they finish.

    \b
    Examples:
      harvest mediaconvert                           # cron: since the last poll, JSON lines
      harvest mediaconvert --output es               # the same into Elasticsearch
      harvest mediaconvert --status ERROR --since 2d --no-update-checkpoint
      harvest mediaconvert --watch --interval 10     # a live table until every job is done
      harvest mediaconvert --events-queue mc-events --output es   # with decode rates
    """
    from harvester.jobs import mediaconvert as job

    summary = job.run(job.MediaConvertSettings.from_options(**options))
    log.info("mediaconvert: %d job(s), %d document(s) written, %d API request(s)",
             summary.jobs, summary.documents, summary.requests, extra=summary.fields())
