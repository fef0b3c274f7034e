"""`harvest useractions`: Opencast user tracking -> episode enrichment -> SQS (or -, file, es).

Options -> UserActionsSettings -> harvester.jobs.useractions.run -> summary. The window,
checkpoint and delivery rules live in the job, fetching in harvester.sources.opencast.
"""

from __future__ import annotations

import logging

import click

from harvester.cli import HarvestCommand
from harvester.commands.options import opencast_credentials
from harvester.config import EnvOption, require
from harvester.timeutil import compact_option

log = logging.getLogger("harvester.useractions")


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
    from harvester.jobs.useractions import UserActionsSettings, run

    require(ctx, "engage_host", engage_host)
    require(ctx, "user", user)
    require(ctx, "password", password)
    if output == "sqs":
        require(ctx, "queue_name", queue_name)
    if not output:
        raise click.BadParameter("must not be empty", param_hint="'-o' / '--output'")
    explicit_update = ctx.get_parameter_source("update_last_ts") == click.core.ParameterSource.COMMANDLINE
    if output == "-" and not explicit_update:
        update_last_ts = False  # a debugging dump must not move the production checkpoint

    summary = run(UserActionsSettings.from_options(
        engage_host=engage_host, user=user, password=password, output=output, start=start, end=end,
        interval=interval, batch_size=batch_size, wait=wait, queue_name=queue_name, archive=archive,
        span_check=not disable_start_end_span_check, update_last_ts=update_last_ts))
    if summary.fields["invalid"]:
        log.warning("%d action(s) could not be read and were skipped, e.g. %s", summary.fields["invalid"],
                    "; ".join(summary.invalid_examples))
    log.info("%s", summary.line, extra={"summary": summary.fields})
