"""The aggregation logic (harvester/aggregate/sql.py) run on the embedded engine.

Each test writes a small log, aggregates it with DuckDB and checks one rule of
docs/player-logs.md; the agreement tests hold the SQL parser to the reference parser.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester.aggregate import duckdb_engine, sql
from harvester.sources.playerlogs import LogLine, Unparsable, is_blank, iter_lines, parse_line
from tests.conftest import DATA

SAMPLE = DATA / "player-logs" / "goonhilly-log-sample"
TID = "0f9a1c2e-1111-2222-3333-444455556666"  # 36 characters: used as the stream key as is


def line(sec: float, etype: str | None, tid: str = TID, tpmid: str = "1001", **extra) -> str:
    whole = int(sec)
    stamp = f"2026-11-23 10:{whole // 60:02d}:{whole % 60:02d},{round((sec - whole) * 1000):03d}"
    fields = {"x_tracking_id": tid, "x_tpmid": tpmid, **({"event_type": etype} if etype else {}), **extra}
    pairs = " ".join(f'{k}="{v}"' if " " in str(v) else f"{k}={v}" for k, v in fields.items())
    return f"{stamp} - Goonhilly [INFO] {pairs}"


def run(tmp_path, lines: list[str], by: str = "stream", shuffle: bool = True):
    if shuffle:  # events are not assumed to arrive in order
        lines = lines[:]
        random.Random(7).shuffle(lines)
    path = tmp_path / "in.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with duckdb_engine.aggregate([str(path)], by) as agg:
        records = [r for batch in agg.batches(2) for r in batch]
        return records, agg.counters


def one(tmp_path, lines: list[str]) -> dict:
    records, _ = run(tmp_path, lines)
    assert len(records) == 1, records
    return records[0]


def test_playing_duration_pairs_starts_and_ends_in_time_order(tmp_path):
    rec = one(tmp_path, [
        line(0, "MediaInitialBufferStart"), line(2, "MediaStarted"), line(12.5, "MediaEnded"),
        line(15, "MediaEnded"),  # an end without a start counts nothing
        line(20, "MediaStarted"), line(25, "MediaStarted"), line(50, "MediaCompleted"),
        line(60, "MediaStarted"),  # still playing at the end of the log: not counted
    ])
    assert rec["playing_duration"] == 12.5 + 30.0  # 0 -> 12.5 (first start) and 20 -> 50
    assert rec["earliest_time"] == "2026-11-23T10:00:00.000Z"
    assert rec["latest_time"] == "2026-11-23T10:01:00.000Z"
    assert rec["first_event_type"] == "MediaInitialBufferStart"
    assert rec["last_event_type"] == "MediaStarted"
    assert rec["finished_playback"] is True and rec["incomplete_stream"] is False
    assert rec["started_events"] == 4 and rec["ended_events"] == 2 and rec["completed_events"] == 1
    assert rec["events"] == 8 and rec["stream_id"] == f"{TID}-2026-11-23"


def test_zero_duration_is_null_and_started_only_is_incomplete(tmp_path):
    rec = one(tmp_path, [line(1, "MediaStarted"), line(5, "MediaStarted")])
    assert rec["playing_duration"] is None
    assert rec["incomplete_stream"] is True and rec["finished_playback"] is False
    rec = one(tmp_path, [line(1, "MediaScrub")])
    assert rec["incomplete_stream"] is None and rec["scrub_events"] == 1


def test_buffering_length_sums_pairs(tmp_path):
    rec = one(tmp_path, [
        line(1, "MediaBufferingStart", x_video_location=10),
        line(3.5, "MediaBufferingEnd", x_video_location=10),
        line(9, "MediaBufferingStart", x_video_location=40),
        line(10, "MediaBufferingEnd", x_video_location=40, x_auto="true"),
    ])
    assert rec["buffering_length"] == 3.5
    assert rec["buffer_start_events"] == 2 and rec["buffering_events"] == 2
    assert rec["auto_bitrate"] is True


@pytest.mark.parametrize("events", [
    [("MediaBufferingStart", 1, 10), ("MediaBufferingStart", 2, 10), ("MediaBufferingEnd", 3, 10)],
    [("MediaBufferingStart", 1, 10), ("MediaBufferingEnd", 2, 10), ("MediaBufferingEnd", 3, 10)],
    [("MediaBufferingEnd", 1, 10), ("MediaBufferingStart", 2, 10)],
    [("MediaBufferingStart", 1, 10), ("MediaBufferingEnd", 2, 95)],  # a seek during buffering
])
def test_broken_buffering_pairs_give_null(tmp_path, events):
    rec = one(tmp_path, [line(t, e, x_video_location=loc) for e, t, loc in events])
    assert rec["buffering_length"] is None


def test_buffering_after_seek_is_not_counted(tmp_path):
    rec = one(tmp_path, [
        line(1, "MediaBufferingStart"), line(2, "MediaBufferingEnd", x_after_seek="true", x_auto="false"),
        line(3, "MediaBufferingStart"), line(4, "MediaBufferingEnd", x_after_seek="false", x_auto="false"),
    ])
    assert rec["buffering_events"] == 1 and rec["buffering_end_events"] == 2
    assert rec["buffering_length"] == 2.0 and rec["auto_bitrate"] is False


def test_initial_buffering_bad_data_and_counters(tmp_path):
    records, counters = run(tmp_path, [
        line(1, "MediaInitialBufferEnd", x_buffering_length=120),
        line(2, "MediaInitialBufferEnd", x_buffering_length=80),
        line(3, "MediaInitialBufferEnd", x_buffering_length=-5),  # bad data: counted, ignored
        line(4, "MediaInitialBufferEnd", x_buffering_length="1.5"),
        "2026-11-23 10:00:05 - Goonhilly [INFO] event_type=MediaStarted x_tpmid=1001",  # keyless
        "not a log line", "", "   ",  # unparsable, then two blank lines (not counted)
        "2026-02-30 10:00:00 x_tracking_id=a x_tpmid=1",
    ])
    assert records[0]["initial_buffering_length"] == 200 and records[0]["events"] == 2
    assert counters.as_dict() == {
        "lines": 7, "events": 2, "unparsable": 2,
        "unparsable_reasons": {"bad-timestamp": 1, "no-timestamp": 1}, "bad_data": 2, "keyless": 1,
        "streams": 1, "videos": 0}


def test_short_tracking_ids_are_keyed_with_the_video(tmp_path):
    records, counters = run(tmp_path, [
        line(1, "MediaStarted", tid="abc", tpmid="1"), line(2, "MediaStarted", tid="abc", tpmid="2"),
        line(3, "MediaStarted", tpmid="1"), line(4, "MediaStarted", tpmid="2"),
    ])
    assert sorted(r["tracking_id"] for r in records) == sorted(["abc-1", "abc-2", TID])
    long_key = next(r for r in records if r["tracking_id"] == TID)
    assert long_key["media_id"] == "1" and long_key["events"] == 2


def test_descriptive_fields_come_from_the_earliest_event_that_has_them(tmp_path):
    rec = one(tmp_path, [
        line(5, "MediaStarted", x_episode_title="Second", x_client_id="c2", x_video_length=700),
        line(1, "MediaInitialBufferStart", x_program_title="NOVA", component="Video - Portal"),
        line(3, "MediaInitialBufferEnd", x_episode_title="First title", x_useragent="UA 1",
             x_session_id="s1", x_client_id="c1", x_producer="pbs"),
    ])
    assert (rec["title"], rec["program"], rec["client_id"]) == ("First title", "NOVA", "c1")
    assert (rec["user_agent"], rec["session_id"], rec["producer"]) == ("UA 1", "s1", "pbs")
    assert rec["component"] == "Video - Portal" and rec["video_length"] == 700.0


def test_first_lines_that_are_not_start_events_are_read_again(tmp_path):
    records, _ = run(tmp_path, [
        line(1, "MediaScrub", x_episode_title="From a scrub"),
        line(2, "MediaStarted", x_episode_title="Later"),
        # same millisecond, a kept start event and another one: the smaller line text wins
        line(1, "MediaStarted", tid="b" * 36, x_episode_title="Zed"),
        line(1, "MediaBufferingEnd", tid="b" * 36, x_episode_title="Alpha"),
    ])
    titles = {r["tracking_id"]: r["title"] for r in records}
    assert titles == {TID: "From a scrub", "b" * 36: "Alpha"}


def test_positions_failures_and_bitrate_counts(tmp_path):
    rec = one(tmp_path, [
        line(1, "MediaStarted", x_video_location=30), line(2, "MediaStarted", x_video_location=12.5),
        line(3, "MediaEnded", x_video_location=40), line(4, "MediaCompleted", x_video_location=99),
        line(5, "MediaQualityChangeAuto"), line(6, "MediaQualityChange"), line(7, "MediaFailed"),
        line(8, "Playback started"), line(9, None),
    ])
    assert rec["position_earliest_play"] == 12.5 and rec["position_latest_play"] == 99.0
    assert rec["failed"] is True and rec["failed_events"] == 1
    assert rec["auto_bitrate_events"] == 1 and rec["user_bitrate_events"] == 1
    assert rec["other_events"] == 2


def test_video_rollup(tmp_path):
    records, counters = run(tmp_path, [
        line(0, "MediaStarted", tid="s-a" * 12, x_client_id="c1", x_episode_title="T"),
        line(10, "MediaCompleted", tid="s-a" * 12),
        line(0, "MediaStarted", tid="s-b" * 12, x_client_id="c1"), line(30, "MediaEnded", tid="s-b" * 12),
        line(0, "MediaStarted", tid="s-c" * 12, x_client_id="c2"),
        line(0, "MediaBufferingStart", tid="s-c" * 12), line(2, "MediaBufferingEnd", tid="s-c" * 12),
        line(0, "MediaStarted", tid="s-d" * 12, tpmid="2002"), line(1, "MediaFailed", tid="s-d" * 12),
    ], by="video")
    assert counters.videos == 2 and counters.streams == 4
    video = next(r for r in records if r["media_id"] == "1001")
    assert video["video_id"] == "1001-2026-11-23" and video["date"] == "2026-11-23"
    assert video["streams"] == 3 and video["viewers"] == 2 and video["title"] == "T"
    assert video["total_playing_duration"] == 40.0 and video["median_playing_duration"] == 20.0
    assert video["completed_streams"] == 1 and video["completion_rate"] == pytest.approx(1 / 3)
    assert video["buffering_length"] == 2.0 and video["buffering_ratio"] == pytest.approx(2 / 42)
    other = next(r for r in records if r["media_id"] == "2002")
    assert other["failures"] == 1 and other["median_playing_duration"] is None


def test_empty_input_gives_no_records(tmp_path):
    records, counters = run(tmp_path, ["", "  "])
    assert records == [] and counters.total == 0


def test_invalid_utf8_lines_are_unparsable(tmp_path):
    path = tmp_path / "in.log"
    path.write_bytes(line(1, "MediaStarted").encode() + b"\n" + b"2026-11-23 10:00:00 a=\xff\n")
    with duckdb_engine.aggregate([str(path)]) as agg:
        assert agg.counters.unparsable == {"not-utf8": 1} and agg.counters.events == 1


def test_literals_stay_portable():
    assert sql.lit("a=b") == "'a=b'"
    for bad in ("it's", "ends\\"):
        with pytest.raises(ValueError):
            sql.lit(bad)


# -- the SQL parser agrees with the reference parser ------------------------------------------

def _sql_rows(tmp_path, lines: list[str]) -> list[tuple]:
    import duckdb

    path = tmp_path / "agree.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect()
    source = f"read_csv($files, {duckdb_engine.READ_OPTIONS})"
    parse = sql.parse_sql(sql.DUCKDB, source, all_times=True)
    query = f"SELECT status, reason, stream_key, tsk, ts_ms, etype FROM ({parse})"
    rows = con.execute(query, {"files": [str(path)]}).fetchall()
    # the event fields are read (and needed) on events only
    return [(*r[:5], r[5] if r[0] == "event" else None) if r[0] != "unparsable"
            else (r[0], r[1], None, None, None, None) for r in rows]


def _py_rows(lines: list[str]) -> list[tuple]:
    out = []
    for text in lines:
        if is_blank(text):
            continue
        p = parse_line(text)
        if isinstance(p, Unparsable):
            out.append(("unparsable", p.reason, None, None, None, None))
            continue
        tsk = p.timestamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{p.timestamp.microsecond // 1000:03d}"
        key = p.stream_key if p.status == "event" else None
        out.append((p.status, None, key, tsk, p.epoch_ms, p.get("event_type") if key else None))
    return out


def _compare(tmp_path, lines: list[str]) -> None:
    got = sorted(_sql_rows(tmp_path, lines), key=repr)
    want = sorted(_py_rows(lines), key=repr)
    assert got == want


def test_sql_parser_agrees_on_the_real_sample(tmp_path):
    _compare(tmp_path, list(iter_lines([str(SAMPLE)])))


def test_a_line_holding_backslash_zero_or_control_characters_is_read_whole(tmp_path):
    """The reader's column delimiter is not text a log line holds (`\\0`, NUL, tabs, commas)."""
    lines = [f'2026-11-23 10:00:00 x_tracking_id={TID} x_tpmid=5 event_type=MediaStarted '
             f'x_episode_title="C:\\\\0dir{sep}\\0 x" x_video_location=1'
             for sep in ("\x00", "\x01", "\t", ",")]
    lines.append("2026-11-23 10:00:01 \\0 x_tracking_id=\\0")
    _compare(tmp_path, lines)
    assert [r[0] for r in _sql_rows(tmp_path, lines)] == ["event"] * 4 + ["keyless"]


