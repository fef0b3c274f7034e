"""Times as the harvester speaks them: aware UTC datetimes, `YYYYMMDDHHmmss`, ISO 8601 with Z.

Everything inside the harvester is an aware datetime in UTC. Conversions from what users
and upstreams write happen here, once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

COMPACT = "%Y%m%d%H%M%S"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_compact(value: str) -> datetime:
    """`YYYYMMDDHHmmss` (UTC) -> aware datetime; ValueError with a readable reason."""
    value = value.strip()
    if not re.fullmatch(r"\d{14}", value):
        raise ValueError(f"{value!r} is not YYYYMMDDHHmmss (14 digits, UTC)")
    try:
        return datetime.strptime(value, COMPACT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date/time ({exc})") from None


def format_compact(when: datetime) -> str:
    return to_utc(when).strftime(COMPACT)


def to_utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_iso(value: str) -> datetime:
    """ISO 8601 with any offset (or Z, or none = UTC), optional fraction -> aware UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Opencast writes offsets without a colon on some versions (+0100).
    m = re.search(r"([+-])(\d{2})(\d{2})$", text)
    if m and "T" in text and text[-5] in "+-":
        text = text[:-5] + f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    return to_utc(datetime.fromisoformat(text))


def iso_z(when: datetime) -> str:
    """ISO 8601 UTC with Z; milliseconds kept when present."""
    when = to_utc(when)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_or_none(when: datetime | None) -> str | None:
    """`iso_z` for optional values: upstream fields that a record may lack stay null."""
    return None if when is None else iso_z(when)


def compact_option(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """click callback for `--start/--end YYYYMMDDHHmmss`."""
    if value is None:
        return None
    try:
        return parse_compact(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def day_range(start: datetime, end: datetime) -> list[datetime]:
    """Midnights (UTC) of every calendar day touched by [start, end]."""
    day = to_utc(start).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while day <= end:
        out.append(day)
        day += timedelta(days=1)
    return out
