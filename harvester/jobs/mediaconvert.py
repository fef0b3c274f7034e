"""The mediaconvert job: which window to list, one checkpoint and lock per filter, the polls, a summary.

The command builds `MediaConvertSettings` once from its options and the settings registry;
everything after that reads the settings object, never the environment. The upstream client,
the job documents and a poll's logic live in harvester.sources.mediaconvert.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from harvester.errors import ConfigError
from harvester.sources.mediaconvert import ACTIVE, WINDOW_OVERLAP, Tracker, iso, parse_since

if TYPE_CHECKING:
    from harvester.state.checkpoint import PollState

log = logging.getLogger("harvester.mediaconvert")

#: what a first run (no checkpoint, no --since) lists
DEFAULT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class MediaConvertSettings:
    """Everything one run needs, read once: the options and the registry's settings."""

    statuses: tuple[str, ...] = ()
    queue: str | None = None
    #: jobs created since; None: the checkpoint's last poll, else DEFAULT_WINDOW
    since: datetime | None = None
    watch: bool = False
    interval: float = 30.0
    output: str = "-"
    archive: str | None = None
    events_queue: str | None = None
    es_host: str | None = None
    update_checkpoint: bool = True
    #: S3 checkpoint (both set), else a file in HARVEST_STATE_DIR
    checkpoint_bucket: str | None = None
    checkpoint_key: str | None = None
    redis_url: str | None = None

    @classmethod
    def from_options(cls, *, statuses: tuple[str, ...] = (), queue: str | None = None,
                     since: str | None = None, watch: bool = False, interval: float = 30.0,
                     output: str = "-", archive: str | None = None, events_queue: str | None = None,
                     es_host: str | None = None, update_checkpoint: bool = True,
                     now: datetime | None = None) -> MediaConvertSettings:
        """Options as the command received them, plus the registry's settings.

        A `--since` that is neither a duration nor a past date/time is a usage error (exit 2).
        """
        from harvester.config import env

        since_at = None
        if since:
            try:
                since_at = parse_since(since, now or datetime.now(UTC))
            except ValueError as exc:
                raise ConfigError(str(exc), hint="'--since'") from None
        return cls(statuses=tuple(dict.fromkeys(s.upper() for s in statuses)), queue=queue,
                   since=since_at, watch=watch, interval=interval, output=output, archive=archive,
                   events_queue=events_queue, es_host=es_host, update_checkpoint=update_checkpoint,
                   checkpoint_bucket=env("S3_HARVEST_TS_BUCKET"),
                   checkpoint_key=env("MEDIACONVERT_CHECKPOINT_KEY"), redis_url=env("REDIS_URL"))

    @property
    def name(self) -> str:
        """The checkpoint's and the lock's name (see `checkpoint_name`)."""
        return checkpoint_name(self.queue, self.statuses)

    @property
    def s3_key(self) -> str | None:
        """MEDIACONVERT_CHECKPOINT_KEY, suffixed per filter like the checkpoint's name."""
        if self.checkpoint_key and self.name != "mediaconvert":
            return f"{self.checkpoint_key}.{self.name.removeprefix('mediaconvert-')}"
        return self.checkpoint_key


def checkpoint_name(queue: str | None, statuses: tuple[str, ...]) -> str:
    """One checkpoint (and lock) per filter: a filtered run must not move the unfiltered one."""
    if not queue and not statuses:
        return "mediaconvert"
    key = f"{queue or ''}|{','.join(sorted(statuses))}"
    return "mediaconvert-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def plan_window(since: datetime | None, state: PollState, now: datetime,
                where: str) -> tuple[datetime, str]:
    """The listing window's start and where it came from: --since, the checkpoint, or 24 h.

    The checkpoint's last poll is re-listed with an overlap (clock skew between this host and
    AWS); jobs finished inside the overlap are in the state's `done` list and not written twice.
    """
    if since is not None:
        return since, "--since"
    if state.last_poll is not None:
        return state.last_poll - WINDOW_OVERLAP, f"checkpoint {where}"
    return now - DEFAULT_WINDOW, "default 24h"