def test_sql_descriptive_fields_agree_on_events(tmp_path):
    """The descriptive fields each event line carries into the aggregation (LINE_META)."""
    import duckdb

    lines = list(iter_lines([str(SAMPLE)])) + [
        f'2026-11-23 10:00:00 x_episode_title="x_producer=fake \\"q\\"" x_tracking_id={TID} x_tpmid=5 '
        'x_producer=pbs x_useragent="UA (1)" x_video_length=12.5 x_client_id=',
    ]
    path = tmp_path / "meta.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cols = ["media_id", *sql.LINE_META]
    source = f"read_csv($f, {duckdb_engine.READ_OPTIONS})"
    query = (f"SELECT tsk, stream_key, {', '.join(cols)} FROM ({sql.parse_sql(sql.DUCKDB, source)}) "
             "WHERE status = 'event'")
    got = sorted(duckdb.connect().execute(query, {"f": [str(path)]}).fetchall(), key=repr)
    want = []
    for text in lines:
        p = parse_line(text)
        if isinstance(p, LogLine) and p.status == "event":
            tsk = p.timestamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{p.timestamp.microsecond // 1000:03d}"
            want.append((tsk, p.stream_key, *(p.get(sql.META_FIELDS[c]) for c in cols)))
    assert len(want) > 1000 and ("x_producer=fake \"q\"" in {w[3] for w in want})
    assert got == sorted(want, key=repr)


PIECES = ["a", "b", " ", " ", "x_tpmid", "x_tracking_id", "event_type", "x_buffering_length", "=", "=", '"',
          "\\", "-", ",", ".", ":", "[", "]", "0", "1", "-1", "é", "\u2028", "\t", "\ufffd", "MediaStarted",
          "\\0", "\x00"]
TOKEN_TEXT = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["2026-11-23 10:00:00,5 ", "2026-11-23 10:00:00 - L [INFO] ",
                                           "2026-02-29 10:00:00 ", "2026-11-23 10:00 ", ""]),
                          TOKEN_TEXT), min_size=1, max_size=40))
