"""`harvest zoom`: Zoom meetings and participant sessions (API v2) -> Elasticsearch or stdout.

Options -> a ZoomJob -> harvester.jobs.zoom.run -> the summary line. Planning days, sinks and
the checkpoint live in the job; fetching and normalizing in harvester.sources.zoom.
"""

from __future__ import annotations

import logging

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
    from harvester.jobs.zoom import ZoomJob, run, summary, zoom_settings

    job = ZoomJob(
        zoom=zoom_settings(account_id, client_id, client_secret),
        day=day.date() if day else None, start=start_date.date() if start_date else None,
        end=end_date.date() if end_date else None, destination=destination,
        es_host=es_host or env("ES_HOST"), original=doc_style.lower() == "original",
        meetings_index=meetings_index, sessions_index=sessions_index, geolite=geolite, archive=archive,
        update_checkpoint=update_checkpoint, checkpoint_bucket=env("S3_HARVEST_TS_BUCKET"),
        checkpoint_key=env("ZOOM_CHECKPOINT_S3_KEY"), redis_url=env("REDIS_URL"))
    result = run(job)
    if result is not None:
        text, extra = summary(result)
        log.info(text, extra=extra)
