"""`harvest useractions`: Opencast user tracking -> episode enrichment -> SQS (or -, file, es).

This module only reads options, builds the source, the sink and the state, and wires them;
fetching lives in harvester.sources.opencast.useractions, delivery in harvester.pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import click

from harvester.cli import HarvestCommand
from harvester.commands.options import opencast_credentials
from harvester.config import EnvOption, env, env_choice, env_int, mask, require
from harvester.errors import SkippedRun
from harvester.timeutil import (
    compact_option,
    format_compact_in,
    iso_z,
    parse_compact_in,
    utcnow,
    zone,
)

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


def checkpoint_zone() -> tzinfo:
    """CHECKPOINT_TZ: the zone a bare checkpoint is written in (the original wrote server time)."""
    raw = env("CHECKPOINT_TZ") or "UTC"
    try:
        return zone(raw)
    except ValueError as exc:
        raise click.UsageError(f"invalid value for CHECKPOINT_TZ: {exc}. A checkpoint written by "
                               "the original tool is in the Opencast server's zone, e.g. "
                               "CHECKPOINT_TZ=America/New_York or -04:00") from None


def describe_zone() -> str:
    """CHECKPOINT_TZ as the operator wrote it."""
    return (env("CHECKPOINT_TZ") or "UTC").strip()


def parse_checkpoint(value: str, where: str, tz: tzinfo = UTC) -> datetime:
    """The original tool's bare `YYYYMMDDHHmmss`, read in `tz`; a corrupt value is an operator error."""
    try:
        return parse_compact_in(value, tz)
    except ValueError as exc:
        raise click.UsageError(
            f"the checkpoint {where} holds {value[:40]!r}, which is not YYYYMMDDHHmmss ({exc}); "
            "fix or delete it, or give --start") from None