def test_sql_parser_agrees_on_generated_lines(tmp_path, items):
    lines = [(head + body).replace("\n", " ").replace("\r", " ") for head, body in items]
    _compare(tmp_path, lines)


def test_sql_parser_agrees_on_adversarial_lines(tmp_path):
    _compare(tmp_path, [
        f'2026-11-23 10:00:00 message="x_tracking_id=fake" x_tracking_id={TID} x_tpmid=5',
        '2026-11-23 10:00:00 message="a \\" x_tpmid=7" x_tracking_id=abc x_tpmid=9',
        '2026-11-23 10:00:00 x_tracking_id="quoted id" x_tpmid="1" event_type="Media Started"',
        '2026-11-23 10:00:00 msg="unterminated x_tracking_id=zz x_tpmid=3',
        "2026-11-23 10:00:00 ax_tracking_id=1 x_tpmid=2",
        "2026-11-23 10:00:00 x_tracking_id=  x_tpmid=2",
        '2026-11-23 10:00:00 x_tracking_id="" x_tpmid=2',
        "2024-02-29 23:59:59.9999 x_tracking_id=leap x_tpmid=2",
    ])


def test_parse_line_types():
    assert isinstance(parse_line("2026-11-23 10:00:00 a=1"), LogLine)


# --- JSON lines encoded by the engine: the same text as dumps() of the records -----------------

