"""Tolerant ISO reading, second-precision ISO writing and spans: the helpers upstream normalizers use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from harvester.timeutil import iso_seconds_or_none, parse_iso_or_none, span_seconds


def test_iso_with_any_offset_or_z_reads_as_utc():
    assert parse_iso_or_none("2026-11-23T09:00:00-05:00") == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert parse_iso_or_none(" 2026-11-23T14:00:00Z ") == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert parse_iso_or_none("2026-11-23T14:00:00") == datetime(2026, 11, 23, 14, tzinfo=UTC)  # naive = UTC


def test_missing_or_garbled_times_are_none_never_an_error():
    for value in (None, "", "   ", "yesterday", "2026-02-30T00:00:00Z", {"t": 1}, [], True, 12):
        assert parse_iso_or_none(value) is None


def test_iso_seconds_drops_fractions_and_converts_to_utc():
    when = datetime(2026, 11, 23, 9, 0, 5, 750000, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_seconds_or_none(when) == "2026-11-23T14:00:05Z"
    assert iso_seconds_or_none(None) is None


def test_span_is_whole_seconds_never_negative_and_none_when_unknown():
    start = datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert span_seconds(start, start + timedelta(minutes=70, seconds=1.9)) == 4201
    assert span_seconds(start + timedelta(seconds=5), start) == 0
    assert span_seconds(None, start) is None and span_seconds(start, None) is None
