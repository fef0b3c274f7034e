"""`harvest replay SOURCE`: deliver archived records again, to any output.

The command reads options and hands over to `run_replay()`, which is as usable from Python: read
verified micro-batches in archive order, regroup their records into batches of
`--batch-size`, and write them through the same sinks (and so the same retries, counts and
exit codes) as a live harvest. A micro-batch that is not whole is skipped entirely and
reported; the run then exits 1 unless `--skip-partial` says that is expected.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import click

from harvester.cli import HarvestCommand
from harvester.config import EnvOption, require
from harvester.datasets import REGISTRY
from harvester.errors import HarvestError

log = logging.getLogger("harvester.replay")

#: problems named one by one in the final error; the rest are counted
SHOWN_PROBLEMS = 10


@dataclass
class ReplayResult:
    batches: int = 0
    records: int = 0
    delivered: int = 0
    requests: int = 0
    datasets: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0


def rebatch(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Regroup a stream of records into lists of `size` (the last one shorter)."""
    batch: list[dict] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_replay(source: str, output: str | None, *, filters, batch_size: int = 1000,
               options: Mapping[str, object] | None = None) -> ReplayResult:
    """Replay `source` into `output` (None: only read and verify); returns the counts.

    One sink per dataset met in the archive, fed by the harvests' own `deliver` loop, so
    batching, retries and failure handling are those of a live harvest. Memory holds one
    micro-batch and one output batch. A sink failure stops the run at once (exit 1).
    """
    from harvester.pipeline import Progress, deliver
    from harvester.sinks import open_sink
    from harvester.sources.archive import Batch, Problem, iter_batches, open_source

    store, location = open_source(source)
    result = ReplayResult()
    started = time.monotonic()
    last: list[str] = []

    def verified() -> Iterator[Batch]:
        for item in iter_batches(store, location, filters):
            if isinstance(item, Problem):
                result.problem_count += 1
                if len(result.problems) < SHOWN_PROBLEMS:
                    result.problems.append((item.key, item.reason))
                log.error("skipped %s: %s", item.key, item.reason)
                continue
            name = item.ref.dataset
            if name not in REGISTRY:
                log.warning("skipped %s: unknown dataset %r", item.ref.key, name)
                continue
            result.batches += 1
            result.records += len(item.records)
            result.datasets[name] = result.datasets.get(name, 0) + len(item.records)
            last[:] = [item.ref.key]
            yield item

    try:
        for name, group in itertools.groupby(verified(), key=lambda b: b.ref.dataset):
            batches = rebatch((r for b in group for r in b.records), batch_size)
            if output is None:
                for _ in batches:
                    pass
                continue
            sink = open_sink(output, REGISTRY[name], options or {})
            log.info("replaying %s from %s into %s", name, source, sink.name)
            try:
                with sink:
                    deliver(batches, sink, progress=Progress(f"replay {name}"))
            finally:
                result.delivered += sink.delivered
                result.requests += sink.requests
    except HarvestError:
        log.error("replay stopped after delivering %d records; last micro-batch read: %s",
                  result.delivered, last[0] if last else "none")
        raise
    finally:
        result.seconds = time.monotonic() - started
    return result


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").strftime("%Y-%m-%d")
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD", ctx=ctx, param=param) from None


class _SourceArgument(click.Argument):
    """SOURCE may come from HARVEST_ARCHIVE; a missing one names the variable (exit 2)."""

    def get_error_hint(self, ctx: click.Context) -> str:
        return super().get_error_hint(ctx) + " (environment variable HARVEST_ARCHIVE)"


@click.command("replay", cls=HarvestCommand)
@click.argument("source", cls=_SourceArgument, envvar="HARVEST_ARCHIVE", required=True)
@click.option("-o", "--output", default="-", show_default=True,
              help="sqs, es, - (JSON lines on stdout), s3://bucket/prefix/ or dir:PATH (another "
                   "archive), or a file path (JSON lines, appended).")