def harvest_window(start: datetime | None, end: datetime | None, checkpoint: str | None,
                   interval_minutes: int, now: datetime, checkpoint_where: str = "",
                   checkpoint_tz: tzinfo = UTC) -> Window:
    """start = --start, else the checkpoint, else now - interval; end = --end, else now."""
    end = end or now
    if start is not None:
        window = Window(start, end, "option")
    elif checkpoint:
        window = Window(parse_checkpoint(checkpoint, checkpoint_where, checkpoint_tz), end, "checkpoint")
    else:
        window = Window(end - timedelta(minutes=interval_minutes), end, "interval")
    if window.start > window.end:
        raise click.UsageError(f"the window starts after it ends ({iso_z(window.start)} > "
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


@click.command(cls=HarvestCommand)
@click.option("-s", "--start", callback=compact_option, metavar="YYYYMMDDHHmmss",
              help="Window start (UTC); default: the checkpoint, else now - interval.")
@click.option("-e", "--end", callback=compact_option, metavar="YYYYMMDDHHmmss",
              help="Window end (UTC); default: now.")
@click.option("-i", "--interval", cls=EnvOption, envvar="DEFAULT_INTERVAL", type=click.IntRange(min=1),
              default=2, show_default=True, help="Minutes to harvest when there is no checkpoint.")
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Actions per request.")
@click.option("-w", "--wait", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds between batch requests.")
@click.option("-H", "--engage-host", cls=EnvOption, envvar="MATTERHORN_ENGAGE_HOST",
              help="Opencast engage node: hostname or IP (http, as the original) or URL.")
@opencast_credentials
@click.option("-o", "--output", default="sqs", show_default=True,
              help="sqs, - (JSON lines on stdout), es, or a file path (JSON lines, appended).")
@click.option("-q", "--queue-name", cls=EnvOption, envvar="SQS_QUEUE_NAME",
              help="SQS queue (created if missing); required when output is sqs.")
@click.option("--archive", metavar="TARGET",
              help="Also archive the records (s3://bucket/prefix/ or dir:PATH).")
@click.option("--disable-start-end-span-check", is_flag=True,
              help="Harvest even when the window is longer than MAX_START_END_SPAN seconds.")
@click.option("--update-last-ts/--no-update-last-ts", default=True,
              help="Advance the checkpoint after delivery (default; not for --output - unless given).")
@click.pass_context
def useractions(ctx: click.Context, start, end, interval, batch_size, wait, engage_host, user, password,
                output, queue_name, archive, disable_start_end_span_check, update_last_ts) -> None:
    """Harvest Opencast user-tracking events, enrich them with episode metadata, deliver them.

    \b
    Examples:
      harvest useractions                          # cron: from the checkpoint to now, into SQS
      harvest useractions -b 100 -i 1 --output -   # debug: the last minute as JSON lines
      harvest useractions -s 20261101000000 -e 20261102000000 --no-update-last-ts   # backfill
    """
    from harvester.datasets import USERACTIONS
    from harvester.pipeline import Progress, deliver
    from harvester.sinks import open_sink
    from harvester.sources.opencast.client import OpencastClient
    from harvester.sources.opencast.useractions import MODES, WINDOW_TZ, EpisodeEnricher, UserActionSource
    from harvester.state.cache import open_cache
    from harvester.state.checkpoint import open_checkpoint
    from harvester.state.lock import run_lock

    require(ctx, "engage_host", engage_host)
    require(ctx, "user", user)
    require(ctx, "password", password)
    if output == "sqs":
        require(ctx, "queue_name", queue_name)
    mode = env_choice("OPENCAST_USERTRACKING_MODE", MODES)
    window_tz = env_choice("OPENCAST_WINDOW_TZ", WINDOW_TZ)
    max_span = None if disable_start_end_span_check else env_int("MAX_START_END_SPAN", minimum=1)
    cache_ttl = env_int("EPISODE_CACHE_EXPIRE", 1800) or 0
    redis_url = env("REDIS_URL")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise click.UsageError(f"invalid REDIS_URL: {mask(redis_url)!r}; expected redis://host:port/db")
    if not output:
        raise click.BadParameter("must not be empty", param_hint="'-o' / '--output'")
    explicit_update = ctx.get_parameter_source("update_last_ts") == click.core.ParameterSource.COMMANDLINE
    if output == "-" and not explicit_update:
        update_last_ts = False  # a debugging dump must not move the production checkpoint

    cp_tz = checkpoint_zone()
    checkpoint = open_checkpoint(CHECKPOINT_NAME, s3_bucket=env("S3_HARVEST_TS_BUCKET"),
                                 s3_key=env("S3_LAST_ACTION_TS_KEY"))
    client = OpencastClient.from_settings(engage_host, user, password)
    lock_name = "useractions"
    if env("S3_HARVEST_TS_BUCKET") and env("S3_LAST_ACTION_TS_KEY"):
        lock_name += f"-{env('S3_HARVEST_TS_BUCKET')}-{env('S3_LAST_ACTION_TS_KEY')}"
    with run_lock(lock_name, redis_url):
        stored = checkpoint.read() if (start is None or update_last_ts) else None
        now = utcnow()
        window = harvest_window(start, end, stored, interval, now, checkpoint.description, cp_tz)
        span_check(window, max_span, checkpoint.description)
        log.info("harvesting useractions %s .. %s (start from %s) into %s", iso_z(window.start),
                 iso_z(window.end), window.start_from, output)

        source = UserActionSource(client, window.start, window.end, batch_size=batch_size, wait=wait,
                                  mode=mode, window_tz=window_tz)
        cache = open_cache(redis_url)
        enricher = EpisodeEnricher(client, cache, ttl=cache_ttl, stats=source.stats,
                                   concurrency=env_int("OPENCAST_LOOKUP_CONCURRENCY", 4, minimum=1) or 1)
        newest: list[str] = []

        def track(batch: list[dict]) -> None:
            latest = max(r["timestamp"] for r in batch)
            if not newest or latest > newest[0]:
                newest[:] = [latest]

        sink = open_sink(output, USERACTIONS, {"queue_name": queue_name}, archive=archive)
        try:
            with sink:
                result = deliver(source, sink, transform=enricher.enrich, on_batch=track,
                                 progress=Progress("useractions"))
        finally:
            enricher.close()

        moved = "unchanged"
        if update_last_ts:
            from harvester.timeutil import parse_iso

            # Never into the future: an --end beyond now must not make later runs start there.
            target = min(parse_iso(newest[0]).replace(microsecond=0) if newest else window.end, now)
            previous = parse_checkpoint(stored, checkpoint.description, cp_tz) if stored else None
            if previous is not None and target < previous:
                moved = f"kept at {stored} (this window ended earlier)"
            else:
                checkpoint.write(format_compact_in(target, cp_tz))
                moved = f"-> {format_compact_in(target, cp_tz)}"
                if cp_tz is not UTC:
                    moved += f" ({describe_zone()}, {iso_z(target)})"
        stats = source.stats
        summary = {
            "window_start": iso_z(window.start), "window_end": iso_z(window.end), "mode": stats.mode,
            "fetched": stats.fetched, "delivered": result.delivered, "requests": stats.requests,
            "episode_lookups": stats.episode_lookups, "cache_hits": stats.cache_hits,
            "unknown_episodes": stats.unknown_episodes, "duplicates": stats.duplicates,
            "day_rounds": stats.day_rounds,
            "invalid": stats.invalid, "sink_requests": sink.requests,
            "seconds": round(result.seconds, 3),
        }
        if stats.invalid:
            log.warning("%d action(s) could not be read and were skipped, e.g. %s", stats.invalid,
                        "; ".join(stats.errors[:3]))
        log.info("useractions done: window %s .. %s, fetched %d, delivered %d, episode lookups %d, "
                 "cache hits %d, unknown episodes %d, %.2fs; checkpoint %s",
                 summary["window_start"], summary["window_end"], stats.fetched, result.delivered,
                 stats.episode_lookups, stats.cache_hits, stats.unknown_episodes, result.seconds, moved,
                 extra={"summary": summary})
