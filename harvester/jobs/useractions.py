"""The useractions run: window, span check, lock, checkpoint, delivery, summary.

A run harvests one window of Opencast user-tracking actions: from --start, else the
checkpoint (the original tool's bare `YYYYMMDDHHmmss`, written in CHECKPOINT_TZ), else the
last `interval` minutes; up to --end, else now. The checkpoint advances to the newest action
delivered, only after the sink flushed (harvester.pipeline.deliver's `commit`), never into
the future and never backwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from harvester.errors import ConfigError, CorruptCheckpoint, SkippedRun
from harvester.state.checkpoint import CompactTime, TypedCheckpoint, open_typed
from harvester.timeutil import iso_z, parse_iso, utcnow, zone

if TYPE_CHECKING:
    from harvester.sources.opencast.client import OpencastSettings

log = logging.getLogger("harvester.useractions")

CHECKPOINT_NAME = "useractions-last-action-ts"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    start_from: str  # "option", "checkpoint" or "interval"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def checkpoint_zone(raw: str | None) -> tzinfo:
    """CHECKPOINT_TZ: the zone a bare checkpoint is written in (the original wrote server time)."""
    try:
        return zone(raw or "UTC")
    except ValueError as exc:
        raise ConfigError(f"invalid value for CHECKPOINT_TZ: {exc}. A checkpoint written by "
                          "the original tool is in the Opencast server's zone, e.g. "
                          "CHECKPOINT_TZ=America/New_York or -04:00") from None


def describe_zone(raw: str | None) -> str:
    """CHECKPOINT_TZ as the operator wrote it."""
    return (raw or "UTC").strip()


def parse_checkpoint(value: str, where: str, tz: tzinfo = UTC) -> datetime:
    """A stored value read the way a run reads it (doctor); unreadable: CorruptCheckpoint (exit 2)."""
    fmt = CompactTime(tz)
    try:
        return fmt.parse(value)
    except ValueError as exc:
        raise CorruptCheckpoint(where, value, f"is not {fmt.expected} ({exc})", fmt.remedy) from None


def harvest_window(start: datetime | None, end: datetime | None, checkpoint: datetime | None,
                   interval_minutes: int, now: datetime) -> Window:
    """start = --start, else the checkpoint, else now - interval; end = --end, else now."""
    end = end or now
    if start is not None:
        window = Window(start, end, "option")
    elif checkpoint is not None:
        window = Window(checkpoint, end, "checkpoint")
    else:
        window = Window(end - timedelta(minutes=interval_minutes), end, "interval")
    if window.start > window.end:
        raise ConfigError(f"the window starts after it ends ({iso_z(window.start)} > "
                          f"{iso_z(window.end)}); check --start/--end or the checkpoint")
    return window


def span_check(window: Window, max_span: int | None, checkpoint_where: str) -> None:
    """Refuse (exit 3) a window longer than MAX_START_END_SPAN seconds, explaining both remedies."""
    if max_span is None or window.seconds <= max_span:
        return
    raise SkippedRun(
        f"the window {iso_z(window.start)} .. {iso_z(window.end)} spans {int(window.seconds)} seconds, "
        f"more than MAX_START_END_SPAN={max_span}. Either harvest it anyway with "
        f"--disable-start-end-span-check (one run, with cron paused), or reset the start by deleting "
        f"the checkpoint {checkpoint_where} and backfilling the gap with --start/--end runs.")


def lock_name(s3_bucket: str | None, s3_key: str | None) -> str:
    """One lock per checkpoint: two deployments with their own S3 checkpoints do not block each other."""
    if s3_bucket and s3_key:
        return f"useractions-{s3_bucket}-{s3_key}"
    return "useractions"


def advance(checkpoint: TypedCheckpoint[datetime], previous: datetime | None, newest: str | None,
            window: Window, now: datetime, tz_name: str) -> str:
    """Move the checkpoint to the newest delivered action; returns how it moved, for the summary.

    Never into the future (an --end beyond now must not make later runs start there) and
    never backwards (a backfill of an older window keeps the place of the cron runs).
    """
    target = min(parse_iso(newest).replace(microsecond=0) if newest else window.end, now)
    if previous is not None and target < previous:
        return f"kept at {checkpoint.raw} (this window ended earlier)"
    text = checkpoint.write(target)
    moved = f"-> {text}"
    if checkpoint.format.tz is not UTC:
        moved += f" ({tz_name}, {iso_z(target)})"
    return moved


@dataclass(frozen=True)
class UserActionsSettings:
    """Everything one run needs, read once from the options and the settings registry."""

    opencast: OpencastSettings
    output: str
    start: datetime | None
    end: datetime | None
    interval: int
    batch_size: int
    wait: float
    queue_name: str | None
    archive: str | None
    max_span: int | None  # None: --disable-start-end-span-check
    update_last_ts: bool
    mode: str  # OPENCAST_USERTRACKING_MODE
    window_tz: str  # OPENCAST_WINDOW_TZ
    cache_ttl: int  # EPISODE_CACHE_EXPIRE
    lookup_concurrency: int  # OPENCAST_LOOKUP_CONCURRENCY
    redis_url: str | None
    checkpoint_tz: str  # CHECKPOINT_TZ as written
    s3_bucket: str | None
    s3_key: str | None

    @classmethod
    def from_options(cls, *, engage_host: str, user: str, password: str, output: str,
                     start: datetime | None, end: datetime | None, interval: int, batch_size: int,
                     wait: float, queue_name: str | None, archive: str | None, span_check: bool,
                     update_last_ts: bool) -> UserActionsSettings:
        """Options as the command received them, plus the registry's settings (checked here)."""
        from harvester.config import env, env_choice, env_int, mask
        from harvester.jobs.opencast import opencast_settings
        from harvester.sources.opencast.useractions import MODES, WINDOW_TZ

        redis_url = env("REDIS_URL")
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"invalid REDIS_URL: {mask(redis_url)!r}; expected redis://host:port/db")
        checkpoint_tz = describe_zone(env("CHECKPOINT_TZ"))
        checkpoint_zone(checkpoint_tz)  # a bad zone is reported before anything is fetched
        return cls(
            opencast=opencast_settings(engage_host, user, password), output=output, start=start,
            end=end, interval=interval, batch_size=batch_size, wait=wait, queue_name=queue_name,
            archive=archive, max_span=env_int("MAX_START_END_SPAN", minimum=1) if span_check else None,
            update_last_ts=update_last_ts, mode=env_choice("OPENCAST_USERTRACKING_MODE", MODES),
            window_tz=env_choice("OPENCAST_WINDOW_TZ", WINDOW_TZ),
            cache_ttl=env_int("EPISODE_CACHE_EXPIRE") or 0,
            lookup_concurrency=env_int("OPENCAST_LOOKUP_CONCURRENCY", minimum=1) or 1,
            redis_url=redis_url, checkpoint_tz=checkpoint_tz,
            s3_bucket=env("S3_HARVEST_TS_BUCKET"), s3_key=env("S3_LAST_ACTION_TS_KEY"))


