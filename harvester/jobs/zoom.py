"""Which days to harvest, and harvesting them into sinks with an advancing checkpoint.

The checkpoint is the last day of an unbroken run of harvested days. Cron runs (no dates
given) harvest every day after it up to yesterday, so a host that was down for a week
catches up by itself; a first cron run starts with yesterday. Backfills (`--date`,
`--start-date/--end-date`) move it only over days that directly follow it, so re-harvesting
an old day never moves it back and a gap is never jumped. A day counts as harvested once all
of its documents were delivered and the sinks flushed: each day is one `pipeline.deliver`,
whose `commit` moves the checkpoint.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from harvester.config import env
from harvester.errors import ConfigError, ServiceError
from harvester.http import RetryPolicy
from harvester.pipeline import Delivery, RoutedSink, batched, deliver
from harvester.sinks.base import Sink
from harvester.sources.zoom.api import HEAVY, RESOURCE_INTENSIVE, Rate, ZoomSettings, new_api
from harvester.sources.zoom.source import DayResult, ZoomSource, open_source
from harvester.state.checkpoint import Day, TypedCheckpoint, open_typed
from harvester.state.lock import run_lock

log = logging.getLogger("harvester.zoom")

BATCH_SIZE = 500
SUMMARY_LIMIT = 20
RATE_SETTINGS = {HEAVY: "ZOOM_RATE_HEAVY", RESOURCE_INTENSIVE: "ZOOM_RATE_RESOURCE_INTENSIVE"}


def zoom_settings(account_id: str | None = None, client_id: str | None = None,
                  client_secret: str | None = None, *, paced: bool = True) -> ZoomSettings:
    """The client's settings: the options given, else the environment and the registry defaults.

    The rates (defaults for Business, Education and Enterprise accounts) are read and checked
    here once: an unreadable one is a usage error (exit 2).
    """
    rates = {cat: Rate.parse(env(name) or "", name) for cat, name in RATE_SETTINGS.items()} if paced else {}
    return ZoomSettings(account_id=account_id or env("ZOOM_ACCOUNT_ID"),
                        client_id=client_id or env("ZOOM_CLIENT_ID") or env("ZOOM_KEY"),
                        client_secret=client_secret or env("ZOOM_CLIENT_SECRET") or env("ZOOM_SECRET"),
                        api_url=env("ZOOM_API_URL") or "", oauth_url=env("ZOOM_OAUTH_URL") or "",
                        rates=rates)


def six_months_before(today: date) -> date:
    """The oldest day Zoom's Dashboard and Report APIs still serve."""
    year, month = (today.year, today.month - 6) if today.month > 6 else (today.year - 1, today.month + 6)
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ZoomJob:
    """What one `harvest zoom` run does, built once from the options and the registry."""

    zoom: ZoomSettings
    day: date | None = None
    start: date | None = None
    end: date | None = None
    destination: str = "index"  # index (Elasticsearch) or stdout
    es_host: str | None = None
    original: bool = True  # the original harvester's document style
    meetings_index: str | None = None  # default: by style
    sessions_index: str | None = None
    geolite: str | None = None
    archive: str | None = None
    update_checkpoint: bool | None = None  # default: yes for index, no for stdout
    checkpoint_bucket: str | None = None
    checkpoint_key: str | None = None
    redis_url: str | None = None

    @property
    def covered(self) -> tuple[str, str]:
        """The index prefixes the templates cover in this style (and the default prefixes)."""
        return ("meetings", "sessions") if self.original else ("zoom-meetings", "zoom-sessions")


@dataclass
class Plan:
    days: list[date]
    explicit: bool  # dates were given on the command line
    note: str = ""


def plan_days(*, day: date | None, start: date | None, end: date | None, checkpoint: date | None,
              today: date) -> Plan:
    """The days of this run, oldest first; usage errors (exit 2) for impossible requests."""
    earliest = six_months_before(today)
    if day is not None and (start is not None or end is not None):
        raise ConfigError("--date cannot be combined with --start-date/--end-date")
    if end is not None and start is None:
        raise ConfigError("--end-date needs --start-date", "'--end-date'")
    if day is not None:
        start = end = day
        hint = "'--date'"
    elif start is not None:
        end = end or today - timedelta(days=1)
        hint = "'--start-date'"
    else:
        first = checkpoint + timedelta(days=1) if checkpoint else today - timedelta(days=1)
        note = ""
        if first < earliest:
            note = (f"the checkpoint ({checkpoint}) is older than Zoom keeps data; catching up from "
                    f"{earliest} (days {first}..{earliest - timedelta(days=1)} can no longer be harvested)")
            first = earliest
        last = today - timedelta(days=1)
        return Plan([first + timedelta(days=i) for i in range((last - first).days + 1)], False, note)
    if start > end:
        raise ConfigError(f"{start} is after the end date {end}", hint)
    if end > today:
        raise ConfigError(f"{end} is in the future (today is {today}, UTC)", hint)
    if start < earliest:
        raise ConfigError(f"{start} is older than six months; Zoom only serves meetings since {earliest}",
                          hint)
    return Plan([start + timedelta(days=i) for i in range((end - start).days + 1)], True)