EXAMPLE = DATA.parent.parent / "examples" / "player-events.log.gz"


def _both_encodings(paths: list[str], by: str) -> tuple[str, str]:
    from harvester.sinks.jsonlines import dumps

    with duckdb_engine.aggregate(paths, by) as agg:
        python = "".join(dumps(r) + "\n" for batch in agg.batches(1000) for r in batch)
        engine = "".join(line + "\n" for lines in agg.json_lines(7) for line in lines)
    return python, engine


@pytest.mark.parametrize("by", ["stream", "video"])
@pytest.mark.parametrize("source", [SAMPLE, EXAMPLE], ids=["sample", "example"])
def test_engine_encoded_lines_equal_python_encoded_records_on_shipped_logs(source, by):
    python, engine = _both_encodings([str(source)], by)
    assert python.count("\n") > 50
    assert engine == python


@pytest.mark.parametrize("by", ["stream", "video"])
def test_engine_encoded_lines_equal_python_encoded_records_on_tricky_values(tmp_path, by):
    titles = ['quote \\" and backslash \\\\ end', "unicode é ß 漢字 🎬 \u2028 \u00a0", "ctl\x01\x1f\x7f\x0b",
              "tab\there", "slash / </script>", "x" * 300]
    lines = []
    for i, title in enumerate(titles):
        tid = f"{i:02d}" + TID[2:]
        lines += [line(i, "MediaStarted", tid=tid, x_episode_title=title, x_video_location="12.5"),
                  line(i + 0.5, "MediaEnded", tid=tid, x_video_location="123456.123456789")]
    lines += [line(20, "MediaStarted", tid="tiny", x_video_location="0.000000001", x_video_length="1e5"),
              line(20.001, "MediaEnded", tid="tiny", x_video_location="999999999999999.5"),
              line(30, "MediaScrub", tid="b" * 36)]  # nulls: no positions, no durations
    path = tmp_path / "tricky.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    python, engine = _both_encodings([str(path)], by)
    assert engine == python
    if by == "stream":
        assert "\\u0001" in python and "漢字" in python and "1e-09" in python and "null" in python


