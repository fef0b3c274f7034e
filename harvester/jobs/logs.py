"""The `harvest logs aggregate` job: check the settings, open the outputs, aggregate, deliver.

`run` receives a `LogsSettings` (built by the command from its options) and returns a
`LogsSummary` for the command's closing log line. Records leave through
`harvester.pipeline.deliver`: as JSON lines encoded by the engine when the output is stdout
or a JSON-lines file alone (no dicts are built), else as records for the shared sinks;
Parquet is written by the engine itself. There is no checkpoint: a run reads what it is given.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from harvester.aggregate.result import Counters
from harvester.errors import ConfigError

log = logging.getLogger("harvester.logs")

MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
OUTPUT_HINT = "'-o' / '--output'"
INPUT_HINT = "'INPUT...'"


@dataclass(frozen=True)
class LogsSettings:
    """What one `logs aggregate` run reads, how, and where the records go."""

    inputs: tuple[str, ...]
    engine: str = "duckdb"
    by: str = "stream"
    output: str = "-"
    archive: str | None = None
    spark_master: str | None = None
    memory_limit: str = "512MB"
    es_host: str | None = None


@dataclass
class LogsSummary:
    """The outcome of a run; `files == 0` means there was nothing to aggregate."""

    settings: LogsSettings
    files: int = 0
    input_bytes: int = 0
    seconds: float = 0.0
    records: int = 0
    counters: Counters = field(default_factory=Counters)

    @property
    def mb(self) -> float:
        return self.input_bytes / 1e6

    @property
    def mb_per_s(self) -> float:
        return self.mb / max(self.seconds, 1e-9)

    def fields(self) -> dict[str, object]:
        """The structured fields of the closing log line."""
        fields = self.counters.as_dict()
        fields.update({"files": self.files, "input_bytes": self.input_bytes,
                       "seconds": round(self.seconds, 3), "mb_per_s": round(self.mb_per_s, 1),
                       "engine": self.settings.engine, "records": self.records,
                       "output": self.settings.output})
        return fields


def output_kind(output: str) -> str:
    """'-', 'es', 'jsonl' or 'parquet'; anything else is a usage error (exit 2)."""
    if output in ("-", "es"):
        return output
    low = output.lower()
    if low.endswith(".parquet"):
        return "parquet"
    if low.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    raise ConfigError(f"{output!r}: expected -, es, a path ending .jsonl or a path ending .parquet",
                      OUTPUT_HINT)


def check(settings: LogsSettings) -> str:
    """Usage errors before any work (exit 2); returns the output kind."""
    kind = output_kind(settings.output)
    if not MEMORY.match(settings.memory_limit.strip()):
        raise ConfigError(f"{settings.memory_limit!r}: expected a size such as 512MB or 2GB",
                          "'--memory-limit' (environment variable LOGS_DUCKDB_MEMORY)")
    if settings.engine == "spark":
        from harvester.aggregate.spark_engine import spark_available

        problem = spark_available()
        if problem:
            raise ConfigError(problem, "'--engine'")
    return kind


def run(settings: LogsSettings) -> LogsSummary:
    """Aggregate the inputs and deliver the records; raises the project's errors."""
    from harvester.datasets import PLAYER_STREAMS, PLAYER_VIDEOS
    from harvester.sinks import open_sink

    kind = check(settings)
    dataset = PLAYER_STREAMS if settings.by == "stream" else PLAYER_VIDEOS
    options = {"es_host": settings.es_host}
    # Open the outputs first: a bad --archive or an unreachable ES fails before any work is done.
    sink = None
    if kind != "parquet":
        sink = open_sink(settings.output, dataset, options, archive=settings.archive)
    elif settings.archive:
        sink = open_sink(settings.archive, dataset, options)
    try:
        return _aggregate(settings, kind, sink)
    finally:
        if sink is not None:
            sink.close()


def _aggregate(settings: LogsSettings, kind: str, sink) -> LogsSummary:
    from harvester.aggregate import run_aggregation
    from harvester.pipeline import deliver
    from harvester.sinks.jsonlines import EncodedLines, JsonLinesSink
    from harvester.sources.playerlogs import InputError, is_remote, resolve_inputs

    started = time.monotonic()
    summary = LogsSummary(settings)
    try:
        resolved = resolve_inputs(list(settings.inputs))
    except InputError as exc:
        raise ConfigError(str(exc), INPUT_HINT) from None
    if settings.engine == "duckdb":
        remote = [f.uri for f in resolved.files if is_remote(f.uri)]
        if remote:
            raise ConfigError(f"{remote[0]}: only --engine spark on a cluster reads this kind of URI",
                              INPUT_HINT)
    for spec in resolved.empty:
        log.warning("%s: no files", spec)
    if not resolved.files:
        log.warning("nothing to aggregate: no input files",
                    extra={"files": 0, "input_bytes": 0, "streams": 0, "lines": 0})
        return summary
    log.info("aggregating %d file(s), %.1f MB, engine %s, by %s", len(resolved.files),
             resolved.total_bytes / 1e6, settings.engine, settings.by)
    with run_aggregation([f.uri for f in resolved.files], engine=settings.engine, by=settings.by,
                         spark_master=settings.spark_master,
                         memory_limit=settings.memory_limit.strip()) as agg:
        if kind == "parquet":
            agg.write_parquet(settings.output)
            summary.records = agg.counters.streams if settings.by == "stream" else agg.counters.videos
        if isinstance(sink, JsonLinesSink):  # the engine encodes the lines: no dicts in between
            deliver(agg.json_lines(5000), EncodedLines(sink))
        elif sink is not None:
            deliver(agg.batches(1000), sink)
        if kind != "parquet":
            summary.records = sink.delivered
        summary.counters = agg.counters
    summary.files, summary.input_bytes = len(resolved.files), resolved.total_bytes
    summary.seconds = max(time.monotonic() - started, 1e-9)
    return summary
