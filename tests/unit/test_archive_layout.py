"""The archive's layout, encoding and integrity checks, without any service."""

from __future__ import annotations

import gzip
import json
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.datasets import EPISODES, USERACTIONS
from harvester.errors import ConfigError, DeliveryError
from harvester.sinks.archive import (
    ArchiveSink,
    LocalStore,
    batch_name,
    encode_batch,
    open_archive_sink,
    open_store,
    partition_name,
    record_day,
)
from harvester.sinks.jsonlines import dumps
from harvester.sources.archive import Batch, BatchRef, Problem, decode_batch, parse_ref

REF = BatchRef("a/useractions/2026-11-23/p/0000000.jsonl.gz", "useractions", "2026-11-23", "p", 0)
FIXED = datetime(2026, 11, 24, 3, 15, 7, tzinfo=UTC)


@pytest.mark.parametrize("value, day", [
    ("2026-11-23T14:02:11Z", "2026-11-23"),
    ("2026-11-23T14:02:11.123Z", "2026-11-23"),
    ("2026-11-24T01:30:00+02:00", "2026-11-23"),  # converted to UTC before taking the day
    ("2026-11-23T23:30:00-01:00", "2026-11-24"),
    ("2026-11-23T10:00:00", "2026-11-23"),  # naive: taken as UTC
    ("2026-11-23", "2026-11-23"),
    ("2026-11-23 garbage after", "2026-11-23"),
    (None, "2000-01-01"),
    ("", "2000-01-01"),
    ("not a date", "2000-01-01"),
    ("2026-13-45T00:00:00Z", "2000-01-01"),
])
def test_record_day(value, day):
    assert record_day(value, "2000-01-01") == day


def test_names_sort_in_time_and_sequence_order():
    assert partition_name(FIXED, "ab" * 16) == "20261124T031507Z-" + "ab" * 16
    assert partition_name(datetime(2026, 11, 24, 4, 15, 7, tzinfo=UTC) + timedelta(hours=-1),
                          "cd" * 16).startswith("20261124T031507Z-")
    assert batch_name(3) == "0000003.jsonl.gz"
    assert sorted(batch_name(n) for n in (10, 2, 100, 1)) == [batch_name(n) for n in (1, 2, 10, 100)]


def test_parse_ref():
    ref = parse_ref("/x/arch/zoom_meetings/2026-11-23/20261124T031507Z-abc/0000012.jsonl.gz")
    assert ref == BatchRef("/x/arch/zoom_meetings/2026-11-23/20261124T031507Z-abc/0000012.jsonl.gz",
                           "zoom_meetings", "2026-11-23", "20261124T031507Z-abc", 12)
    assert parse_ref("arch/useractions/not-a-day/p/0000000.jsonl.gz") is None
    assert parse_ref("arch/useractions/2026-11-23/p/data.json") is None
    assert parse_ref("2026-11-23/p/0000000.jsonl.gz") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                        max_size=4),
    max_leaves=20)
records = st.lists(st.dictionaries(st.text(max_size=10), json_values, max_size=6), max_size=20)


@settings(max_examples=150, deadline=None)
@given(records)
def test_round_trip_is_byte_identical(batch):
    """What a sink would have written equals what replay hands to a sink, byte for byte."""
    decoded = decode_batch(REF, encode_batch(batch))
    assert isinstance(decoded, Batch)
    assert [dumps(r) for r in decoded.records] == [dumps(r) for r in batch]


def test_round_trip_keeps_line_separators_and_lone_surrogates():
    batch = [{"t": "a\u2028b\u2029c\x85d\x1ce\nf", "s": "\ud800", "e": "é✓"}]
    decoded = decode_batch(REF, encode_batch(batch))
    assert isinstance(decoded, Batch)
    assert decoded.records == batch


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_truncation_is_a_problem_never_fewer_records(data):
    batch = [{"action_id": i, "text": "x" * (i * 7 % 50)} for i in range(40)]
    raw = encode_batch(batch)
    cut = data.draw(st.integers(0, len(raw) - 1))
    result = decode_batch(REF, raw[:cut])
    assert isinstance(result, Problem), cut
    assert result.key == REF.key


