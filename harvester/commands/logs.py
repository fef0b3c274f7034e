"""`harvest logs aggregate`: video-player event logs -> per-stream summaries (or per-video rollups).

A thin layer: options are checked here, inputs are resolved by harvester.sources.playerlogs,
the work is done by harvester.aggregate (DuckDB or Spark), records leave through the shared
sinks (stdout, JSON lines, Elasticsearch, archive) or as Parquet written by the engine.
"""

from __future__ import annotations

import logging
import re
import time

import click

from harvester.cli import HarvestCommand, HarvestGroup
from harvester.config import EnvOption

log = logging.getLogger("harvester.logs")

MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
OUTPUT_HINT = "'-o' / '--output'"


@click.group(cls=HarvestGroup)
def logs() -> None:
    """Video-player event logs (docs/player-logs.md)."""


def _output_kind(output: str) -> str:
    """'-', 'es', 'jsonl' or 'parquet'; anything else is a usage error (exit 2)."""
    if output in ("-", "es"):
        return output
    low = output.lower()
    if low.endswith(".parquet"):
        return "parquet"
    if low.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    raise click.BadParameter(f"{output!r}: expected -, es, a path ending .jsonl or a path ending .parquet",
                             param_hint=OUTPUT_HINT)


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
    from harvester.datasets import PLAYER_STREAMS, PLAYER_VIDEOS

    kind = _output_kind(output)
    if not MEMORY.match(memory_limit.strip()):
        raise click.BadParameter(f"{memory_limit!r}: expected a size such as 512MB or 2GB",
                                 param_hint="'--memory-limit' (environment variable LOGS_DUCKDB_MEMORY)")
    if engine == "spark":
        from harvester.aggregate.spark_engine import spark_available

        problem = spark_available()
        if problem:
            raise click.BadParameter(problem, param_hint="'--engine'")
    dataset = PLAYER_STREAMS if by == "stream" else PLAYER_VIDEOS
    options = {"es_host": es_host}
    # Open the outputs first: a bad --archive or an unreachable ES fails before any work is done.
    sink = None
    if kind != "parquet":
        from harvester.sinks import open_sink

        sink = open_sink(output, dataset, options, archive=archive)
    elif archive:
        from harvester.sinks import open_sink

        sink = open_sink(archive, dataset, options)
    try:
        _run(inputs, engine, by, kind, output, spark_master, memory_limit.strip(), sink)
    finally:
        if sink is not None:
            sink.close()


def _run(inputs, engine, by, kind, output, spark_master, memory_limit, sink) -> None:
    from harvester.aggregate import run_aggregation
    from harvester.sinks.jsonlines import JsonLinesSink
    from harvester.sources.playerlogs import InputError, resolve_inputs

    started = time.monotonic()
    try:
        resolved = resolve_inputs(list(inputs))
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'INPUT...'") from None
    if engine == "duckdb":
        from harvester.sources.playerlogs import is_remote

        remote = [f.uri for f in resolved.files if is_remote(f.uri)]
        if remote:
            raise click.BadParameter(f"{remote[0]}: only --engine spark on a cluster reads this kind of URI",
                                     param_hint="'INPUT...'")
    for spec in resolved.empty:
        log.warning("%s: no files", spec)
    if not resolved.files:
        log.warning("nothing to aggregate: no input files",
                    extra={"files": 0, "input_bytes": 0, "streams": 0, "lines": 0})
        return
    log.info("aggregating %d file(s), %.1f MB, engine %s, by %s", len(resolved.files),
             resolved.total_bytes / 1e6, engine, by)
    delivered = 0
    with run_aggregation([f.uri for f in resolved.files], engine=engine, by=by, spark_master=spark_master,
                         memory_limit=memory_limit) as agg:
        if kind == "parquet":
            agg.write_parquet(output)
            delivered = agg.counters.streams if by == "stream" else agg.counters.videos
        if isinstance(sink, JsonLinesSink):  # the engine encodes the lines: no dicts in between
            for lines in agg.json_lines(5000):
                sink.write_lines(lines)
            sink.flush()
        elif sink is not None:
            for batch in agg.batches(1000):
                sink.write(batch)
            sink.flush()
            if kind != "parquet":
                delivered = sink.delivered
        counters = agg.counters
    elapsed = max(time.monotonic() - started, 1e-9)
    mb = resolved.total_bytes / 1e6
    fields = counters.as_dict()
    fields.update({"files": len(resolved.files), "input_bytes": resolved.total_bytes,
                   "seconds": round(elapsed, 3), "mb_per_s": round(mb / elapsed, 1), "engine": engine,
                   "records": delivered, "output": output})
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(counters.unparsable.items()))
    log.info("aggregated %d line(s): %d event(s), %d unparsable%s, %d bad data, %d keyless; %d stream(s)%s; "
             "%d record(s) to %s; %.1f MB in %.2f s (%.1f MB/s)",
             counters.total, counters.events, counters.unparsable_total, f" ({reasons})" if reasons else "",
             counters.bad_data, counters.keyless, counters.streams,
             f", {counters.videos} video-day(s)" if by == "video" else "", delivered, output, mb, elapsed,
             mb / elapsed, extra=fields)


def doctor_check() -> list[tuple[str, str, str]]:
    """`harvest doctor` lines for this command's engines (see harvester.aggregate.doctor_check)."""
    from harvester.aggregate import doctor_check as engines

    return engines()
