"""`harvest zoom`: Zoom meetings and participant sessions (API v2) -> Elasticsearch or stdout.

Reads options, builds the Zoom source, the two sinks (meetings, sessions) and the checkpoint,
and hands them to harvester.jobs.zoom; fetching and normalizing live in the source.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import click

from harvester.cli import HarvestCommand
from harvester.config import EnvOption, env

log = logging.getLogger("harvester.zoom")

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command(cls=HarvestCommand)
@click.option("--date", "day", type=DAY, metavar="YYYY-MM-DD",
              help="Harvest this one day (UTC). Default: every day after the checkpoint up to "
                   "yesterday, or yesterday when there is no checkpoint.")
@click.option("--start-date", type=DAY, metavar="YYYY-MM-DD",
              help="Backfill from this day (inclusive), day by day.")
@click.option("--end-date", type=DAY, metavar="YYYY-MM-DD",
              help="Last day of the backfill (inclusive); default: yesterday.")
@click.option("--destination", type=click.Choice(["index", "stdout"]), default="index", show_default=True,
              help="index: Elasticsearch; stdout: JSON lines, each with doc_type meeting or session.")
@click.option("-e", "--es-host", cls=EnvOption, envvar="ES_HOST",
              help="Elasticsearch host:port or URL (default localhost:9200).")
@click.option("--account-id", cls=EnvOption, envvar="ZOOM_ACCOUNT_ID", required=True,
              help="Server-to-Server OAuth account id.")
@click.option("--key", "--client-id", "client_id", cls=EnvOption, envvar=["ZOOM_CLIENT_ID", "ZOOM_KEY"],
              required=True, help="Server-to-Server OAuth client id.")
@click.option("--secret", "--client-secret", "client_secret", cls=EnvOption,
              envvar=["ZOOM_CLIENT_SECRET", "ZOOM_SECRET"], required=True,
              help="Server-to-Server OAuth client secret.")
@click.option("--doc-style", cls=EnvOption, envvar="ZOOM_DOC_STYLE", default="original", show_default=True,
              type=click.Choice(["original", "current"], case_sensitive=False),
              help="original: the original harvester's indices (meetings-*, sessions-*) and field "
                   "names; current: zoom-meetings-*, zoom-sessions-* with flat names.")
@click.option("--meetings-index", cls=EnvOption, envvar="ZOOM_MEETINGS_INDEX",
              help="Index prefix of meeting documents (+ -YYYY.MM.DD of the start); default "
                   "meetings (original style) or zoom-meetings (current).")
@click.option("--sessions-index", cls=EnvOption, envvar="ZOOM_SESSIONS_INDEX",
              help="Index prefix of session documents (+ -YYYY.MM.DD of the join); default "
                   "sessions (original style) or zoom-sessions (current).")
@click.option("--geolite", cls=EnvOption, envvar="GEOLITE_PATH", metavar="PATH",
              help="GeoLite2/GeoIP2 City .mmdb file: sessions get geoip (and country, city) from it; "
                   "unset: the ingest pipeline's geoip processor, where the cluster has one.")
@click.option("--archive", metavar="TARGET",
              help="Also archive the documents (s3://bucket/prefix/ or dir:PATH).")
@click.option("--update-checkpoint/--no-update-checkpoint", default=None,
              help="Advance the checkpoint after each harvested day (default: yes for index, "
                   "no for stdout).")
def zoom(day, start_date, end_date, destination, es_host, account_id, client_id, client_secret,
         doc_style, meetings_index, sessions_index, geolite, archive, update_checkpoint) -> None:
    """Harvest Zoom meetings and participant sessions of past days.

    Every meeting instance (by uuid) becomes a meeting document; every stay of a participant
    (a rejoin is a new stay) a session document. Ids are stable: re-running a day overwrites.

    \b
    Examples:
      harvest zoom                                   # cron: every day since the checkpoint
      harvest zoom --date 2026-11-20 --destination stdout | jq .
      harvest zoom --start-date 2026-10-01 --end-date 2026-10-31   # backfill October
    """
    from harvester.datasets import MEETINGS, SESSIONS, ZOOM_MEETINGS, ZOOM_SESSIONS
    from harvester.geoip import open_geolite
    from harvester.jobs.zoom import RunResult, harvest, parse_checkpoint, plan_days, summary
    from harvester.sinks import open_sink
    from harvester.sources.zoom.original_style import RestyledSink, original_meeting, session_converter
    from harvester.sources.zoom.source import ZoomCredentials, ZoomSource, open_api, rates_from_env
    from harvester.state.checkpoint import open_checkpoint
    from harvester.state.lock import run_lock

    today = datetime.now(UTC).date()
    dates = {"day": day.date() if day else None, "start": start_date.date() if start_date else None,
             "end": end_date.date() if end_date else None}
    # Usage errors (exit 2) come before the lock and before any request.
    if any(dates.values()):
        plan_days(**dates, checkpoint=None, today=today)
    original = doc_style.lower() == "original"
    covered = ("meetings", "sessions") if original else ("zoom-meetings", "zoom-sessions")
    meetings_index = meetings_index or covered[0]
    sessions_index = sessions_index or covered[1]
    if destination == "index":
        _check_index(meetings_index, "--meetings-index", "ZOOM_MEETINGS_INDEX", covered[0])
        _check_index(sessions_index, "--sessions-index", "ZOOM_SESSIONS_INDEX", covered[1])
    rates_from_env()
    geo = open_geolite(geolite)  # a bad path is a usage error (exit 2) before any request
    if update_checkpoint is None:
        update_checkpoint = destination == "index"  # a debugging dump must not move production state
    checkpoint = open_checkpoint("zoom", s3_bucket=env("S3_HARVEST_TS_BUCKET"),
                                 s3_key=env("ZOOM_CHECKPOINT_S3_KEY"))
    api = open_api(ZoomCredentials(account_id, client_id, client_secret))
    source = ZoomSource(api)

    with run_lock("zoom", env("REDIS_URL")):
        stored = parse_checkpoint(checkpoint.read(), checkpoint.description)
        plan = plan_days(**dates, checkpoint=stored, today=today)
        if plan.note:
            log.warning("zoom: %s", plan.note)
        if not plan.days:
            log.info("zoom: nothing new to harvest (checkpoint %s)", stored)
            return
        target = "es" if destination == "index" else "-"
        options = {"es_host": es_host or env("ES_HOST")}
        meetings = open_sink(target, MEETINGS if original else ZOOM_MEETINGS,
                             {**options, "index": meetings_index}, archive=archive)
        sessions = open_sink(target, SESSIONS if original else ZOOM_SESSIONS,
                             {**options, "index": sessions_index}, archive=archive)
        sinks = {"meeting": RestyledSink(meetings, original_meeting) if original else meetings,
                 "session": RestyledSink(sessions, session_converter(original, geo))}
        log.info("zoom: harvesting %d day(s) %s..%s into %s", len(plan.days), plan.days[0], plan.days[-1],
                 " and ".join(s.name for s in sinks.values()) if target == "es" else "stdout")
        result = RunResult(checkpoint=stored)
        try:
            harvest(source, plan, sinks, checkpoint, today=today, result=result, update=update_checkpoint)
        except Exception as exc:
            text, extra = summary(result, api.total_calls, failed=str(exc))
            log.warning(text, extra=extra)
            raise
        finally:
            for sink in sinks.values():
                sink.close()
        text, extra = summary(result, api.total_calls)
        log.info(text, extra=extra)


def _check_index(name: str, option: str, envvar: str, covered: str) -> None:
    """Index prefixes are Elasticsearch names (exit 2 when not); warn when no template covers them."""
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9._+-]*", name or "") or len(name) > 200:
        raise click.BadParameter(f"{name!r} is not a valid index prefix (lowercase letters, digits, . _ + -)",
                                 param_hint=f"'{option}' (environment variable {envvar})")
    if name != covered and not name.startswith(covered + "-"):
        log.warning("zoom: %s %s is not covered by the %s-* index template; its fields get dynamic "
                    "mappings", option, name, covered)