@dataclass(frozen=True)
class MediaConvertSummary:
    """What the run did, for its summary line (fields of the JSON log record)."""

    jobs: int
    documents: int
    by_status: dict[str, int]
    requests: int
    event_requests: int
    output: str
    checkpoint: str | None
    active: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "active", sum(self.by_status.get(s, 0) for s in ACTIVE))

    def fields(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "documents": self.documents, "by_status": self.by_status,
                "active": self.active, "requests": self.requests, "event_requests": self.event_requests,
                "output": self.output, "checkpoint": self.checkpoint}


PollCallback = Callable[[int, Tracker, datetime], None]


def run(settings: MediaConvertSettings, *, on_poll: PollCallback | None = None,
        now: datetime | None = None) -> MediaConvertSummary:
    """Poll under the run lock (exit 3 when held), deliver, advance; raises the project's errors.

    The poll state is read inside the lock, before any MediaConvert request: an unreadable one
    stops the run (CorruptCheckpoint, exit 2) whatever --since says, because its active jobs
    would otherwise never be polled again.
    """
    from harvester.datasets import MEDIACONVERT_JOBS
    from harvester.sinks import open_sink
    from harvester.sources import mediaconvert as mc
    from harvester.state.checkpoint import PollState, PollStateJson, open_typed
    from harvester.state.lock import run_lock

    now = now or datetime.now(UTC)
    lister = mc.JobLister(mc.make_client(), queue=settings.queue)
    events = (mc.EventQueue(mc.aws_client("sqs"), settings.events_queue, only_queue=settings.queue)
              if settings.events_queue else None)
    checkpoint = open_typed(settings.name, PollStateJson(), s3_bucket=settings.checkpoint_bucket,
                            s3_key=settings.s3_key)
    if on_poll is None:
        on_poll = LiveTable() if settings.watch and sys.stderr.isatty() else log_poll

    with run_lock(settings.name, settings.redis_url):
        state = checkpoint.read() or PollState()
        window, source = plan_window(settings.since, state, now, checkpoint.description)
        log.info("jobs created since %s (%s); %d job(s) still active at the last poll",
                 iso(window), source, len(state.active))
        with open_sink(settings.output, MEDIACONVERT_JOBS, {"es_host": settings.es_host},
                       archive=settings.archive) as sink:
            tracker = mc.run(mc.Poller(lister, settings.statuses), sink,
                             checkpoint if settings.update_checkpoint else None, state, since=window,
                             events=events, watch=settings.watch, interval=settings.interval,
                             on_poll=on_poll)
    return MediaConvertSummary(
        jobs=len(tracker.latest), documents=sink.delivered, by_status=tracker.by_status(),
        requests=lister.requests, event_requests=events.requests if events else 0, output=sink.name,
        checkpoint=checkpoint.description if settings.update_checkpoint else None)


# -- what a poll shows: a live table on a terminal, a log line under cron ----------------------

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
    active = sum(1 for r in latest.values() if r["status"] in ACTIVE)
    footer = f"{active} active, {len(latest)} jobs; polled {polled.strftime('%H:%M:%S')} UTC"
    if hidden:
        footer += f" ({hidden} more not shown)"
    return "\n".join([*lines, footer]) + "\n"


class LiveTable:
    """Redraws the table in place on an interactive terminal (stderr; stdout stays data)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def __call__(self, polls: int, tracker: Tracker, started: datetime) -> None:
        rows = max(5, shutil.get_terminal_size((100, 30)).lines - 4)
        self.stream.write("\x1b[H\x1b[2J" + render_table(tracker.latest, started, rows))
        self.stream.flush()


def log_poll(polls: int, tracker: Tracker, started: datetime) -> None:
    """Under cron (no terminal): one log line per poll."""
    counts = tracker.by_status()
    shown = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
    active = sum(counts.get(s, 0) for s in ACTIVE)
    log.info("poll %d: %d job(s)%s; %d active", polls, len(tracker.latest),
             f" ({shown})" if shown else "", active,
             extra={"poll": polls, "jobs": len(tracker.latest), "active": active})
