"""A MediaConvert job as one flat document: status, timing and progress metrics.

MediaConvert answers in PascalCase with datetimes and optional fields that depend on the
job's state; this is the one place that reads them, so everything after sees plain fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harvester.timeutil import iso_or_none as iso
from harvester.timeutil import parse_iso as parse_time

SERVICE = "MediaConvert"
ACTIVE = ("SUBMITTED", "PROGRESSING")
TERMINAL = ("COMPLETE", "CANCELED", "ERROR")
# Listing order matters: a job only moves forward through these, so listing the statuses in
# this order sees every job of the window at least once even while jobs change state.
STATUSES = ACTIVE + TERMINAL
PAGE_SIZE = 20  # the API's maximum for list_jobs
#: re-list this much before the previous poll: clock skew between this host and AWS
WINDOW_OVERLAP = timedelta(seconds=60)


# -- small helpers ----------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str, now: datetime) -> datetime:
    """`--since`: a duration back from now (`90m`, `6h`, `2d`, `1w`) or an ISO date/time."""
    m = _DURATION.match(value)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
    try:
        since = parse_time(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither a duration like 6h or 2d nor an ISO date/time") from None
    if since > now:
        raise ValueError(f"{value!r} is in the future")
    return since


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def queue_name(queue: object) -> str | None:
    """`arn:aws:mediaconvert:...:queues/Default` -> `Default` (names pass through)."""
    if not queue or not isinstance(queue, str):
        return None
    return queue.rsplit("/", 1)[1] if ":queues/" in queue else queue


queue_name_of = queue_name  # the name used inside EventQueue, whose attribute is called queue_name


# -- metrics and documents --------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    status: str
    submit: datetime | None
    start: datetime | None
    finish: datetime | None
    percent: int | None


def durations(t: Timing, now: datetime) -> dict[str, float | None]:
    """Queued, progressing and total seconds, and the estimated seconds remaining.

    "Now" stands in for a missing end only while the job is in the matching state: a job
    cancelled before it started has no progressing time at all, and a finished job without a
    finish time has unknown durations rather than ones that keep growing.
    """
    active = t.status in ACTIVE
    if t.start is not None:
        queued = _seconds(t.submit, t.start)
    elif t.status == "SUBMITTED":
        queued = _seconds(t.submit, now)
    else:  # ended (cancelled, failed) without ever starting: queued until it ended
        queued = _seconds(t.submit, t.finish)
    progressing = None
    if t.start is not None:
        end = t.finish or (now if t.status == "PROGRESSING" else None)
        progressing = _seconds(t.start, end)
    total = _seconds(t.submit, t.finish or (now if active else None))
    return {"queued_duration": queued, "progressing_duration": progressing,
            "total_duration": total,
            "est_time_remaining": estimate_remaining(t.status, t.percent, progressing)}


def estimate_remaining(status: str, percent: int | float | None, progressing: float | None
                       ) -> float | None:
    """Seconds left at the job's average rate of completion so far (only while PROGRESSING)."""
    if status == "COMPLETE":
        return 0.0
    if status != "PROGRESSING" or percent is None or progressing is None:
        return None
    if percent >= 100:
        return 0.0
    if percent <= 0 or progressing <= 0:
        return None  # no rate yet: an estimate would be a division by zero or a guess
    rate = percent / progressing
    return round((100 - percent) / rate, 3)


def _output_duration_ms(job: Mapping[str, Any]) -> int | None:
    # Every output of a job renders the same input timeline; the longest one is its duration.
    values = [d["DurationInMs"] for g in job.get("OutputGroupDetails") or []
              for d in g.get("OutputDetails") or [] if d.get("DurationInMs") is not None]
    return max(values) if values else None


def job_document(job: Mapping[str, Any], polled_at: datetime) -> dict[str, Any]:
    """One MediaConvert `Job` (as boto3 returns it) -> the job document."""
    status = str(job.get("Status") or "UNKNOWN")
    timing = job.get("Timing") or {}
    submit = timing.get("SubmitTime") or job.get("CreatedAt")
    percent = job.get("JobPercentComplete")
    if status == "COMPLETE" and percent is None:
        percent = 100
    t = Timing(status, submit, timing.get("StartTime"), timing.get("FinishTime"), percent)
    settings = job.get("Settings") or {}
    doc: dict[str, Any] = {
        "job_id": str(job["Id"]),
        "arn": job.get("Arn"),
        "status": status,
        "queue": queue_name(job.get("Queue")),
        "queue_arn": job.get("Queue"),
        "priority": job.get("Priority"),
        "job_template": job.get("JobTemplate"),
        "user_metadata": dict(job.get("UserMetadata") or {}),
        "inputs": [i["FileInput"] for i in settings.get("Inputs") or [] if i.get("FileInput")],
        "created_at": iso(job.get("CreatedAt")),
        "submit_time": iso(submit),
        "start_time": iso(t.start),
        "finish_time": iso(t.finish),
        "percent_complete": percent,
        "current_phase": job.get("CurrentPhase"),
        **durations(t, polled_at),
        "error_code": job.get("ErrorCode"),
        "error_message": job.get("ErrorMessage"),
        "retry_count": job.get("RetryCount"),
        "warnings": [{"code": w.get("Code"), "count": w.get("Count")} for w in job.get("Warnings") or []],
        "queue_transitions": [
            {"source_queue": queue_name(q.get("SourceQueue")),
             "destination_queue": queue_name(q.get("DestinationQueue")),
             "timestamp": iso(q.get("Timestamp"))}
            for q in job.get("QueueTransitions") or []],
        "output_duration_ms": _output_duration_ms(job),
        "polled_at": iso(polled_at),
    }
    return doc