DOUBLES = st.one_of(st.floats(), st.sampled_from([2.0 ** 81, 2.0 ** 806, 1e16, 1e-5, 0.0001, -0.0, 1e15]))
TEXTS = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), TEXTS), st.one_of(st.none(), DOUBLES),
                          st.one_of(st.none(), st.integers(-2 ** 63, 2 ** 63 - 1)),
                          st.one_of(st.none(), st.booleans())), min_size=1, max_size=30))
def test_json_line_sql_spells_every_value_as_dumps_does(rows):
    import duckdb

    from harvester.sinks.jsonlines import dumps

    con = duckdb.connect()
    con.execute("CREATE TABLE t (n INTEGER, s VARCHAR, d DOUBLE, i BIGINT, b BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [(n, *row) for n, row in enumerate(rows)])
    columns = [(name, kind) for name, kind, *_ in con.execute("DESCRIBE t").fetchall()]
    got = [line for lines in duckdb_engine.encode_lines(con, columns, "t", ["n"], size=4) for line in lines]
    want = [dumps({"n": n, "s": s, "d": d, "i": i, "b": b}) for n, (s, d, i, b) in enumerate(rows)]
    assert got == want


# --- the job behind `harvest logs aggregate` ---------------------------------------------------


def test_job_delivers_engine_encoded_lines_to_a_jsonl_file_and_sums_up(tmp_path):
    from harvester.jobs.logs import LogsSettings, run
    from harvester.sinks.jsonlines import dumps

    out = tmp_path / "out.jsonl"
    summary = run(LogsSettings(inputs=(str(SAMPLE),), output=str(out)))
    with duckdb_engine.aggregate([str(SAMPLE)], "stream") as agg:
        want = "".join(dumps(r) + "\n" for batch in agg.batches() for r in batch)
    assert out.read_text(encoding="utf-8") == want
    assert summary.files == 1 and summary.records == want.count("\n") == summary.counters.streams
    assert summary.fields()["records"] == summary.records and summary.fields()["output"] == str(out)


@pytest.mark.parametrize(("settings", "hint"), [
    ({"output": "out.csv"}, "'-o' / '--output'"),
    ({"memory_limit": "lots"}, "'--memory-limit' (environment variable LOGS_DUCKDB_MEMORY)"),
    ({"inputs": ("/nonexistent/day.log",)}, "'INPUT...'"),
    ({"inputs": ("gs://bucket/logs/",)}, "'INPUT...'"),
])
def test_job_usage_errors_are_config_errors_naming_the_option(tmp_path, settings, hint):
    from harvester.errors import ConfigError
    from harvester.jobs.logs import LogsSettings, run

    base = {"inputs": (str(SAMPLE),), "output": str(tmp_path / "x.jsonl")}
    with pytest.raises(ConfigError) as caught:
        run(LogsSettings(**{**base, **settings}))
    assert caught.value.hint == hint
