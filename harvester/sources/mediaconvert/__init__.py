"""AWS Elemental MediaConvert jobs as documents: status, timing and progress metrics.

MediaConvert answers in PascalCase with datetimes and optional fields that depend on the
job's state; this module turns each job into one flat document (``job_id`` is the id, so a
later poll replaces the earlier document) and computes the durations an operator asks about:
how long a job queued, how long it has been transcoding, how long it should still take.

Polling keeps a small state between runs (``harvester.state.checkpoint.PollState``): the
time of the last poll and the jobs that were still active then. Listing is by creation time,
so a job created before the window that finishes later would otherwise never be seen again;
re-polling the active ones by id records every final status. Optional MediaConvert events
(EventBridge -> SQS, see ``EventQueue``) add what only events carry: decoded-frame counts and
decode rates.
"""


from harvester.sources.mediaconvert.client import JobLister, aws_client, make_client, statuses_to_list
from harvester.sources.mediaconvert.doctor import doctor_check
from harvester.sources.mediaconvert.events import (
    EventQueue,
    JobEvents,
    Received,
    add_event_metrics,
    parse_event,
)
from harvester.sources.mediaconvert.jobs import (
    ACTIVE,
    PAGE_SIZE,
    SERVICE,
    STATUSES,
    TERMINAL,
    WINDOW_OVERLAP,
    Timing,
    durations,
    estimate_remaining,
    iso,
    job_document,
    parse_since,
    parse_time,
    queue_name,
)
from harvester.sources.mediaconvert.poller import Poller, Tracker, next_state, run

__all__ = [
    "ACTIVE",
    "PAGE_SIZE",
    "SERVICE",
    "STATUSES",
    "TERMINAL",
    "WINDOW_OVERLAP",
    "EventQueue",
    "JobEvents",
    "JobLister",
    "Poller",
    "Received",
    "Timing",
    "Tracker",
    "add_event_metrics",
    "aws_client",
    "doctor_check",
    "durations",
    "estimate_remaining",
    "iso",
    "job_document",
    "make_client",
    "next_state",
    "parse_event",
    "parse_since",
    "parse_time",
    "queue_name",
    "run",
    "statuses_to_list",
]