@click.option("-d", "--dataset", type=click.Choice(sorted(REGISTRY)),
              help="Only this dataset (default: every dataset found under SOURCE).")
@click.option("--from", "day_from", callback=_day, metavar="YYYY-MM-DD",
              help="First day to replay (inclusive; the records' own UTC day).")
@click.option("--to", "day_to", callback=_day, metavar="YYYY-MM-DD", help="Last day to replay (inclusive).")
@click.option("--date", "day", callback=_day, metavar="YYYY-MM-DD",
              help="Exactly one day (= --from D --to D).")
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Records per write to the output.")
@click.option("-q", "--queue-name", cls=EnvOption, envvar="SQS_QUEUE_NAME",
              help="SQS queue; required when output is sqs.")
@click.option("-e", "--es-host", cls=EnvOption, envvar="ES_HOST", help="Elasticsearch host:port or URL.")
@click.option("--skip-partial", is_flag=True,
              help="Partial or missing micro-batches are reported but do not fail the run (exit 0).")
@click.option("--verify-only", is_flag=True, help="Read and check every micro-batch; deliver nothing.")
@click.pass_context
def replay(ctx: click.Context, source: str, output: str, dataset: str | None, day_from: str | None,
                   day_to: str | None, day: str | None, batch_size: int, queue_name: str | None,
                   es_host: str | None, skip_partial: bool, verify_only: bool) -> None:
    """Re-deliver archived records from SOURCE to any output.

    SOURCE is an archive written with --archive or --output: s3://bucket/prefix/, dir:PATH or a
    path, at any depth (archive, dataset, day, partition, one micro-batch), wildcards allowed.
    Default: the HARVEST_ARCHIVE environment variable.

    \b
    Examples:
      harvest replay s3://lake/harvest/ --dataset useractions --date 2026-11-23 --output sqs
      harvest replay dir:/srv/archive --dataset zoom_meetings --from 2026-11-01 --to 2026-11-30 --output es
      harvest replay 'dir:/srv/archive/useractions/2026-11-23/20261123T*' --output - | jq .action_id
      harvest replay s3://lake/harvest/ --verify-only
    """
    from harvester.sources.archive import Filters

    if day is not None:
        if day_from is not None or day_to is not None:
            raise click.UsageError("use either --date or --from/--to, not both")
        day_from = day_to = day
    if day_from and day_to and day_from > day_to:
        raise click.BadParameter(f"{day_from} is after --to {day_to}", param_hint="'--from'")
    if output == "sqs" and not verify_only:
        require(ctx, "queue_name", queue_name)
    options: dict[str, object] = {"queue_name": queue_name}
    if es_host:
        options["es_host"] = es_host
    filters = Filters(dataset, day_from, day_to)
    result = run_replay(source, None if verify_only else output, filters=filters, batch_size=batch_size,
                    options=options)
    summary = {"source": source, "output": None if verify_only else output, "batches": result.batches,
               "records": result.records, "delivered": result.delivered, "sink_requests": result.requests,
               "datasets": result.datasets, "partial": result.problem_count,
               "seconds": round(result.seconds, 3)}
    verb = "verified" if verify_only else f"delivered {result.delivered} to {output}"
    log.info("replay done: %d micro-batch(es), %d records read, %s, %d partial/missing, %.2fs",
             result.batches, result.records, verb, result.problem_count, result.seconds,
             extra={"summary": summary})
    if result.batches == 0 and result.problem_count == 0:
        log.warning("no micro-batches found under %s%s", source,
                    " for the given --dataset/--from/--to" if (dataset or day_from or day_to) else "")
    if result.problem_count and not skip_partial:
        shown = "; ".join(f"{key}: {reason}" for key, reason in result.problems)
        more = result.problem_count - len(result.problems)
        raise HarvestError(f"archive: {result.problem_count} micro-batch(es) partial or missing and not "
                           f"delivered: {shown}{f' (and {more} more)' if more > 0 else ''}; every other "
                           "record was delivered (use --skip-partial to accept this)")
