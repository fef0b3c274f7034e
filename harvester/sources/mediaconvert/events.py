"""MediaConvert job-state events (EventBridge -> SQS): what only events carry.

Decoded-frame counts and decode rates exist in events alone; messages are deleted only after
the documents they contributed to were delivered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harvester.sources.mediaconvert.client import _aws_errors
from harvester.sources.mediaconvert.jobs import _seconds, iso, parse_time, queue_name, queue_name_of

log = logging.getLogger("harvester.mediaconvert")


# -- events (EventBridge -> SQS) ---------------------------------------------------------------

@dataclass
class JobEvents:
    """What the events of one job said since they were last consumed."""

    job_id: str
    last_time: datetime | None = None
    last_status: str | None = None
    frames_decoded: int | None = None
    frames_at: datetime | None = None
    first_progressing: datetime | None = None
    queue: str | None = None

    def add(self, detail: Mapping[str, Any], when: datetime) -> None:
        status = detail.get("status")
        self.queue = queue_name(detail.get("queue")) or self.queue
        if self.last_time is None or when >= self.last_time:
            self.last_time, self.last_status = when, status
        if status == "PROGRESSING" and (self.first_progressing is None or when < self.first_progressing):
            self.first_progressing = when
        frames = detail.get("framesDecoded")
        # Queues deliver out of order; frame counts only grow, so the largest is the latest.
        # (a non-finite count, as a garbled event may carry, is no count at all)
        if isinstance(frames, int | float) and math.isfinite(frames) \
                and (self.frames_decoded is None or frames >= self.frames_decoded):
            self.frames_decoded, self.frames_at = int(frames), when


def parse_event(body: str) -> tuple[str, dict, datetime] | None:
    """An SQS message body -> (job id, event detail, event time), or None if it is not one.

    Accepts the EventBridge event itself (the usual EventBridge -> SQS target) and the same
    event inside an SNS notification envelope.
    """
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
            doc = json.loads(doc["Message"])
    except (TypeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("source") != "aws.mediaconvert":
        return None
    if doc.get("detail-type") != "MediaConvert Job State Change":
        return None
    detail = doc.get("detail")
    if not isinstance(detail, dict) or not detail.get("jobId"):
        return None
    when: datetime | None = None
    ts = detail.get("timestamp")
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        with contextlib.suppress(OverflowError, OSError, ValueError):
            when = datetime.fromtimestamp(ts / 1000.0, UTC)
    if when is None and isinstance(doc.get("time"), str):
        with contextlib.suppress(ValueError):
            when = parse_time(doc["time"])
    if when is None:
        return None
    return str(detail["jobId"]), detail, when


@dataclass
class Received:
    events: dict[str, JobEvents] = field(default_factory=dict)
    receipts: list[str] = field(default_factory=list)  # handled messages, deleted after delivery
    other_queues: int = 0  # events of other MediaConvert queues, released untouched
    ignored: int = 0  # not MediaConvert job events: left in the queue for its dead-letter policy


class EventQueue:
    """Consumes "MediaConvert Job State Change" events from an SQS queue.

    Messages stay invisible while a poll runs and are deleted only after the documents they
    contributed to were delivered (``delete``); a failed run leaves them for the next one.
    """

    def __init__(self, sqs: Any, queue_name: str, *, max_messages: int = 1000,
                 wait_seconds: int = 1, visibility_timeout: int = 300, only_queue: str | None = None):
        self.sqs = sqs
        #: with --queue, events of other MediaConvert queues are left for the harvest of those
        self.only_queue = queue_name_of(only_queue)
        self.queue_name = queue_name
        self.max_messages = max_messages
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout
        self.requests = 0
        with _aws_errors("SQS", f"queue {queue_name}"):
            self.url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def receive(self) -> Received:
        """Take up to `max_messages` messages (bounded memory); the rest wait for the next poll."""
        out = Received()
        taken = 0
        while taken < self.max_messages:
            with _aws_errors("SQS", f"receive from {self.queue_name}"):
                self.requests += 1
                resp = self.sqs.receive_message(
                    QueueUrl=self.url, MaxNumberOfMessages=min(10, self.max_messages - taken),
                    WaitTimeSeconds=self.wait_seconds, VisibilityTimeout=self.visibility_timeout)
            messages = resp.get("Messages") or []
            if not messages:
                break
            taken += len(messages)
            for msg in messages:
                parsed = parse_event(msg.get("Body", ""))
                if parsed is None:
                    out.ignored += 1
                    continue
                job_id, detail, when = parsed
                event_queue = queue_name_of(detail.get("queue"))
                if self.only_queue and event_queue and event_queue != self.only_queue:
                    self._release(msg["ReceiptHandle"])
                    out.other_queues += 1
                    continue
                out.events.setdefault(job_id, JobEvents(job_id)).add(detail, when)
                out.receipts.append(msg["ReceiptHandle"])
        if out.ignored:
            log.warning("%d message(s) in %s are not MediaConvert job events; left in the queue",
                        out.ignored, self.queue_name)
        if out.other_queues:
            log.info("%d event(s) of other MediaConvert queues left in %s", out.other_queues,
                     self.queue_name)
        return out

    def _release(self, receipt: str) -> None:
        """Make a message visible again at once: it belongs to another queue's harvest."""
        with _aws_errors("SQS", f"release a message of {self.queue_name}"):
            self.requests += 1
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt,
                                               VisibilityTimeout=0)

    def delete(self, receipts: list[str]) -> None:
        """Delete handled messages, ten per request; a failed entry is left to reappear."""
        failed = 0
        for i in range(0, len(receipts), 10):
            entries = [{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(receipts[i:i + 10])]
            with _aws_errors("SQS", f"delete from {self.queue_name}"):
                self.requests += 1
                resp = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
            failed += len(resp.get("Failed") or [])
        if failed:
            # Harmless: the message comes back and its job document is written again.
            log.warning("%d event message(s) could not be deleted from %s and will be seen again",
                        failed, self.queue_name)


def add_event_metrics(doc: dict[str, Any], carried: Mapping[str, Any] | None,
                      events: JobEvents | None) -> None:
    """Frames decoded and decode rate (frames per second of progressing time), from events.

    `carried` is what earlier runs learned (kept in the checkpoint while the job is active),
    so that a job's final document keeps the last frame count seen before it finished.
    """
    frames, frames_at = None, None
    if carried and carried.get("frames_decoded") is not None:
        frames, frames_at = carried["frames_decoded"], carried.get("frames_at")
        frames_at = parse_time(frames_at) if frames_at else None
    if events is not None:
        doc["last_event_time"] = iso(events.last_time)
        doc["last_event_status"] = events.last_status
        if events.frames_decoded is not None and (frames is None or events.frames_decoded >= frames):
            frames, frames_at = events.frames_decoded, events.frames_at
    if frames is None:
        return
    doc["frames_decoded"] = frames
    doc["frames_decoded_at"] = iso(frames_at)
    start = parse_time(doc["start_time"]) if doc.get("start_time") else None
    if start is None and events is not None:
        start = events.first_progressing
    elapsed = _seconds(start, frames_at)
    doc["decode_rate"] = round(frames / elapsed, 3) if elapsed else None
