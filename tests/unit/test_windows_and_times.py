from datetime import UTC, datetime, timedelta

import pytest

from harvester.errors import ConfigError, CorruptCheckpoint, SkippedRun
from harvester.jobs.useractions import Window, harvest_window, parse_checkpoint, span_check
from harvester.timeutil import format_compact, iso_z, parse_compact, parse_iso

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def test_window_defaults_to_interval_before_now():
    w = harvest_window(None, None, None, 2, NOW)
    assert (w.start, w.end, w.start_from) == (NOW - timedelta(minutes=2), NOW, "interval")


def test_checkpoint_wins_over_interval_and_option_over_checkpoint():
    w = harvest_window(None, None, datetime(2026, 11, 24, 11, 30, tzinfo=UTC), 2, NOW)
    assert w.start == datetime(2026, 11, 24, 11, 30, tzinfo=UTC) and w.start_from == "checkpoint"
    opt = datetime(2026, 11, 1, tzinfo=UTC)
    w = harvest_window(opt, None, datetime(2026, 11, 24, 11, 30, tzinfo=UTC), 2, NOW)
    assert w.start == opt and w.start_from == "option"


def test_window_end_option_and_inverted_window():
    end = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert harvest_window(None, end, None, 5, NOW).start == end - timedelta(minutes=5)
    with pytest.raises(ConfigError, match="starts after it ends"):
        harvest_window(NOW, end, None, 2, NOW)


def test_corrupt_checkpoint_is_a_usage_error():
    with pytest.raises(CorruptCheckpoint, match="fix or delete") as exc:
        parse_checkpoint("2026-11-24", "s3://b/k")
    assert exc.value.exit_code == 2 and "s3://b/k" in str(exc.value)


def test_span_check_uses_the_whole_span():
    w = Window(NOW - timedelta(days=1, seconds=10), NOW, "checkpoint")
    span_check(w, None, "x")  # no limit
    span_check(w, 86410, "x")  # exactly at the limit
    with pytest.raises(SkippedRun) as exc:
        span_check(w, 600, "s3://bucket/key")
    assert exc.value.exit_code == 3
    assert "86410 seconds" in str(exc.value) and "s3://bucket/key" in str(exc.value)


@pytest.mark.parametrize("text,expected", [
    ("2026-11-23T09:02:11-05:00", "2026-11-23T14:02:11Z"),
    ("2026-11-23T09:02:11.5-05:00", "2026-11-23T14:02:11.500Z"),
    ("2026-11-23T15:02:11+0100", "2026-11-23T14:02:11Z"),
    ("2026-11-23T14:02:11Z", "2026-11-23T14:02:11Z"),
    ("2026-11-23T14:02:11", "2026-11-23T14:02:11Z"),
    ("2026-11-24T00:30:00+10:30", "2026-11-23T14:00:00Z"),
])
def test_iso_parsing_converts_to_utc(text, expected):
    assert iso_z(parse_iso(text)) == expected


def test_compact_round_trip_and_errors():
    assert format_compact(parse_compact("20261123140211")) == "20261123140211"
    for bad in ("2026112314021", "20261323140211", "abcd", "20260230000000"):
        with pytest.raises(ValueError):
            parse_compact(bad)
