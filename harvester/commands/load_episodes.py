"""`harvest load-episodes` (alias `load_episodes`): episode metadata into the episodes index.

Options -> LoadEpisodesSettings -> harvester.jobs.load_episodes.run -> summary. What is
fetched and how Opencast versions differ lives in harvester.sources.opencast.episodes.
"""

from __future__ import annotations

import logging

import click

from harvester.cli import HarvestCommand
from harvester.commands.options import opencast_credentials
from harvester.config import EnvOption, require

log = logging.getLogger("harvester.load_episodes")


@click.command(cls=HarvestCommand)
@click.option("-A", "--admin-host", cls=EnvOption, envvar="MATTERHORN_ADMIN_HOST",
              help="Opencast admin node (workflows, recordings): hostname or IP (http) or URL.")
@click.option("-E", "--engage-host", cls=EnvOption, envvar="MATTERHORN_ENGAGE_HOST",
              help="Opencast engage node (search): hostname or IP (http) or URL.")
@opencast_credentials
@click.option("-e", "--es-host", cls=EnvOption, envvar="ES_HOST", default="localhost:9200",
              show_default=True, help="Elasticsearch host:port or URL.")
@click.option("-t", "--target-index", default="episodes", show_default=True,
              help="Index receiving the episode documents.")
@click.option("-s", "--source-index-pattern", default=None, metavar="PATTERN",
              help="Indices whose mpids are loaded; default: useractions*-<yesterday YYYY.MM.DD>.")
@click.option("--mpid", "mpids", multiple=True, metavar="MPID",
              help="Load these mediapackages instead (repeatable); Elasticsearch is then only written.")
@click.option("-w", "--wait", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds to wait between episodes (spares the Opencast admin node).")
@click.option("--output", type=click.Choice(["es", "-"]), default="es", show_default=True,
              help="es: index into --target-index; -: print the documents as JSON lines.")
@click.option("--archive", metavar="TARGET",
              help="Also archive the documents (s3://bucket/prefix/ or dir:PATH).")
@click.pass_context
def load_episodes(ctx: click.Context, admin_host: str | None, engage_host: str | None, user: str | None,
                  password: str | None, es_host: str, target_index: str, source_index_pattern: str | None,
                  mpids: tuple[str, ...], wait: float, output: str, archive: str | None) -> None:
    """Episode metadata for every mediapackage seen in yesterday's useractions -> Elasticsearch.

    For each mpid: Opencast search (engage node), workflows and scheduling metadata (admin
    node); one document per episode with the mpid as _id. An episode that cannot be fetched,
    is unknown or has no start is skipped and counted; the run still succeeds.

    \b
    Examples:
      harvest load-episodes
      harvest load-episodes -s 'useractions*-2026.11.*' -w 0.2
      harvest load-episodes --mpid 6f0f5c1e-... --output -
    """
    from harvester.jobs.load_episodes import LoadEpisodesSettings, run

    for name, value in (("admin_host", admin_host), ("engage_host", engage_host), ("user", user),
                        ("password", password)):
        require(ctx, name, value)
    summary = run(LoadEpisodesSettings.from_options(
        admin_host=admin_host, engage_host=engage_host, user=user, password=password,  # type: ignore[arg-type]
        es_host=es_host, target_index=target_index, source_index_pattern=source_index_pattern,
        mpids=mpids, wait=wait, output=output, archive=archive))
    log.info("load-episodes from %s: %s", summary.where, summary.line, extra=summary.fields)
