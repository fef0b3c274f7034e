"""AWS Elemental MediaConvert jobs as documents: status, timing and progress metrics.

MediaConvert answers in PascalCase with datetimes and optional fields that depend on the
job's state; this module turns each job into one flat document (``job_id`` is the id, so a
later poll replaces the earlier document) and computes the durations an operator asks about:
how long a job queued, how long it has been transcoding, how long it should still take.

Polling keeps a small state between runs (see ``PollState``): the time of the last poll and
the jobs that were still active then. Listing is by creation time, so a job created before
the window that finishes later would otherwise never be seen again; re-polling the active
ones by id records every final status. Optional MediaConvert events (EventBridge -> SQS, see
``EventQueue``) add what only events carry: decoded-frame counts and decode rates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from harvester.errors import AuthenticationError, HarvestError, ServiceError

log = logging.getLogger("harvester.mediaconvert")

SERVICE = "MediaConvert"
ACTIVE = ("SUBMITTED", "PROGRESSING")
TERMINAL = ("COMPLETE", "CANCELED", "ERROR")
# Listing order matters: a job only moves forward through these, so listing the statuses in
# this order sees every job of the window at least once even while jobs change state.
STATUSES = ACTIVE + TERMINAL
PAGE_SIZE = 20  # the API's maximum for list_jobs
#: re-list this much before the previous poll: clock skew between this host and AWS
WINDOW_OVERLAP = timedelta(seconds=60)
_AUTH_CODES = {"ForbiddenException", "AccessDeniedException", "UnrecognizedClientException",
               "InvalidSignatureException", "ExpiredTokenException", "InvalidClientTokenId"}


# -- small helpers ----------------------------------------------------------------------------

def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, milliseconds only when the value has them."""
    if dt is None:
        return None
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    spec = "milliseconds" if dt.microsecond else "seconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """An ISO date or date-time; naive values are UTC. Raises ValueError."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


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
        if isinstance(frames, int | float) and frames == frames \
                and abs(frames) != float("inf") \
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


# -- state between polls ----------------------------------------------------------------------

@dataclass
class PollState:
    """The checkpoint: when the last poll started and which jobs were still active then."""

    last_poll: datetime | None = None
    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: finished jobs the next poll's overlapping window lists again: not written twice
    done: list[str] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps({"version": 1, "last_poll": iso(self.last_poll), "active": self.active,
                           "done": self.done}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None, where: str = "checkpoint") -> PollState:
        if not text:
            return cls()
        try:
            if text.lstrip().startswith("{"):
                doc = json.loads(text)
                last = parse_time(doc["last_poll"]) if doc.get("last_poll") else None
                active = doc.get("active") or {}
                if isinstance(active, list):
                    active = {str(a): {} for a in active}
                if not isinstance(active, dict):
                    raise ValueError("active is not a map")
                done = [str(d) for d in doc.get("done") or []]
                return cls(last, {str(k): dict(v or {}) for k, v in active.items()}, done)
            return cls(parse_time(text), {})  # a bare date/time written by hand
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise HarvestError(f"the mediaconvert checkpoint ({where}) cannot be read: {exc}; fix it, "
                               "or delete it to start again from --since (default: the last 24 h)") from None


# -- talking to MediaConvert ------------------------------------------------------------------

@contextlib.contextmanager
def _aws_errors(service: str, what: str) -> Iterator[None]:
    """botocore failures -> the contract's errors (service failure exit 1, no credentials exit 2)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise click.UsageError(_NO_CREDENTIALS) from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = err.get("Code") or "error"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"{what}: {code} (HTTP {status}): {err.get('Message') or ''}".rstrip(": ")
        if code in _AUTH_CODES:
            raise AuthenticationError(service, message) from None
        raise ServiceError(service, message) from None
    except BotoCoreError as exc:
        raise ServiceError(service, f"{what}: {exc}") from None


_NO_CREDENTIALS = ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                   "(or AWS_PROFILE), or run with an instance role")


def aws_client(service: str, *, max_attempts: int | None = None) -> Any:
    """A boto3 client with adaptive retries (throttling slows the client down, then retries).

    The region is boto3's own (AWS_DEFAULT_REGION, profile) or AWS_REGION; endpoints come from
    boto3's chain (AWS_ENDPOINT_URL_MEDIACONVERT, AWS_ENDPOINT_URL). Missing region or
    credentials are configuration errors (exit 2), found before any call.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    from harvester.config import env, env_int

    if max_attempts is None:
        max_attempts = env_int("HARVEST_RETRY_ATTEMPTS", 5, minimum=1) or 5
    session = boto3.session.Session()
    region = session.region_name or env("AWS_REGION")
    if not region:
        raise click.UsageError(f"no AWS region configured for {service}: set AWS_REGION "
                               "(or AWS_DEFAULT_REGION, or a region in the AWS profile)")
    if session.get_credentials() is None:
        raise click.UsageError(_NO_CREDENTIALS)
    config = Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts},
                    connect_timeout=10, read_timeout=30)
    try:
        return session.client(service, region_name=region, config=config)
    except NoRegionError:  # pragma: no cover - the region was checked above
        raise click.UsageError(f"no AWS region configured for {service}: set AWS_REGION") from None


