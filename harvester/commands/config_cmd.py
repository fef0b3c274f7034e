"""`harvest config`: every setting, its effective value and where that value came from.

An operator migrating a node, or wondering why a cron job talks to the wrong host, needs one
place that answers "which value wins, and why": a command-line option, the real environment,
a dotenv file (and which one), or the built-in default. Secrets are masked, and every line
passes the same redaction list as the logs, so the output can be pasted into a ticket.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from harvester.cli import HarvestCommand
from harvester.config import SETTINGS, SETTINGS_BY_NAME, Setting, is_secret, mask, mask_url, secret_values

log = logging.getLogger("harvester.config")

#: Settings that commands also read under a second name (the original tool's, or the SDK's).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "ZOOM_CLIENT_ID": ("ZOOM_KEY",),
    "ZOOM_CLIENT_SECRET": ("ZOOM_SECRET",),
    "AWS_REGION": ("AWS_DEFAULT_REGION",),
}

#: Root options that override a setting when given on the command line.
ROOT_OPTIONS: dict[str, tuple[str, str]] = {
    "log_level": ("--log-level", "HARVEST_LOG_LEVEL"),
    "log_format": ("--log-format", "HARVEST_LOG_FORMAT"),
}

#: Variables read by libraries rather than by a setting (boto3's chain, proxies): never "unused".
PASSTHROUGH_PREFIXES = ("AWS_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class Effective:
    """One setting as a run would see it; `value` is raw and must be masked before display."""

    setting: Setting
    value: str | None
    source: str  # "option", "environment", "dotenv", "default" or "unset"
    detail: str = ""  # the option flag or the dotenv file
    via: str = ""  # the second name the value was found under (ZOOM_KEY for ZOOM_CLIENT_ID)

    @property
    def shown(self) -> str:
        """The value as it may be displayed: secrets masked, URL passwords masked."""
        if self.value in (None, ""):
            return ""
        if is_secret(self.setting.name):
            return mask(self.value)
        return mask_url(self.value)

    @property
    def where(self) -> str:
        via = f" (as {self.via})" if self.via else ""
        if self.source == "option":
            return f"option {self.detail}"
        if self.source == "dotenv":
            return f"dotenv file {self.detail}{via}"
        if self.source == "environment":
            return f"environment{via}"
        if self.source == "default":
            return "default"
        return "not set"


def _origin(name: str, from_files: Mapping[str, Path]) -> tuple[str, str]:
    if name in from_files:
        return "dotenv", str(from_files[name])
    return "environment", ""


def resolve(settings: Iterable[Setting], environ: Mapping[str, str], from_files: Mapping[str, Path],
            options: Mapping[str, tuple[str, str]] | None = None) -> Iterator[Effective]:
    """Effective value and source of each setting: option > environment > dotenv > default.

    `environ` already contains the dotenv values (the root group merged them without
    overriding real variables); `from_files` says which keys came from which file.
    `options` maps a setting name to (flag, value) for options given on the command line.
    """
    options = options or {}
    for s in settings:
        if s.name in options:
            flag, value = options[s.name]
            yield Effective(s, value, "option", flag)
            continue
        value = environ.get(s.name)
        if value not in (None, ""):
            source, detail = _origin(s.name, from_files)
            yield Effective(s, value, source, detail)
            continue
        fallback = next((f for f in FALLBACKS.get(s.name, ()) if environ.get(f)), None)
        if fallback:
            source, detail = _origin(fallback, from_files)
            yield Effective(s, environ[fallback], source, detail, via=fallback)
            continue
        if s.default is not None:
            yield Effective(s, s.default, "default")
        else:
            yield Effective(s, None, "unset")


def unused_names(from_files: Mapping[str, Path]) -> list[str]:
    """Dotenv keys that no setting reads: a typo, or a setting of the original tool that is gone."""
    known = set(SETTINGS_BY_NAME) | {f for names in FALLBACKS.values() for f in names}
    return sorted(k for k in from_files if k not in known and not k.startswith(PASSTHROUGH_PREFIXES))


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


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def render_text(rows: list[Effective], files: list[Path], unused: list[str]) -> Iterator[str]:
    shown = [(e.setting.name, e.shown, e.where) for e in rows]
    name_w = max((len(n) for n, _, _ in shown), default=4)
    value_w = min(max((len(v) for _, v, _ in shown), default=5), 48)
    loaded = ", ".join(str(f) for f in files) or "none"
    yield f"# dotenv files loaded: {loaded}"
    group = None
    for e, (name, value, where) in zip(rows, shown, strict=True):
        if e.setting.group != group:
            group = e.setting.group
            yield f"## {group}"
        yield f"{name:<{name_w}}  {value:<{value_w}}  {where}"
    if unused:
        yield "# not read by harvest (from a dotenv file; a typo, or a setting of the original tool): " \
              + ", ".join(unused)


def render_json(rows: list[Effective], files: list[Path], unused: list[str]) -> str:
    doc = {
        "dotenv_files": [str(f) for f in files],
        "settings": [{"name": e.setting.name, "value": e.shown or None, "source": e.source,
                      "where": e.where, "secret": is_secret(e.setting.name), "group": e.setting.group}
                     for e in rows],
        "unused": unused,
    }
    return json.dumps(doc, indent=2)


def render_dotenv(rows: list[Effective]) -> Iterator[str]:
    """Only what differs from the defaults, as dotenv lines (secrets masked: fill them in)."""
    for e in rows:
        if e.source in ("default", "unset") or e.via:
            continue  # a value found under its second name is printed under that name
        value = e.shown
        if re.search(r"[\s#'\"\\]", value):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        yield f"{e.setting.name}={value}  # {e.where}"


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
        click.echo(_redact(render_json(rows, files, unused), secrets))
        return
    lines = render_dotenv(rows) if fmt == "dotenv" else render_text(rows, files, unused)
    for line in lines:
        click.echo(_redact(line, secrets))
