"""Which days to harvest, and harvesting them into sinks with an advancing checkpoint.

The checkpoint is the last day of an unbroken run of harvested days. Cron runs (no dates
given) harvest every day after it up to yesterday, so a host that was down for a week
catches up by itself; a first cron run starts with yesterday. Backfills (`--date`,
`--start-date/--end-date`) move it only over days that directly follow it, so re-harvesting
an old day never moves it back and a gap is never jumped. A day counts as harvested once all
of its documents were delivered and the sinks flushed.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import click

from harvester.errors import HarvestError
from harvester.sinks.base import Sink
from harvester.sources.zoom.source import DayResult, ZoomSource

log = logging.getLogger("harvester.zoom")

BATCH_SIZE = 500
SUMMARY_LIMIT = 20


def six_months_before(today: date) -> date:
    """The oldest day Zoom's Dashboard and Report APIs still serve."""
    year, month = (today.year, today.month - 6) if today.month > 6 else (today.year - 1, today.month + 6)
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


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
        raise click.UsageError("--date cannot be combined with --start-date/--end-date")
    if end is not None and start is None:
        raise click.BadParameter("--end-date needs --start-date", param_hint="'--end-date'")
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
        raise click.BadParameter(f"{start} is after the end date {end}", param_hint=hint)
    if end > today:
        raise click.BadParameter(f"{end} is in the future (today is {today}, UTC)", param_hint=hint)
    if start < earliest:
        raise click.BadParameter(
            f"{start} is older than six months; Zoom only serves meetings since {earliest}",
            param_hint=hint)
    return Plan([start + timedelta(days=i) for i in range((end - start).days + 1)], True)


def parse_checkpoint(value: str | None, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HarvestError(f"checkpoint {where} holds {value[:40]!r}, not a YYYY-MM-DD day; "
                           "fix or delete it, or give --date") from None


@dataclass
class RunResult:
    days: list[DayResult] = field(default_factory=list)
    checkpoint: date | None = None

    @property
    def meetings(self) -> int:
        return sum(d.meetings for d in self.days)

    @property
    def sessions(self) -> int:
        return sum(d.sessions for d in self.days)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [s for d in self.days for s in d.skipped]


def _deliver(docs: Iterable[dict], sinks: Mapping[str, Sink]) -> None:
    """Batches per document type; every batch is delivered or the run fails."""
    buffers: dict[str, list[dict]] = {kind: [] for kind in sinks}
    for doc in docs:
        buf = buffers[doc["doc_type"]]
        buf.append(doc)
        if len(buf) >= BATCH_SIZE:
            sinks[doc["doc_type"]].write(buf)
            buffers[doc["doc_type"]] = []
    for kind, buf in buffers.items():
        if buf:
            sinks[kind].write(buf)
    for sink in {id(s): s for s in sinks.values()}.values():
        sink.flush()


def harvest(source: ZoomSource, plan: Plan, sinks: Mapping[str, Sink], checkpoint, *, today: date,
            result: RunResult, update: bool = True) -> RunResult:
    """Harvest `plan.days` in order into `sinks` ({"meeting": sink, "session": sink}).

    `result.checkpoint` is the stored checkpoint; `result` is filled in as days complete, so a
    caller still has the counts when a failure (daily rate limit, a service down, undelivered
    documents) stops the run with the checkpoint at the last fully harvested day.
    """
    for day in plan.days:
        started = time.monotonic()
        day_result = DayResult(day)
        result.days.append(day_result)
        _deliver(source.harvest_day(day, day_result), sinks)
        log.info("zoom %s: %d meetings, %d sessions, %d skipped (%s, %.1fs)", day, day_result.meetings,
                 day_result.sessions, len(day_result.skipped), day_result.source,
                 time.monotonic() - started)
        cp = result.checkpoint
        follows = cp is not None and day == cp + timedelta(days=1)
        if update and day < today and (follows or (not plan.explicit and (cp is None or day > cp))):
            checkpoint.write(day.isoformat())
            result.checkpoint = day
    return result


def summary(result: RunResult, api_calls: int, failed: str | None = None) -> tuple[str, dict]:
    """The run's last log line and its structured fields."""
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