def test_corruption_and_bad_lines_are_problems():
    raw = bytearray(encode_batch([{"a": i} for i in range(100)]))
    raw[len(raw) // 2] ^= 0xFF
    assert isinstance(decode_batch(REF, bytes(raw)), Problem)
    assert "not JSON" in decode_batch(REF, gzip.compress(b'{"a":1}\n{"a":\n')).reason
    assert "not a JSON object" in decode_batch(REF, gzip.compress(b'{"a":1}\n[1,2]\n')).reason
    assert "incomplete" in decode_batch(REF, gzip.compress(b'{"a":1}\n{"a":2}')).reason
    assert "not UTF-8" in decode_batch(REF, gzip.compress(b'{"a":"\xff"}\n')).reason
    assert "corrupt" in decode_batch(REF, b"plain text, not gzip").reason


def test_declared_count_must_match():
    raw = encode_batch([{"a": 1}, {"a": 2}])
    assert isinstance(decode_batch(REF, raw, declared=2), Batch)
    problem = decode_batch(REF, raw, declared=3)
    assert isinstance(problem, Problem) and "declared 3" in problem.reason


def test_empty_batch_decodes_to_nothing():
    result = decode_batch(REF, encode_batch([]))
    assert isinstance(result, Batch) and result.records == []


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_sink_writes_one_durable_micro_batch_per_day(tmp_path):
    sink = ArchiveSink(USERACTIONS, LocalStore(str(tmp_path / "arch")), clock=lambda: FIXED, max_batch=3)
    sink.write([{"action_id": i, "timestamp": f"2026-11-2{2 + i % 2}T10:00:00Z"} for i in range(8)])
    sink.write([{"action_id": 100, "timestamp": "2026-11-22T23:59:59Z"}, {"action_id": 101}])
    sink.close()
    part = sink.partition
    assert re.fullmatch(r"20261124T031507Z-[0-9a-f]{32}", part)
    assert _files(tmp_path / "arch") == [
        f"useractions/2026-11-22/{part}/0000000.jsonl.gz",  # ids 0 2 4
        f"useractions/2026-11-22/{part}/0000001.jsonl.gz",  # id 6
        f"useractions/2026-11-22/{part}/0000002.jsonl.gz",  # id 100 (second write)
        f"useractions/2026-11-23/{part}/0000000.jsonl.gz",  # ids 1 3 5
        f"useractions/2026-11-23/{part}/0000001.jsonl.gz",  # id 7
        f"useractions/2026-11-24/{part}/0000000.jsonl.gz",  # undated: the day it was archived
    ]
    first = gzip.decompress((tmp_path / "arch" / f"useractions/2026-11-22/{part}/0000000.jsonl.gz")
                            .read_bytes()).decode()
    assert [json.loads(line)["action_id"] for line in first.splitlines()] == [0, 2, 4]
    assert sink.delivered == 10 and sink.requests == 6 and sink.batches == 6


def test_two_sinks_never_share_a_partition(tmp_path):
    a = ArchiveSink(EPISODES, LocalStore(str(tmp_path)), clock=lambda: FIXED)
    b = ArchiveSink(EPISODES, LocalStore(str(tmp_path)), clock=lambda: FIXED)
    assert a.partition != b.partition and a.partition[:16] == b.partition[:16]


def test_failed_write_raises_delivery_error_and_keeps_sequence(tmp_path, monkeypatch):
    root = tmp_path / "arch"
    sink = ArchiveSink(USERACTIONS, LocalStore(str(root)), clock=lambda: FIXED)
    sink.write([{"action_id": 1, "timestamp": "2026-11-23T00:00:00Z"}])
    part_dir = root / "useractions" / "2026-11-23" / sink.partition
    real_replace = os.replace

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("harvester.sinks.archive.os.replace", disk_full)
    with pytest.raises(DeliveryError) as err:
        sink.write([{"action_id": 2, "timestamp": "2026-11-23T00:00:00Z"},
                    {"action_id": 3, "timestamp": "2026-11-23T00:00:00Z"}])
    assert [rid for rid, _ in err.value.failed] == ["2", "3"]
    assert "archive:dir:" in str(err.value) and "No space left on device" in str(err.value)
    assert sorted(os.listdir(part_dir)) == ["0000000.jsonl.gz"]  # no temporary file left behind
    monkeypatch.setattr("harvester.sinks.archive.os.replace", real_replace)
    sink.write([{"action_id": 4, "timestamp": "2026-11-23T00:00:00Z"}])
    assert sorted(os.listdir(part_dir)) == ["0000000.jsonl.gz", "0000001.jsonl.gz"]  # no gap
    assert sink.delivered == 2


@pytest.mark.parametrize("target, message", [
    ("s3://", "valid bucket name"),
    ("s3://Bad_Bucket/x", "valid bucket name"),
    ("dir:", "expected dir:PATH"),
    ("dir:  ", "expected dir:PATH"),
    ("ftp://x", "is not an archive"),
])
def test_bad_targets_are_usage_errors(target, message):
    with pytest.raises(ConfigError) as err:
        open_store(target)
    assert message in err.value.format_message()


def test_a_file_is_not_an_archive_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        open_archive_sink(f"dir:{tmp_path / 'f'}", USERACTIONS, {})


def test_s3_target_parsing():
    store = open_store("s3://my-bucket/some/prefix/")
    assert (store.bucket, store.root, store.description) == ("my-bucket", "some/prefix",
                                                              "s3://my-bucket/some/prefix/")
    assert store.key("useractions", "2026-11-23", "p", batch_name(0)) == \
        "some/prefix/useractions/2026-11-23/p/0000000.jsonl.gz"
    assert open_store("s3://my-bucket").key("episodes", "d") == "episodes/d"
