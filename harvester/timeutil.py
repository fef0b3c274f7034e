"""Times as the harvester speaks them: aware UTC datetimes, `YYYYMMDDHHmmss`, ISO 8601 with Z.

Everything inside the harvester is an aware datetime in UTC. Conversions from what users
and upstreams write happen here, once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

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


def parse_iso_or_none(value: object) -> datetime | None:
    """`parse_iso` for upstream fields that may be missing or garbled: None instead of an error.

    Normalizers must never fail on one odd value (Zoom sends "" for unknown times).
    """
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return parse_iso(text)
    except (ValueError, OverflowError):
        return None


def iso_seconds_or_none(when: datetime | None) -> str | None:
    """ISO 8601 UTC with Z in whole seconds (a fraction is dropped); None stays None.

    For documents whose time fields were always written to the second (Zoom's).
    """
    return None if when is None else to_utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def span_seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from `start` to `end`, never negative; None when either is unknown."""
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def zone(value: str) -> tzinfo:
    """`UTC`, a fixed offset (`-04:00`, `+0100`, `-4`) or an IANA name (`America/New_York`).

    ValueError with a readable reason otherwise.
    """
    text = value.strip()
    if text.upper() in ("UTC", "Z", "GMT", "+00:00", "-00:00"):
        return UTC
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", text, re.IGNORECASE)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"{value!r} is not a UTC offset between -14:00 and +14:00")
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is neither UTC, a UTC offset like -04:00, nor a time zone "
                         "name like America/New_York") from None


def parse_compact_in(value: str, tz: tzinfo) -> datetime:
    """A bare `YYYYMMDDHHmmss` read as wall time in `tz` -> aware UTC.

    A wall time that occurs twice (clocks set back) or never (clocks set forward) is read as
    the earlier of its two possible instants: a harvest may then start earlier (an action
    delivered twice), never later (an action lost).
    """
    naive = parse_compact(value).replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return min(first, second)


def format_compact_in(when: datetime, tz: tzinfo) -> str:
    return to_utc(when).astimezone(tz).strftime(COMPACT)


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
