"""`harvest mediaconvert`: MediaConvert job status and progress -> stdout, a .jsonl file or ES.

Reads options and wires the poller (harvester.sources.mediaconvert), the sink, the checkpoint,
the run lock and, on a terminal with --watch, a live table. No job logic lives here.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from harvester.cli import HarvestCommand
from harvester.config import EnvOption, env

log = logging.getLogger("harvester.mediaconvert")

STATUS_CHOICES = ("SUBMITTED", "PROGRESSING", "COMPLETE", "CANCELED", "ERROR")
DEFAULT_WINDOW = timedelta(hours=24)


def checkpoint_name(queue: str | None, statuses: tuple[str, ...]) -> str:
    """One checkpoint (and lock) per filter: a filtered run must not move the unfiltered one."""
    if not queue and not statuses:
        return "mediaconvert"
    key = f"{queue or ''}|{','.join(sorted(statuses))}"
    return "mediaconvert-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def check_output(value: str) -> str:
    if value in ("-", "es") or value.startswith(("s3://", "dir:")) or value.endswith(".jsonl"):
        return value
    raise click.BadParameter(f"{value!r}: use - (stdout), es, or a file path ending in .jsonl",
                             param_hint="'-o' / '--output'")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


_ORDER = {"PROGRESSING": 0, "SUBMITTED": 1, "ERROR": 2, "CANCELED": 3, "COMPLETE": 4}


def render_table(latest: Mapping[str, Mapping[str, Any]], polled: datetime, max_rows: int = 40) -> str:
    """The live --watch table: active jobs first, then failures, then the finished ones."""
    header = ("JOB", "STATUS", "PHASE", "%", "ELAPSED", "REMAINING")
    rows = []
    for job_id, row in sorted(latest.items(), key=lambda kv: (_ORDER.get(kv[1]["status"], 9), kv[0])):
        pct = row.get("percent_complete")
        rows.append((job_id, row["status"], row.get("current_phase") or "-",
                     "-" if pct is None else str(pct), _duration(row.get("total_duration")),
                     _duration(row.get("est_time_remaining"))))
    hidden = max(0, len(rows) - max_rows)
    rows = rows[:max_rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    active = sum(1 for r in latest.values() if r["status"] in ("SUBMITTED", "PROGRESSING"))
    footer = f"{active} active, {len(latest)} jobs; polled {polled.strftime('%H:%M:%S')} UTC"
    if hidden:
        footer += f" ({hidden} more not shown)"
    return "\n".join([*lines, footer]) + "\n"


class LiveTable:
    """Redraws the table in place on an interactive terminal (stderr; stdout stays data)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def __call__(self, polls: int, tracker, started: datetime) -> None:
        rows = max(5, shutil.get_terminal_size((100, 30)).lines - 4)
        self.stream.write("\x1b[H\x1b[2J" + render_table(tracker.latest, started, rows))
        self.stream.flush()


def log_poll(polls: int, tracker, started: datetime) -> None:
    """Under cron (no terminal): one log line per poll."""
    counts = tracker.by_status()
    shown = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
    active = counts.get("SUBMITTED", 0) + counts.get("PROGRESSING", 0)
    log.info("poll %d: %d job(s)%s; %d active", polls, len(tracker.latest),
             f" ({shown})" if shown else "", active,
             extra={"poll": polls, "jobs": len(tracker.latest), "active": active})


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
def mediaconvert(statuses: tuple[str, ...], queue: str | None, since: str | None, watch: bool,
                 interval: float, output: str, archive: str | None, events_queue: str | None,
                 es_host: str | None, update_checkpoint: bool) -> None:
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
    from harvester.datasets import MEDIACONVERT_JOBS
    from harvester.sinks import open_sink
    from harvester.sources import mediaconvert as mc
    from harvester.state.checkpoint import PollState, PollStateJson, open_typed
    from harvester.state.lock import run_lock

    statuses = tuple(dict.fromkeys(s.upper() for s in statuses))
    now = datetime.now(UTC)
    since_at = None
    if since:
        try:
            since_at = mc.parse_since(since, now)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--since'") from None

    lister = mc.JobLister(mc.make_client(), queue=queue)
    events = mc.EventQueue(mc.aws_client("sqs"), events_queue, only_queue=queue) if events_queue else None
    name = checkpoint_name(queue, statuses)
    key = env("MEDIACONVERT_CHECKPOINT_KEY")
    if key and name != "mediaconvert":
        key = f"{key}.{name.removeprefix('mediaconvert-')}"
    checkpoint = open_typed(name, PollStateJson(), s3_bucket=env("S3_HARVEST_TS_BUCKET"), s3_key=key)
    on_poll = LiveTable() if watch and sys.stderr.isatty() else log_poll

    with run_lock(name, env("REDIS_URL")):
        state = checkpoint.read() or PollState()
        if since_at is not None:
            window, source = since_at, "--since"
        elif state.last_poll is not None:
            window, source = state.last_poll - mc.WINDOW_OVERLAP, f"checkpoint {checkpoint.description}"
        else:
            window, source = now - DEFAULT_WINDOW, "default 24h"
        log.info("jobs created since %s (%s); %d job(s) still active at the last poll",
                 mc.iso(window), source, len(state.active))
        with open_sink(output, MEDIACONVERT_JOBS, {"es_host": es_host}, archive=archive) as sink:
            tracker = mc.run(mc.Poller(lister, statuses), sink, checkpoint if update_checkpoint else None,
                             state, since=window, events=events, watch=watch, interval=interval,
                             on_poll=on_poll)
    counts = tracker.by_status()
    log.info("mediaconvert: %d job(s), %d document(s) written, %d API request(s)",
             len(tracker.latest), sink.delivered, lister.requests,
             extra={"jobs": len(tracker.latest), "documents": sink.delivered, "by_status": counts,
                    "active": counts["SUBMITTED"] + counts["PROGRESSING"], "requests": lister.requests,
                    "event_requests": events.requests if events else 0, "output": sink.name,
                    "checkpoint": checkpoint.description if update_checkpoint else None})