@dataclass
class RunResult:
    days: list[DayResult] = field(default_factory=list)
    checkpoint: date | None = None
    api_calls: int = 0

    @property
    def meetings(self) -> int:
        return sum(d.meetings for d in self.days)

    @property
    def sessions(self) -> int:
        return sum(d.sessions for d in self.days)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [s for d in self.days for s in d.skipped]


def routed(meetings: Sink, sessions: Sink) -> RoutedSink:
    """One sink for the day's documents: meetings and sessions each to their own dataset."""
    return RoutedSink({"meeting": meetings, "session": sessions}, key=lambda doc: doc["doc_type"],
                      batch_size=BATCH_SIZE)


def advances(day: date, checkpoint: date | None, *, explicit: bool, today: date) -> bool:
    """Whether a harvested `day` becomes the checkpoint (see the module docstring)."""
    if day >= today:
        return False
    follows = checkpoint is not None and day == checkpoint + timedelta(days=1)
    return follows or (not explicit and (checkpoint is None or day > checkpoint))


def harvest(source: ZoomSource, plan: Plan, sink: Sink, checkpoint: TypedCheckpoint[date], *,
            today: date, result: RunResult, update: bool = True) -> RunResult:
    """Harvest `plan.days` in order into `sink` (see `routed`), one delivery per day.

    `result.checkpoint` is the stored checkpoint; `result` is filled in as days complete, so a
    caller still has the counts when a failure (daily rate limit, a service down, undelivered
    documents) stops the run with the checkpoint at the last fully harvested day.
    """
    for day in plan.days:
        day_result = DayResult(day)
        result.days.append(day_result)

        def commit(delivery: Delivery, day: date = day, day_result: DayResult = day_result) -> None:
            log.info("zoom %s: %d meetings, %d sessions, %d skipped (%s, %.1fs)", day, day_result.meetings,
                     day_result.sessions, len(day_result.skipped), day_result.source,
                     delivery.seconds)
            if update and advances(day, result.checkpoint, explicit=plan.explicit, today=today):
                checkpoint.write(day)
                result.checkpoint = day

        deliver(batched(source.harvest_day(day, day_result), BATCH_SIZE), sink, overlap=False,
                commit=commit)
    return result


def summary(result: RunResult, failed: str | None = None) -> tuple[str, dict]:
    """The run's last log line and its structured fields."""
    api_calls = result.api_calls
    days = [d.day for d in result.days]
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else (str(days[0]) if days else "no days")
    skipped = result.skipped
    text = (f"zoom {'failed' if failed else 'done'}: {span}: {result.meetings} meetings, "
            f"{result.sessions} sessions, {len(skipped)} meetings skipped, {api_calls} API calls; "
            f"checkpoint {result.checkpoint or 'unset'}")
    if skipped:
        listed = ", ".join(f"{uuid} ({reason})" for uuid, reason in skipped[:SUMMARY_LIMIT])
        more = f" and {len(skipped) - SUMMARY_LIMIT} more" if len(skipped) > SUMMARY_LIMIT else ""
        text += f"; skipped: {listed}{more}"
    extra = {"days": len(days), "meetings": result.meetings, "sessions": result.sessions,
             "skipped": [{"uuid": u, "reason": r} for u, r in skipped], "api_calls": api_calls,
             "checkpoint": str(result.checkpoint) if result.checkpoint else None,
             "status": "failed" if failed else "ok"}
    return text, extra


