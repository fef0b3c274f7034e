"""`harvest logs aggregate`: video-player event logs -> per-stream summaries (or per-video rollups).

Options -> `harvester.jobs.logs.LogsSettings` -> `harvester.jobs.logs.run` -> the closing log
line. The job checks the settings, resolves the inputs (harvester.sources.playerlogs), runs
harvester.aggregate (DuckDB or Spark) and delivers the records through harvester.pipeline
(stdout, JSON lines, Elasticsearch, archive) or as Parquet written by the engine.
"""

from __future__ import annotations

import logging

import click

from harvester.cli import HarvestCommand, HarvestGroup
from harvester.config import EnvOption

log = logging.getLogger("harvester.logs")


@click.group(cls=HarvestGroup)
def logs() -> None:
    """Video-player event logs (docs/player-logs.md)."""


@logs.command(cls=HarvestCommand)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="duckdb: embedded, in-process; spark: Apache Spark (pip install 'harvester[spark]').")
@click.option("--by", "by", type=click.Choice(["stream", "video"]), default="stream", show_default=True,
              help="One record per playback stream, or per video and day.")
@click.option("-o", "--output", default="-", show_default=True,
              help="- (JSON lines on stdout), es, or a path ending .jsonl (appended) or .parquet (replaced).")
@click.option("--archive", metavar="TARGET",
              help="Also archive the records (s3://bucket/prefix/ or dir:PATH).")
@click.option("--spark-master", cls=EnvOption, envvar="SPARK_MASTER", default=None,
              help="Spark master, e.g. local[*], yarn, spark://host:7077 [default: local[*], or what "
                   "spark-submit set].")
@click.option("--memory-limit", cls=EnvOption, envvar="LOGS_DUCKDB_MEMORY", default="512MB",
              show_default=True, help="DuckDB memory limit; beyond it, work spills to a temporary directory.")
@click.option("--es-host", cls=EnvOption, envvar="ES_HOST", help="Elasticsearch for --output es.")
def aggregate(inputs: tuple[str, ...], engine: str, by: str, output: str, archive: str | None,
              spark_master: str | None, memory_limit: str, es_host: str | None) -> None:
    """Summarise video-player event logs per playback stream (or per video with --by video).

    INPUT: files, directories, globs, .gz files, or s3://bucket/prefix/ locations.

    \b
    Examples:
      harvest logs aggregate /var/log/player/2026-11-23.log.gz
      harvest logs aggregate 'logs/**/*.gz' --by video -o videos.jsonl
      harvest logs aggregate s3://bucket/player-logs/2026-11-23/ -o es
      harvest logs aggregate s3://bucket/player-logs/ --engine spark --spark-master yarn -o out.parquet
    """
    from harvester.jobs import logs as job

    summary = job.run(job.LogsSettings(inputs=inputs, engine=engine, by=by, output=output, archive=archive,
                                       spark_master=spark_master, memory_limit=memory_limit,
                                       es_host=es_host))
    if not summary.files:
        return
    c = summary.counters
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(c.unparsable.items()))
    log.info("aggregated %d line(s): %d event(s), %d unparsable%s, %d bad data, %d keyless; %d stream(s)%s; "
             "%d record(s) to %s; %.1f MB in %.2f s (%.1f MB/s)",
             c.total, c.events, c.unparsable_total, f" ({reasons})" if reasons else "", c.bad_data, c.keyless,
             c.streams, f", {c.videos} video-day(s)" if by == "video" else "", summary.records, output,
             summary.mb, summary.seconds, summary.mb_per_s, extra=summary.fields())
