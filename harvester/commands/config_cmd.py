"""`harvest config`: every setting, its effective value and where that value came from.

An operator migrating a node, or wondering why a cron job talks to the wrong host, needs one
place that answers "which value wins, and why": a command-line option, the real environment,
a dotenv file (and which one), or the built-in default. Secrets are masked, and every line
passes the same redaction list as the logs, so the output can be pasted into a ticket.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from harvester.cli import HarvestCommand
from harvester.config import SETTINGS, SETTINGS_BY_NAME, Setting, secret_values
from harvester.config_report import redact, render_dotenv, render_json, render_text, resolve, unused_names

log = logging.getLogger("harvester.config")

#: Root options that override a setting when given on the command line.
ROOT_OPTIONS: dict[str, tuple[str, str]] = {
    "log_level": ("--log-level", "HARVEST_LOG_LEVEL"),
    "log_format": ("--log-format", "HARVEST_LOG_FORMAT"),
}

def root_options(ctx: click.Context) -> dict[str, tuple[str, str]]:
    """Settings overridden by root options typed on the command line (`harvest --log-level ...`)."""
    root = ctx.find_root()
    out = {}
    for param, (flag, name) in ROOT_OPTIONS.items():
        if root.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE:
            out[name] = (flag, str(root.params[param]))
    return out


def load_command_settings(ctx: click.Context) -> None:
    """Import every command so that settings a command module registers itself are listed too.

    Command modules keep heavy imports inside their functions, so this stays cheap; a module
    that cannot be imported only loses its own settings from the list, with a warning.
    """
    root = ctx.find_root()
    group = root.command
    if not isinstance(group, click.Group):
        return
    for name in group.list_commands(root):
        try:
            group.get_command(root, name)
        except Exception as exc:  # a broken command must not hide the configuration
            log.warning("command %s could not be loaded (%s: %s); its own settings are not listed",
                        name, type(exc).__name__, exc)


@click.command("config", cls=HarvestCommand)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dotenv"]), default="text",
              show_default=True,
              help="text: a table; json: for scripts; dotenv: only the values that are set, as KEY=value.")
@click.option("--only-set", is_flag=True, help="Leave out settings that are at their default or unset.")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.pass_context
def config_cmd(ctx: click.Context, fmt: str, only_set: bool, names: tuple[str, ...]) -> None:
    """Print the effective configuration: every setting, its value and where it came from.

    Sources, strongest first: an option on the command line, the environment, a dotenv file
    (named), the default. Secrets are masked. NAME limits the output to these settings.

    \b
    Examples:
      harvest config
      harvest config ES_HOST MATTERHORN_ENGAGE_HOST
      harvest --env-file /etc/harvester/env config --only-set
      harvest config --format json | jq '.settings[] | select(.source == "dotenv")'
    """
    loaded = (ctx.obj or {}).get("env")
    from_files: dict[str, Path] = dict(getattr(loaded, "from_files", {}) or {})
    files: list[Path] = list(getattr(loaded, "files", []) or [])
    load_command_settings(ctx)
    selected: list[Setting] = list(SETTINGS)
    if names:
        wanted = [n.upper() for n in names]
        unknown = [n for n in wanted if n not in SETTINGS_BY_NAME]
        if unknown:
            raise click.BadParameter(f"unknown setting(s): {', '.join(unknown)} "
                                     "(harvest config without NAME lists them all)", param_hint="NAME")
        selected = [SETTINGS_BY_NAME[n] for n in wanted]
    rows = list(resolve(selected, os.environ, from_files, root_options(ctx)))
    if only_set:
        rows = [e for e in rows if e.source not in ("default", "unset")]
    unused = [] if names else unused_names(from_files)
    secrets = secret_values()
    if fmt == "json":
        click.echo(redact(render_json(rows, files, unused), secrets))
        return
    lines = render_dotenv(rows) if fmt == "dotenv" else render_text(rows, files, unused)
    for line in lines:
        click.echo(redact(line, secrets))