@dataclass
class Summary:
    fields: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = "unchanged"
    invalid_examples: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        f = self.fields
        return (f"useractions done: window {f['window_start']} .. {f['window_end']}, fetched "
                f"{f['fetched']}, delivered {f['delivered']}, episode lookups {f['episode_lookups']}, "
                f"cache hits {f['cache_hits']}, unknown episodes {f['unknown_episodes']}, "
                f"{f['seconds']:.2f}s; checkpoint {self.checkpoint}")


def run(settings: UserActionsSettings) -> Summary:
    """One harvest of user actions into the configured sink."""
    from harvester.datasets import USERACTIONS
    from harvester.pipeline import Delivery, Progress, deliver
    from harvester.sinks import open_sink
    from harvester.sources.opencast.client import OpencastClient
    from harvester.sources.opencast.useractions import EpisodeEnricher, UserActionSource
    from harvester.state.cache import open_cache
    from harvester.state.lock import run_lock

    tz = checkpoint_zone(settings.checkpoint_tz)
    checkpoint = open_typed(CHECKPOINT_NAME, CompactTime(tz), s3_bucket=settings.s3_bucket,
                            s3_key=settings.s3_key)
    client = OpencastClient.from_settings(settings.opencast)
    with run_lock(lock_name(settings.s3_bucket, settings.s3_key), settings.redis_url):
        wanted = settings.start is None or settings.update_last_ts
        stored = checkpoint.read() if wanted else None
        now = utcnow()
        window = harvest_window(settings.start, settings.end, stored, settings.interval, now)
        span_check(window, settings.max_span, checkpoint.description)
        log.info("harvesting useractions %s .. %s (start from %s) into %s", iso_z(window.start),
                 iso_z(window.end), window.start_from, settings.output)

        source = UserActionSource(client, window.start, window.end, batch_size=settings.batch_size,
                                  wait=settings.wait, mode=settings.mode, window_tz=settings.window_tz)
        enricher = EpisodeEnricher(client, open_cache(settings.redis_url), ttl=settings.cache_ttl,
                                   stats=source.stats, concurrency=settings.lookup_concurrency)
        newest: list[str] = []
        summary = Summary()

        def track(batch: list[dict]) -> None:
            latest = max(r["timestamp"] for r in batch)
            if not newest or latest > newest[0]:
                newest[:] = [latest]

        def commit(_delivery: Delivery) -> None:
            if settings.update_last_ts:
                summary.checkpoint = advance(checkpoint, stored, newest[0] if newest else None,
                                             window, now, describe_zone(settings.checkpoint_tz))

        sink = open_sink(settings.output, USERACTIONS, {"queue_name": settings.queue_name},
                         archive=settings.archive)
        try:
            with sink:
                result = deliver(source, sink, transform=enricher.enrich, on_batch=track,
                                 progress=Progress("useractions"), commit=commit)
        finally:
            enricher.close()

    stats = source.stats
    summary.fields = {
        "window_start": iso_z(window.start), "window_end": iso_z(window.end), "mode": stats.mode,
        "fetched": stats.fetched, "delivered": result.delivered, "requests": stats.requests,
        "episode_lookups": stats.episode_lookups, "cache_hits": stats.cache_hits,
        "unknown_episodes": stats.unknown_episodes, "duplicates": stats.duplicates,
        "day_rounds": stats.day_rounds,
        "invalid": stats.invalid, "sink_requests": sink.requests,
        "seconds": round(result.seconds, 3),
    }
    summary.invalid_examples = stats.errors[:3]
    return summary