def run(job: ZoomJob, *, today: date | None = None) -> RunResult | None:
    """One run: checks, lock, checkpoint, the days, the summary of a failure. None: nothing to do.

    Usage errors (exit 2) come before the lock and before any request. A failure logs the
    summary of what was done (`failed`) and is raised; the caller logs a success's summary.
    """
    from harvester.datasets import MEETINGS, SESSIONS, ZOOM_MEETINGS, ZOOM_SESSIONS
    from harvester.geoip import open_geolite
    from harvester.sinks import open_sink
    from harvester.sources.zoom.original_style import RestyledSink, original_meeting, session_converter

    today = today or datetime.now(UTC).date()
    dates = {"day": job.day, "start": job.start, "end": job.end}
    if any(dates.values()):
        plan_days(**dates, checkpoint=None, today=today)
    meetings_index = job.meetings_index or job.covered[0]
    sessions_index = job.sessions_index or job.covered[1]
    if job.destination == "index":
        check_index(meetings_index, "--meetings-index", "ZOOM_MEETINGS_INDEX", job.covered[0])
        check_index(sessions_index, "--sessions-index", "ZOOM_SESSIONS_INDEX", job.covered[1])
    geo = open_geolite(job.geolite)  # a bad path is a usage error (exit 2) before any request
    update = job.update_checkpoint
    if update is None:
        update = job.destination == "index"  # a debugging dump must not move production state
    checkpoint = open_typed("zoom", Day(), s3_bucket=job.checkpoint_bucket, s3_key=job.checkpoint_key)
    source = open_source(job.zoom, RetryPolicy.from_env())
    api = source.api

    with run_lock("zoom", job.redis_url):
        stored = checkpoint.read()
        plan = plan_days(**dates, checkpoint=stored, today=today)
        if plan.note:
            log.warning("zoom: %s", plan.note)
        if not plan.days:
            log.info("zoom: nothing new to harvest (checkpoint %s)", stored)
            return None
        target = "es" if job.destination == "index" else "-"
        options = {"es_host": job.es_host}
        meetings = open_sink(target, MEETINGS if job.original else ZOOM_MEETINGS,
                             {**options, "index": meetings_index}, archive=job.archive)
        sessions = open_sink(target, SESSIONS if job.original else ZOOM_SESSIONS,
                             {**options, "index": sessions_index}, archive=job.archive)
        sink = routed(RestyledSink(meetings, original_meeting) if job.original else meetings,
                      RestyledSink(sessions, session_converter(job.original, geo)))
        log.info("zoom: harvesting %d day(s) %s..%s into %s", len(plan.days), plan.days[0], plan.days[-1],
                 sink.name if target == "es" else "stdout")
        result = RunResult(checkpoint=stored)
        try:
            harvest(source, plan, sink, checkpoint, today=today, result=result, update=update)
        except Exception as exc:
            result.api_calls = api.total_calls
            text, extra = summary(result, failed=str(exc))
            log.warning(text, extra=extra)
            raise
        finally:
            sink.close()
        result.api_calls = api.total_calls
        return result


def check_index(name: str, option: str, envvar: str, covered: str) -> None:
    """Index prefixes are Elasticsearch names (exit 2 when not); warn when no template covers them."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._+-]*", name or "") or len(name) > 200:
        raise ConfigError(f"{name!r} is not a valid index prefix (lowercase letters, digits, . _ + -)",
                          f"'{option}' (environment variable {envvar})")
    if name != covered and not name.startswith(covered + "-"):
        log.warning("zoom: %s %s is not covered by the %s-* index template; its fields get dynamic "
                    "mappings", option, name, covered)


def doctor_check() -> list[tuple[str, str, str]]:
    """One line for `harvest doctor`: can we get a token, and which API will the harvest use?

    Only the OAuth endpoint is called: Dashboard calls spend the account's shared daily budget.
    """
    settings = zoom_settings(paced=False)
    if len(settings.missing) == 3:
        return [("Zoom", "not configured", "set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET")]
    if settings.missing:
        return [("Zoom", "failed", "missing " + ", ".join(settings.missing))]
    try:
        api = new_api(settings, RetryPolicy.from_env(attempts=2))
        api.auth.token()
    except ServiceError as exc:
        return [("Zoom", "failed", str(exc))]
    scopes = " ".join(api.auth.scopes)
    oauth_host = settings.oauth_url.split("//")[-1].split("/")[0]
    if "dashboard" in scopes:
        which = "Dashboard scopes present"
    elif "report" in scopes:
        which = "no Dashboard scope: the Report API will be used"
    elif scopes:
        return [("Zoom", "failed", f"token from {oauth_host} has neither dashboard nor report scopes")]
    else:
        which = "scopes not listed in the token answer"
    return [("Zoom", "ok", f"access token from {oauth_host}; {which}")]
