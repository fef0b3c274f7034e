"""A run: one poll, or polls until no job is active; deliver, then advance.

Every poll goes through the project's one delivery loop (harvester.pipeline.deliver): the
documents are written and flushed first, and only then are the consumed event messages
deleted and the poll state written. A failure before that leaves both untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harvester.pipeline import Delivery, batched, deliver
from harvester.sources.mediaconvert.client import JobLister, statuses_to_list
from harvester.sources.mediaconvert.events import EventQueue, JobEvents, Received, add_event_metrics
from harvester.sources.mediaconvert.jobs import (
    ACTIVE,
    STATUSES,
    TERMINAL,
    WINDOW_OVERLAP,
    job_document,
    parse_time,
    queue_name,
)
from harvester.state.checkpoint import PollState, TypedCheckpoint

log = logging.getLogger("harvester.mediaconvert")


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



PollCallback = Callable[[int, "Tracker", datetime], None]


def next_state(tracker: Tracker, started: datetime) -> PollState:
    """What a poll that started at `started` leaves for the next one."""
    return PollState(started, tracker.active(), tracker.done_since(started - WINDOW_OVERLAP))


def run(poller: Poller, sink: Any, checkpoint: TypedCheckpoint[PollState] | None, state: PollState, *,
        since: datetime | None, events: EventQueue | None = None, watch: bool = False,
        interval: float = 30.0, on_poll: PollCallback | None = None,
        sleep: Callable[[float], None] = time.sleep, batch_size: int = 100) -> Tracker:
    """Poll, deliver, then (and only then) delete consumed events and advance the checkpoint.

    `sink` is a harvester Sink; `checkpoint` None means "do not advance". A failure anywhere
    before the flush leaves both the event messages and the checkpoint untouched. Batches are
    written in turn, not overlapped with the next listing: MediaConvert's request quota is the
    limit, and a failed write should stop the poll before another request is spent.
    """
    tracker = Tracker()
    window = since
    polls = 0
    while True:
        started = poller.now()
        received = events.receive() if events is not None else Received()

        def commit(_: Delivery, started: datetime = started, received: Received = received) -> None:
            if checkpoint is not None:
                checkpoint.write(next_state(tracker, started))
            if events is not None and received.receipts:
                events.delete(received.receipts)

        documents = _changed(poller.poll(window, state, received.events), state, tracker)
        deliver(batched(documents, batch_size), sink, overlap=False, commit=commit)
        state = next_state(tracker, started)
        polls += 1
        if on_poll is not None:
            on_poll(polls, tracker, started)
        if not watch or not state.active:
            return tracker
        sleep(interval)
        window = started - WINDOW_OVERLAP


def _changed(found: Iterator[tuple[dict, bool]], state: PollState, tracker: Tracker) -> Iterator[dict]:
    """The documents worth writing: wanted, and not a finished job already written unchanged."""
    for doc, wanted in found:
        job_id, status = doc["job_id"], doc["status"]
        if status in TERMINAL and job_id in state.done:
            continue  # finished and written by the previous poll: unchanged since
        previous = tracker.update(doc)
        if previous == status and status in TERMINAL:
            continue
        _log_change(doc, previous)
        if wanted:
            yield doc


def _log_change(doc: Mapping[str, Any], previous: str | None) -> None:
    status = doc["status"]
    if status == previous:
        return
    if status == "ERROR":
        log.warning("job %s failed: error %s: %s", doc["job_id"], doc.get("error_code"),
                    doc.get("error_message"), extra={"job_id": doc["job_id"], "queue": doc.get("queue")})
    else:
        log.debug("job %s %s -> %s", doc["job_id"], previous or "new", status)
