"""`harvest replay SOURCE`: deliver archived records again, to any output.

Options -> filters -> harvester.jobs.replay.run_replay -> summary. A micro-batch that is not
whole is skipped and reported; the run then exits 1 unless `--skip-partial` says that is
expected.
"""

from __future__ import annotations

import logging
from datetime import datetime

import click

from harvester.cli import HarvestCommand
from harvester.config import EnvOption, require
from harvester.datasets import REGISTRY

log = logging.getLogger("harvester.replay")


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
    from harvester.jobs.replay import partial_error, run_replay
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
        raise partial_error(result)