def make_client(*, max_attempts: int | None = None) -> Any:
    """The MediaConvert client (the regional endpoint boto3 resolves; no describe_endpoints)."""
    return aws_client("mediaconvert", max_attempts=max_attempts)


class JobLister:
    """Lists and fetches jobs; keeps a count of API requests for the run summary."""

    def __init__(self, client: Any, *, queue: str | None = None):
        self.client = client
        self.queue = queue
        self.requests = 0

    def list(self, status: str | None, since: datetime | None) -> Iterator[dict]:
        """Jobs created at or after `since`, newest first; stops paging at the first older one."""
        kwargs: dict[str, Any] = {"Order": "DESCENDING", "PaginationConfig": {"PageSize": PAGE_SIZE}}
        if status:
            kwargs["Status"] = status
        if self.queue:
            kwargs["Queue"] = self.queue
        what = f"list_jobs status={status or 'any'} queue={self.queue or 'any'}"
        paginator = self.client.get_paginator("list_jobs")
        with _aws_errors(SERVICE, what):
            for page in paginator.paginate(**kwargs):
                self.requests += 1
                for job in page.get("Jobs") or []:
                    created = job.get("CreatedAt")
                    if since is not None and created is not None and created < since:
                        return
                    yield job

    def get(self, job_id: str) -> dict | None:
        """One job by id; None when MediaConvert no longer has it (jobs expire after 90 days)."""
        from botocore.exceptions import ClientError

        self.requests += 1
        with _aws_errors(SERVICE, f"get_job {job_id}"):
            try:
                return self.client.get_job(Id=job_id)["Job"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NotFoundException":
                    return None
                raise


def statuses_to_list(requested: Iterable[str]) -> list[str | None]:
    """Which listings one poll makes: all jobs at once, or each status in lifecycle order.

    With a status filter the active statuses are listed too (not emitted): they are what the
    next poll needs to re-poll, so that a job finishing later is not missed.
    """
    wanted = set(requested)
    if not wanted or wanted >= set(STATUSES):
        return [None]
    return [s for s in STATUSES if s in wanted or s in ACTIVE]


@dataclass
class Poller:
    """One poll: list the window, re-poll the previously active jobs and the jobs events named."""

    lister: JobLister
    statuses: tuple[str, ...] = ()
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def poll(self, since: datetime | None, state: PollState,
             events: Mapping[str, JobEvents] | None = None) -> Iterator[tuple[dict, bool]]:
        """Yield (document, wanted) for every job found; `wanted` = passes the status filter.

        A job may be yielded twice when it changes status between two listings; the later
        document is the newer one and carries the same id.
        """
        events = events or {}
        seen: set[str] = set()
        for status in statuses_to_list(self.statuses):
            for job in self.lister.list(status, since):
                seen.add(str(job["Id"]))
                yield self._document(job, state, events)
        for job_id in [*state.active, *events]:
            if job_id in seen:
                continue
            ev = events.get(job_id)
            if job_id not in state.active and ev is not None and not self._queue_matches(ev.queue):
                continue  # an event of another queue: not this harvest's job
            seen.add(job_id)
            job = self.lister.get(job_id)
            if job is None:
                log.warning("job %s is no longer known to MediaConvert; no longer tracked", job_id)
                continue
            yield self._document(job, state, events)

    def _document(self, job: dict, state: PollState, events: Mapping[str, JobEvents]) -> tuple[dict, bool]:
        doc = job_document(job, self.now())
        add_event_metrics(doc, state.active.get(doc["job_id"]), events.get(doc["job_id"]))
        wanted = (not self.statuses or doc["status"] in self.statuses) and self._queue_matches(doc["queue"])
        return doc, wanted

    def _queue_matches(self, queue: str | None) -> bool:
        return not self.lister.queue or queue is None or queue == queue_name(self.lister.queue)


@dataclass
class Tracker:
    """Distinct jobs of a run, by their latest status: a job seen in two polls counts once."""

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: int = 0

    def update(self, doc: Mapping[str, Any]) -> str | None:
        """Record a document; returns the previous status of the job (None when new)."""
        self.documents += 1
        job_id = doc["job_id"]
        previous = self.latest.get(job_id, {}).get("status")
        self.latest[job_id] = {k: doc.get(k) for k in (
            "status", "created_at", "current_phase", "percent_complete", "total_duration",
            "est_time_remaining",
            "queued_duration", "frames_decoded", "frames_decoded_at", "error_code", "error_message")}
        return previous

    def active(self) -> dict[str, dict[str, Any]]:
        """The checkpoint's active map: job id -> what must outlive this run (frame counts)."""
        out: dict[str, dict[str, Any]] = {}
        for job_id, row in self.latest.items():
            if row["status"] in ACTIVE:
                carried = {}
                if row.get("frames_decoded") is not None:
                    carried = {"frames_decoded": row["frames_decoded"],
                               "frames_at": row.get("frames_decoded_at")}
                out[job_id] = carried
        return out

    def done_since(self, since: datetime) -> list[str]:
        """Finished jobs created at or after `since` (the next poll lists them again)."""
        return sorted(job_id for job_id, row in self.latest.items()
                      if row["status"] in TERMINAL and row.get("created_at")
                      and parse_time(row["created_at"]) >= since)

    def by_status(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for row in self.latest.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts


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
        client = make_client(max_attempts=1)
        where = client.meta.endpoint_url
        with _aws_errors(SERVICE, "list_jobs"):
            client.list_jobs(MaxResults=1)
        checks.append((SERVICE, "ok", f"list_jobs answered at {where}"))
    except (HarvestError, click.ClickException) as exc:
        checks.append((SERVICE, "failed", str(exc)))
    queue = env("MEDIACONVERT_EVENTS_QUEUE")
    if queue:
        name = "MediaConvert events (SQS)"
        try:
            sqs = aws_client("sqs", max_attempts=1)
            with _aws_errors("SQS", f"queue {queue}"):
                sqs.get_queue_url(QueueName=queue)
            checks.append((name, "ok", f"queue {queue} exists"))
        except (HarvestError, click.ClickException) as exc:
            checks.append((name, "failed", str(exc)))
    return checks


# -- a run: one poll, or polls until no job is active ------------------------------------------

PollCallback = Callable[[int, "Tracker", datetime], None]


def run(poller: Poller, sink: Any, checkpoint: Any | None, state: PollState, *,
        since: datetime | None, events: EventQueue | None = None, watch: bool = False,
        interval: float = 30.0, on_poll: PollCallback | None = None,
        sleep: Callable[[float], None] = time.sleep, batch_size: int = 100) -> Tracker:
    """Poll, deliver, then (and only then) delete consumed events and advance the checkpoint.

    `sink` is a harvester Sink; `checkpoint` None means "do not advance". A failure anywhere
    before the flush leaves both the event messages and the checkpoint untouched.
    """
    tracker = Tracker()
    window = since
    polls = 0
    while True:
        started = poller.now()
        received = events.receive() if events is not None else Received()
        batch: list[dict] = []
        for doc, wanted in poller.poll(window, state, received.events):
            job_id, status = doc["job_id"], doc["status"]
            if status in TERMINAL and job_id in state.done:
                continue  # finished and written by the previous poll: unchanged since
            previous = tracker.update(doc)
            if previous == status and status in TERMINAL:
                continue
            _log_change(doc, previous)
            if wanted:
                batch.append(doc)
                if len(batch) >= batch_size:
                    sink.write(batch)
                    batch = []
        if batch:
            sink.write(batch)
        sink.flush()
        state = PollState(started, tracker.active(), tracker.done_since(started - WINDOW_OVERLAP))
        if checkpoint is not None:
            checkpoint.write(state.dumps())
        if events is not None and received.receipts:
            events.delete(received.receipts)
        polls += 1
        if on_poll is not None:
            on_poll(polls, tracker, started)
        if not watch or not state.active:
            return tracker
        sleep(interval)
        window = started - WINDOW_OVERLAP


def _log_change(doc: Mapping[str, Any], previous: str | None) -> None:
    status = doc["status"]
    if status == previous:
        return
    if status == "ERROR":
        log.warning("job %s failed: error %s: %s", doc["job_id"], doc.get("error_code"),
                    doc.get("error_message"), extra={"job_id": doc["job_id"], "queue": doc.get("queue")})
    else:
        log.debug("job %s %s -> %s", doc["job_id"], previous or "new", status)
