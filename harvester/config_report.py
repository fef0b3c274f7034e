"""Every setting's effective value and where it came from, as text, JSON or dotenv lines.

Which value wins: a command-line option, the real environment, a dotenv file (and which
one), or the built-in default. Values are returned raw (`Effective.value`) and shown masked
(`Effective.shown`); the renderers only ever use the masked form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from harvester.config import SETTINGS_BY_NAME, Setting, is_secret, mask, mask_url

#: Settings that commands also read under a second name (the original tool's, or the SDK's).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "ZOOM_CLIENT_ID": ("ZOOM_KEY",),
    "ZOOM_CLIENT_SECRET": ("ZOOM_SECRET",),
    "AWS_REGION": ("AWS_DEFAULT_REGION",),
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


def redact(text: str, secrets: list[str]) -> str:
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
