"""The click group: global options, lazy command registration, and the one error handler.

Commands are imported only when invoked, so `harvest --help` on a cron host never pays for
boto3, elasticsearch or duckdb. Every failure is turned into the contract's exit code with
a one-line message on stderr; tracebacks appear only at --log-level debug.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from harvester import __version__
from harvester.config import EnvOption
from harvester.errors import ConfigError, HarvestError

log = logging.getLogger("harvester.cli")

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# The original tool's click choice spelled warning `warn`; its cron lines and .env keep working.
LOG_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical"}


def log_level_name(value: str) -> str | None:
    """`warn`, `WARN`, `Warning` ... -> `warning`; None for anything that is not a level."""
    name = value.strip().lower()
    name = LOG_LEVEL_ALIASES.get(name, name)
    return name if name in LOG_LEVELS else None


class LogLevel(click.Choice):
    """The level names in any case, plus the original's `warn` (and `fatal`)."""

    def __init__(self) -> None:
        super().__init__(list(LOG_LEVELS), case_sensitive=False)

    def convert(self, value, param, ctx):
        name = log_level_name(str(value))
        if name is None:
            self.fail(f"{value!r} is not one of {', '.join(LOG_LEVELS)} (or warn)", param, ctx)
        return name


def _underscore_aliases(command: click.Command, args: list[str]) -> list[str]:
    """Accept the original tool's `--engage_host` spellings as hidden aliases of `--engage-host`."""
    known = {opt for p in command.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    out = []
    for arg in args:
        if arg == "--":
            out.extend(args[len(out):])
            break
        if arg.startswith("--") and "_" in arg:
            name, eq, value = arg.partition("=")
            dashed = name.replace("_", "-")
            if name not in known and dashed in known:
                arg = dashed + eq + value
        out.append(arg)
    return out


@contextlib.contextmanager
def usage_errors(ctx: click.Context) -> Iterator[None]:
    """Show the library's ConfigError exactly as click shows its own usage errors (exit 2).

    Translated where the command runs, so the usage line and "Try 'harvest zoom -h'" name
    the command that was given, as they did when the library raised click's errors itself.
    """
    try:
        yield
    except ConfigError as exc:
        if exc.hint:
            raise click.BadParameter(exc.message, ctx=ctx, param_hint=exc.hint) from None
        raise click.UsageError(exc.message, ctx=ctx) from None


class HarvestCommand(click.Command):
    """A command that accepts underscore long-flag aliases and shows ConfigError as usage errors."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with usage_errors(ctx):
            return super().parse_args(ctx, _underscore_aliases(self, args))

    def invoke(self, ctx: click.Context):
        with usage_errors(ctx):
            return super().invoke(ctx)


class HarvestGroup(click.Group):
    """A group with hidden aliases (the original's `load_episodes`) and lazily imported commands.

    `lazy` maps a command name to ("module:attribute", short help); the module is imported only
    when that command runs or its own help is asked for.
    """

    command_class = HarvestCommand

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None,
                 aliases: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.aliases = dict(aliases or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with usage_errors(ctx):
            return super().parse_args(ctx, _underscore_aliases(self, args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd_name = self.aliases.get(cmd_name, cmd_name)
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in self.lazy:
            return None
        module_name, attr = self.lazy[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][1]))
            else:
                cmd = self.commands[name]
                if not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class RootGroup(HarvestGroup):
    """Turns every failure into the contract's exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            with usage_errors(ctx):  # the root's own callback (dotenv, logging)
                return super().invoke(ctx)
        except HarvestError as exc:
            log.error("%s", exc)
            log.debug("details", exc_info=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            log.error("interrupted; the checkpoint was not advanced past undelivered records")
            ctx.exit(1)
        except Exception as exc:  # the last line of defence: a message, never a traceback
            log.error("unexpected error: %s: %s (run with --log-level debug for details)",
                      type(exc).__name__, exc)
            log.debug("traceback", exc_info=True)
            ctx.exit(1)


COMMANDS: dict[str, tuple[str, str]] = {
    "useractions": ("harvester.commands.useractions:useractions",
                    "Opencast user-tracking events, enriched, to SQS (or stdout/file/ES)."),
    "load-episodes": ("harvester.commands.load_episodes:load_episodes",
                      "Episode metadata for yesterday's mediapackages into Elasticsearch."),
    "zoom": ("harvester.commands.zoom:zoom",
             "Zoom meetings and participant sessions (API v2) into Elasticsearch."),
    "logs": ("harvester.commands.logs:logs", "Video-player event logs: per-stream summaries."),
    "mediaconvert": ("harvester.commands.mediaconvert:mediaconvert",
                     "AWS MediaConvert job status and progress metrics."),
    "replay": ("harvester.commands.replay:replay",
               "Re-deliver archived records to any output."),
    "setup": ("harvester.commands.setup:setup", "Elasticsearch index templates and pipelines."),
    "dev": ("harvester.commands.dev:dev", "Local Elasticsearch + Kibana (docker compose)."),
    "doctor": ("harvester.commands.doctor:doctor", "Check every configured service."),
    "config": ("harvester.commands.config_cmd:config_cmd",
               "Print the effective configuration (secrets masked)."),
}
ALIASES = {"load_episodes": "load-episodes"}


def _available(lazy: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Only list commands whose module exists, so help never advertises a missing command."""
    here = Path(__file__).parent
    out = {}
    for name, (target, help_) in lazy.items():
        module = target.split(":")[0].split(".")[-1]
        if (here / "commands" / f"{module}.py").exists():
            out[name] = (target, help_)
    return out


@click.group(cls=RootGroup, lazy=_available(COMMANDS), aliases=ALIASES,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--env-file", type=click.Path(dir_okay=False), default=None,
              help="dotenv file to load (default: .env here, then .env beside harvest.py).")
@click.option("--log-level", cls=EnvOption, type=LogLevel(), envvar="HARVEST_LOG_LEVEL", default="info",
              show_default=True, help="Any case; `warn` is accepted for warning.")
@click.option("--log-format", cls=EnvOption, type=click.Choice(["text", "json"]), envvar="HARVEST_LOG_FORMAT",
              default="text", show_default=True, help="json: one JSON object per log line.")
@click.version_option(__version__, prog_name="harvest")
@click.pass_context
def cli(ctx: click.Context, env_file: str | None, log_level: str, log_format: str) -> None:
    """Harvest analytics from a university video platform.

    Configuration comes from options, then environment variables, then a dotenv file.
    Exit codes: 0 ok, 1 run failed (checkpoint not advanced), 2 usage/configuration error,
    3 skipped (another run holds the lock, or the span check refused the window).
    """
    from harvester.config import load_env
    from harvester.logconfig import setup_logging

    loaded = load_env(env_file, dotenv_dir())
    # Dotenv may carry HARVEST_LOG_LEVEL/FORMAT; options given on the command line still win.
    if ctx.get_parameter_source("log_level") == click.core.ParameterSource.DEFAULT:
        log_level = os.environ.get("HARVEST_LOG_LEVEL", log_level)
    if ctx.get_parameter_source("log_format") == click.core.ParameterSource.DEFAULT:
        log_format = os.environ.get("HARVEST_LOG_FORMAT", log_format)
    level = log_level_name(log_level)
    if level is None:
        raise click.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)} (or warn)",
                                 param_hint="'--log-level' (environment variable HARVEST_LOG_LEVEL)")
    if log_format not in ("text", "json"):
        raise click.BadParameter(f"{log_format!r} is not one of text, json",
                                 param_hint="'--log-format' (environment variable HARVEST_LOG_FORMAT)")
    setup_logging(level, log_format)
    ctx.obj = {"env": loaded, "log_format": log_format}


def dotenv_dir() -> Path | None:
    """Where `.env` "beside harvest.py" is: the script run directly, else the package's checkout."""
    from harvester.resources import CHECKOUT

    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    return script.parent if script and script.name == "harvest.py" else CHECKOUT


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="harvest")
    finally:
        from harvester.logconfig import flush_shippers

        flush_shippers()
