"""The player-log line format (reference parser) and input resolution."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester.sources.playerlogs import (
    InputError,
    LogLine,
    Unparsable,
    is_blank,
    iter_lines,
    parse_line,
    resolve_inputs,
    unquote,
)
from tests.conftest import DATA

SAMPLE = DATA / "player-logs" / "goonhilly-log-sample"
GUID = "7c575311-c94b-fa72-6419-61862e36c687"


def parsed(line: str) -> LogLine:
    result = parse_line(line)
    assert isinstance(result, LogLine), result
    return result


def test_every_real_line_parses_and_is_classified():
    statuses: Counter[str] = Counter()
    lines = list(iter_lines([str(SAMPLE)]))
    assert len(lines) == 5000
    for line in lines:
        result = parse_line(line)
        statuses[result.reason if isinstance(result, Unparsable) else result.status] += 1
    # Counted with grep: 1,341 lines carry x_tracking_id (all of them with an x_tpmid).
    assert statuses == {"event": 1341, "keyless": 3659}


def test_real_line_fields_header_and_quoting():
    line = next(iter_lines([str(SAMPLE)]))
    ev = parsed(line)
    assert ev.timestamp == datetime(2014, 9, 2, 17, 20, 54, 184000, tzinfo=UTC)
    assert ev.epoch_ms == 1409678454184
    assert (ev.logger, ev.level) == ("Goonhilly", "INFO")
    assert ev.get("component") == "Video - Portal"
    assert ev.get("x_episode_title") == "Breathless: Episode 1"
    assert ev.get("ua_device_family") == "None"  # unknown keys are kept
    assert ev.stream_key == GUID


@pytest.mark.parametrize("stamp, ms", [
    ("2026-11-23 10:00:01,184", 184), ("2026-11-23 10:00:01.184", 184), ("2026-11-23 10:00:01", 0),
    ("2026-11-23 10:00:01.5", 500), ("2026-11-23 10:00:01,123456", 123),
])
def test_fractions_after_comma_dot_or_none(stamp, ms):
    ev = parsed(f"{stamp} - Goonhilly [INFO] a=1")
    assert ev.timestamp.microsecond == ms * 1000


def test_logger_and_level_are_optional():
    assert parsed("2026-11-23 10:00:01 [WARN] a=1").level == "WARN"
    assert parsed("2026-11-23 10:00:01 - [INFO] a=1").logger is None
    bare = parsed("2026-11-23 10:00:01 a=1 b-c=2 d_e=3")
    assert (bare.logger, bare.level) == (None, None)
    assert bare.fields == {"a": "1", "b-c": "2", "d_e": "3"}


def test_quoted_values_with_spaces_escapes_and_key_lookalikes():
    ev = parsed(r'2026-11-23 10:00:01 t="Lecture \"12\": x_tpmid=9 inside" x_tpmid=5 e="" u=plain')
    assert ev.get("t") == 'Lecture "12": x_tpmid=9 inside'
    assert ev.get("x_tpmid") == "5"
    assert ev.fields["e"] == "" and ev.get("e") is None  # empty counts as missing
    assert ev.get("u") == "plain"


def test_first_occurrence_of_a_key_wins():
    assert parsed("2026-11-23 10:00:01 k=1 k=2").get("k") == "1"


@pytest.mark.parametrize("line, reason", [
    ("garbage", "no-timestamp"),
    ("", "no-timestamp"),
    ("2026-11-23 25:00:00 a=1", "no-timestamp"),
    ("2026-13-01 10:00:00 a=1", "no-timestamp"),
    ("2026-02-30 10:00:00 a=1", "bad-timestamp"),
    ("2026-11-23 10:00:00 no pairs here", "no-fields"),
    ("2026-11-23 10:00:00x a=1", "no-timestamp"),
    ("2026-11-23 10:00:00 a=\ufffd", "not-utf8"),
])
def test_unparsable_lines_say_why(line, reason):
    assert parse_line(line) == Unparsable(reason)


def test_stream_key_rule_and_keyless_and_bad_data():
    assert parsed(f"2026-11-23 10:00:01 x_tracking_id={GUID} x_tpmid=42").stream_key == GUID
    short = parsed("2026-11-23 10:00:01 x_tracking_id=abc123 x_tpmid=42")
    assert short.stream_key == "abc123-42" and short.status == "event"
    assert parsed("2026-11-23 10:00:01 x_tracking_id=abc123").status == "keyless"
    assert parsed("2026-11-23 10:00:01 x_tpmid=42 x_tracking_id=").status == "keyless"
    for bad in ("-5", "12.5", "x"):
        line = f"2026-11-23 10:00:01 x_tracking_id=a x_tpmid=1 x_buffering_length={bad}"
        assert parsed(line).status == "bad-data"
    assert parsed("2026-11-23 10:00:01 x_tracking_id=a x_tpmid=1 x_buffering_length=0").status == "event"


def test_unquote_and_blank():
    assert unquote('"a \\"b\\" \\\\ c"') == 'a "b" \\ c'
    assert unquote('"') == '"' and unquote("plain") == "plain"
    assert is_blank("") and is_blank(" \t ") and not is_blank(" x")


# -- property-based: no input makes the parser fail -----------------------------------------

ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(ALPHABET, max_size=300))
def test_any_text_parses_or_is_unparsable(text):
    line = text.replace("\n", " ")
    result = parse_line(line)
    assert isinstance(result, LogLine | Unparsable)
    if isinstance(result, LogLine):
        assert result.status in ("event", "keyless", "bad-data")


KEYS = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters='\n"\\ '),
                 max_size=20)


@settings(max_examples=300)
@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=8), st.booleans(), st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_well_formed_lines_round_trip(fields, header, when):
    def render(value: str) -> str:
        return f'"{value}"' if (not value or any(c in value for c in " =")) else value

    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + f",{when.microsecond // 1000:03d}"
    pairs = " ".join(f"{k}={render(v)}" for k, v in fields.items())
    line = f"{stamp}{' - Goonhilly [INFO]' if header else ''} {pairs}"
    if "\ufffd" in line:
        return
    ev = parsed(line)
    assert ev.fields == fields
    assert ev.epoch_ms == int(when.replace(microsecond=when.microsecond // 1000 * 1000, tzinfo=UTC)
                              .timestamp() * 1000)


# -- inputs -----------------------------------------------------------------------------------

def test_resolve_files_dirs_globs_and_hidden(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.log").write_text("x\n")
    (tmp_path / "d" / "sub" / "b.log.gz").write_bytes(gzip.compress(b"y\n"))
    (tmp_path / "d" / "_SUCCESS").write_text("")
    (tmp_path / "d" / ".hidden").write_text("z\n")
    (tmp_path / "empty").mkdir()
    got = resolve_inputs([str(tmp_path / "d"), str(tmp_path / "d" / "a.log"), str(tmp_path / "empty")])
    assert [f.uri.replace(str(tmp_path), "") for f in got.files] == ["/d/a.log", "/d/sub/b.log.gz"]
    assert got.empty == [str(tmp_path / "empty")]
    assert got.total_bytes == sum(f.size for f in got.files) > 0
    globbed = resolve_inputs([str(tmp_path / "d" / "**" / "*.gz")])
    assert [f.uri.endswith("b.log.gz") for f in globbed.files] == [True]
    assert resolve_inputs([str(tmp_path / "nothing-*.log")]).files == []
    with pytest.raises(InputError, match="no such file"):
        resolve_inputs([str(tmp_path / "missing.log")])


def test_iter_lines_reads_gzip_crlf_and_bad_bytes(tmp_path):
    plain = tmp_path / "a.log"
    plain.write_bytes(b"one\r\ntwo\rthree\nbad \xff byte\n")
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(b"four\nfive"))
    assert list(iter_lines([str(plain), str(packed)])) == [
        "one", "two", "three", "bad \ufffd byte", "four", "five"]
