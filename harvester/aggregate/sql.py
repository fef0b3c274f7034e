"""The player-log aggregation, written once as SQL that DuckDB and Spark SQL both run.

Every step (parsing a line, keying an event, summarising a stream, rolling streams up per
video) lives in the queries below; an engine only provides a table `raw_lines(line)` and
runs them. The few spellings the two dialects do not share (epoch milliseconds, 1-based list
lookup, the regex back-reference) are rendered from `Dialect`, so the logic cannot drift
between engines. Everything is computed in integer milliseconds and formatted with string
operations, which keeps results bit-identical across engines (a test checks this).

Parsing mirrors `harvester.sources.playerlogs.parse_line` (the reference parser; a test
checks that both agree on the real sample and on generated lines). For speed, a field is
read with one regex anchored on ` key=`; only lines where a quoted value itself contains
` word=` (SUSPICIOUS) are tokenized fully, which gives the same answer as tokenizing always.
"""

from __future__ import annotations

from dataclasses import dataclass

from harvester.sources import playerlogs as pl

# Regular expressions shared by RE2 (DuckDB) and java.util.regex (Spark). `(?s)` makes `.`
# match every character in both (Java's `.` would skip U+2028 and friends, RE2's only a
# line feed, which a line never contains); `\z` is the true end of text in both.
VALUE = r'("(?:[^"\\]|\\.)*"|[^ ]*)'
VALUE_NC = r'(?:"(?:[^"\\]|\\.)*"|[^ ]*)'  # the same without a capture: matched by a DFA alone, faster
TOKEN = r"(?s)(?:^| )([A-Za-z0-9_-]+)=" + VALUE
# the same pairs whole, without captures (much faster to list); `_split_tokens` cuts them at the first `=`
TOKEN_NC = r"(?s)(?:^| )[A-Za-z0-9_-]+=" + VALUE_NC
ANY_FIELD = r"(?:^| )[A-Za-z0-9_-]+="
SUSPICIOUS = r'="(?:[^"\\]|\\.)*? [A-Za-z0-9_-]+='
TIMESTAMP = (r"^([1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) "
             r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.,][0-9]+)?)(?: |\z)")
BLANK = r"^[ \t]*\z"
UNESCAPE = r"(?s)\\(.)"
DIGITS = r"^[0-9]{1,18}\z"
NUMBER = r"^-?[0-9]{1,15}(?:\.[0-9]{1,9})?\z"

# column -> log key: read on every line (the stream key, the event type, bad-data check) ...
CORE_FIELDS: dict[str, str] = {
    "tracking_id": "x_tracking_id", "tpmid": "x_tpmid", "etype": "event_type",
    "buf_raw": "x_buffering_length",
}
# ... read only on the event types that use them ...
TYPED_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "loc_raw": ("x_video_location", ("MediaStarted", "MediaEnded", "MediaCompleted", "MediaBufferingStart",
                                     "MediaBufferingEnd")),
    "x_auto": ("x_auto", ("MediaBufferingEnd",)),
    "after_seek": ("x_after_seek", ("MediaBufferingEnd",)),
}
# ... and read once per stream, from the first line of the stream that has a value.
META_FIELDS: dict[str, str] = {
    "media_id": "x_tpmid", "title": "x_episode_title", "program": "x_program_title", "producer": "x_producer",
    "session_id": "x_session_id", "client_id": "x_client_id", "user_agent": "x_useragent",
    "video_length": "x_video_length", "component": "component",
}
#: the descriptive fields read on every event line (media_id is the core x_tpmid)
LINE_META: dict[str, str] = {col: key for col, key in META_FIELDS.items() if col != "media_id"}
START_EVENTS = ("MediaStarted", "MediaInitialBufferStart")
END_EVENTS = ("MediaEnded", "MediaCompleted")
#: per-type event counters in the stream summary (beyond Agora's)
TYPE_COUNTS = {
    "started_events": "MediaStarted", "ended_events": "MediaEnded", "completed_events": "MediaCompleted",
    "failed_events": "MediaFailed", "initial_buffer_start_events": "MediaInitialBufferStart",
    "initial_buffer_end_events": "MediaInitialBufferEnd", "buffering_end_events": "MediaBufferingEnd",
}
KNOWN_TYPES = (*pl.EVENT_TYPES,)

assert pl.STREAM_KEY_MIN_LENGTH == 30


@dataclass(frozen=True)
class Dialect:
    """What DuckDB and Spark SQL spell differently; nothing else."""

    name: str
    epoch_ms: str  # format string with {ts}
    backref: str  # regex replacement back-reference to group 1
    replace_flags: str  # extra regexp_replace argument ("" or ", 'g')
    matches: str  # boolean "does the regex match anywhere" function
    dot_all: str  # flag making `.` match any character ("" where that is already so for our input)
    bad_utf8: str  # extra test for undecodable bytes ({line}); DuckDB's reader already rejects them
    transform: str  # apply {expr} of `x` to every element of list {items}

    def lookup(self, keys: str, values: str, key: str) -> str:
        """The value for the first `key` in parallel lists `keys`/`values`, else NULL."""
        if self.name == "duckdb":
            return f"{values}[list_position({keys}, {lit(key)})]"
        pos = f"array_position({keys}, {lit(key)})"
        return f"(CASE WHEN {pos} > 0 THEN {values}[{pos} - 1] END)"


DUCKDB = Dialect("duckdb", "epoch_ms({ts})", r"\1", ", 'g'", "regexp_matches", "", "false",
                 "list_transform({items}, lambda x: {expr})")
# Spark runs with spark.sql.parser.escapedStringLiterals=true so literals read like DuckDB's.
SPARK = Dialect("spark", "unix_millis({ts})", "$1", "", "regexp_like", "(?s)", "NOT is_valid_utf8({line})",
                "transform({items}, x -> {expr})")


def lit(text: str) -> str:
    """A SQL string literal both dialects read the same way (no quotes, no trailing backslash)."""
    if "'" in text or text.endswith("\\"):
        raise ValueError(f"literal not portable: {text!r}")
    return f"'{text}'"


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(lit(v) for v in values)})"


def _unquote(d: Dialect, raw: str) -> str:
    inner = f"substr({raw}, 2, length({raw}) - 2)"
    return (f"CASE WHEN {raw} LIKE '\"%\"' THEN (CASE WHEN instr({raw}, chr(92)) > 0 THEN "
            f"regexp_replace({inner}, {lit(UNESCAPE)}, {lit(d.backref)}{d.replace_flags}) ELSE {inner} END) "
            f"ELSE {raw} END")


def _split_tokens(d: Dialect, toks: str) -> str:
    """`tok_k, tok_v` from a list of whole pairs (` key=value`): keys hold no `=` and no space."""
    key = d.transform.format(items=toks, expr="ltrim(substr(x, 1, instr(x, '=') - 1))")
    value = d.transform.format(items=toks, expr="substr(x, instr(x, '=') + 1)")
    return f"{key} AS tok_k, {value} AS tok_v"


def _plain_field(d: Dialect, key: str, line: str = "line") -> str:
    """` key=value` as the first ` key=` gives it ('' when there is none): right unless SUSPICIOUS."""
    return f"regexp_extract({line}, {lit(d.dot_all + ' ' + key + '=' + VALUE_NC)}, 0)"


def _raw_field(d: Dialect, key: str, line: str = "line", sus: str = "sus", tok_k: str = "tok_k",
               tok_v: str = "tok_v", plain: str | None = None) -> str:
    """The raw value of `key` (quotes kept): from the full token list on suspicious lines."""
    return (f"(CASE WHEN {sus} THEN {d.lookup(tok_k, tok_v, key)} "
            f"ELSE substr({plain or _plain_field(d, key, line)}, {len(key) + 3}) END)")


def fields_sql(d: Dialect, source: str, keep: str, line: str, fields: dict[str, str]) -> str:
    """A subquery reading `fields` (column -> key) from column `line` of `source`, keeping `keep`.

    Used where few rows need many fields (the first line of each stream); built in layers so
    that each regex runs once per row.
    """
    raw = ",\n      ".join(f"{_raw_field(d, key, line)} AS {col}" for col, key in fields.items())
    unq = ",\n    ".join(f"nullif({_unquote(d, col)}, '') AS {col}" for col in fields)
    return f"""(
  SELECT {keep},
    {unq}
  FROM (
    SELECT {keep},
      {raw}
    FROM (
      SELECT {keep}, {line}, sus, {_split_tokens(d, "toks")}
      FROM (
        SELECT {keep}, {line}, sus,
          CASE WHEN sus THEN regexp_extract_all({line}, {lit(TOKEN_NC)}, 0) END AS toks
        FROM (SELECT {keep}, {line}, {d.matches}({line}, {lit(SUSPICIOUS)}) AS sus FROM {source}) s0
      ) s1
    ) s2
  ) s3
)"""


def _guarded(d: Dialect, key: str, condition: str) -> str:
    return f"CASE WHEN {condition} THEN {_raw_field(d, key)} END"


EVENT = "status = 'event'"


def parse_sql(d: Dialect, source: str = "raw_lines", all_times: bool = False) -> str:
    """Every non-blank line -> one row: status, reason, and the fields an event needs.

    status is one of: unparsable (reason says why), keyless, bad-data, event. Lines are not
    kept: event lines carry their descriptive fields (LINE_META), which `streams_base_sql`
    reduces to one value per stream. The times (tsk, ts_ms) of other lines are dropped
    unless `all_times` (the aggregation never reads them; kept, they would take most of the
    memory of the parsed rows).
    """
    times = "tsk, ts_ms" if all_times else \
        "CASE WHEN status = 'event' THEN tsk END AS tsk, CASE WHEN status = 'event' THEN ts_ms END AS ts_ms"
    tid = CORE_FIELDS["tracking_id"]
    keyed = {col: key for col, key in CORE_FIELDS.items() if col != "tracking_id"}
    core = ",\n    ".join(f"{_guarded(d, key, 'tracking_id IS NOT NULL AND reason0 IS NULL')} AS {col}"
                           for col, key in keyed.items())
    core_unq = ",\n    ".join(f"nullif({_unquote(d, col)}, '') AS {col}" for col in keyed)
    typed = ",\n    ".join(f"{_guarded(d, key, _in('etype', types))} AS {col}"
                           for col, (key, types) in TYPED_FIELDS.items())
    typed_unq = ",\n    ".join(f"nullif({_unquote(d, col)}, '') AS {col}" for col in TYPED_FIELDS)
    meta = ",\n    ".join(f"{_guarded(d, key, EVENT)} AS {col}" for col, key in LINE_META.items())
    meta_unq = ",\n    ".join(f"nullif({_unquote(d, col)}, '') AS {col}" for col in LINE_META)
    # Without ` x_tracking_id=` anywhere a line is keyless (or unparsable) whatever its quotes
    # hold, so only the others are checked for quoted values holding ` word=` (SUSPICIOUS),
    # and only lines with a tracking id have their other core fields read.
    return f"""
WITH lines AS (
  SELECT line,
    regexp_extract(line, {lit(TIMESTAMP)}, 1) AS ts_raw,
    {_plain_field(d, tid)} AS tid0
  FROM {source}
  -- (only lines that start with a space or a tab can be blank but not empty)
  WHERE line IS NOT NULL AND line <> ''
    AND NOT (substr(line, 1, 1) IN (' ', chr(9)) AND {d.matches}(line, {lit(BLANK)}))
), susp AS (
  SELECT line, ts_raw, tid0,
    CASE WHEN tid0 <> '' THEN {d.matches}(line, {lit(SUSPICIOUS)}) ELSE false END AS sus
  FROM lines
), toks AS (
  SELECT line, ts_raw, tid0, sus,
    CASE WHEN sus THEN regexp_extract_all(line, {lit(TOKEN_NC)}, 0) END AS toks,
    substr(ts_raw, 1, 19) || '.' || rpad(substr(ts_raw, 21, 3), 3, '0') AS tsk
  FROM susp
), stamped AS (
  SELECT line, ts_raw, tid0, sus, tsk, {_split_tokens(d, "toks")},
    {d.epoch_ms.format(ts="try_cast(tsk AS TIMESTAMP)")} AS ts_ms
  FROM toks
), raw_tid AS (
  SELECT line, sus, tok_k, tok_v, tsk, ts_ms,
    CASE WHEN instr(line, {lit(chr(0xFFFD))}) > 0 OR {d.bad_utf8.format(line="line")} THEN 'not-utf8'
         WHEN ts_raw = '' THEN 'no-timestamp'
         WHEN ts_ms IS NULL THEN 'bad-timestamp' END AS reason0,
    {_raw_field(d, tid, plain="tid0")} AS tracking_id
  FROM stamped
), tided AS (
  SELECT line, sus, tok_k, tok_v, tsk, ts_ms, reason0, nullif({_unquote(d, "tracking_id")}, '') AS tracking_id
  FROM raw_tid
), raw_core AS (
  SELECT *,
    {core}
  FROM tided
), cored0 AS (
  SELECT line, sus, tok_k, tok_v, tsk, ts_ms, reason0, tracking_id,
    {core_unq}
  FROM raw_core
), cored AS (
  SELECT *,
    -- a line with a tracking id has pairs; only the others need the full check
    coalesce(reason0, CASE WHEN tracking_id IS NULL AND NOT {d.matches}(line, {lit(ANY_FIELD)})
                           THEN 'no-fields' END) AS reason
  FROM cored0
), classified AS (
  SELECT *,
    CASE WHEN reason IS NOT NULL THEN 'unparsable'
         WHEN tracking_id IS NULL OR tpmid IS NULL THEN 'keyless'
         WHEN buf_raw IS NOT NULL AND NOT {d.matches}(buf_raw, {lit(DIGITS)}) THEN 'bad-data'
         ELSE 'event' END AS status
  FROM cored
), raw_typed AS (
  SELECT *,
    {typed},
    {meta}
  FROM classified
), typed AS (
  SELECT status, reason, line, tsk, ts_ms, tracking_id, tpmid, etype, buf_raw,
    {typed_unq},
    {meta_unq}
  FROM raw_typed
)
SELECT status, reason,
  CASE WHEN status = 'event' THEN
    CASE WHEN length(tracking_id) < 30 THEN tracking_id || '-' || tpmid ELSE tracking_id END
  END AS stream_key,
  {times}, etype, loc_raw,
  CASE WHEN {d.matches}(loc_raw, {lit(NUMBER)}) THEN CAST(loc_raw AS DOUBLE) END AS loc,
  CASE WHEN {d.matches}(buf_raw, {lit(DIGITS)}) THEN CAST(buf_raw AS BIGINT) END AS buf_ms,
  lower(x_auto) AS x_auto, coalesce(lower(after_seek) = 'true', false) AS after_seek,
  CASE WHEN status = 'event' THEN tpmid END AS media_id, {", ".join(LINE_META)}
FROM typed
"""


def counters_sql(parsed: str = "parsed") -> str:
    """Line counts by status and reason (the run's closing counters)."""
    return f"SELECT status, reason, count(*) AS n FROM {parsed} GROUP BY status, reason"


def _first(col: str, order: str = "tsk", width: int = 23) -> str:
    """The value of `col` on the earliest row that has one (ties: the smallest value)."""
    return f"substr(min(CASE WHEN {col} IS NOT NULL THEN {order} || {col} END), {width + 1})"


KEY_FIELDS = {"tracking_id": "x_tracking_id", "tpmid": "x_tpmid", "buf_raw": "x_buffering_length"}


def _event_key(alias: str) -> str:
    """The stream key of a re-read line, NULL unless the line is an event (as parse_sql decides)."""
    t, p, b = (f"{alias}.{c}" for c in ("tracking_id", "tpmid", "buf_raw"))
    return (f"(CASE WHEN {t} IS NULL OR {p} IS NULL OR {alias}.bad_utf8 "
            f"OR NOT coalesce({alias}.buf_ok, true) THEN NULL "
            f"WHEN length({t}) < 30 THEN {t} || '-' || {p} ELSE {t} END)")


def _reread(d: Dialect, source: str, at: str | None = None) -> str:
    """Lines of `source` again with their timestamp key, only those at the times of `at`."""
    tsk = "substr(ts_raw, 1, 19) || '.' || rpad(substr(ts_raw, 21, 3), 3, '0')"
    bad = f"(instr(line, {lit(chr(0xFFFD))}) > 0 OR {d.bad_utf8.format(line='line')})"
    where = f"WHERE tsk IN {at}" if at else ""
    return f"""(
    SELECT line, tsk, bad_utf8 FROM (
      SELECT line, {tsk} AS tsk, {bad} AS bad_utf8
      FROM (SELECT line, regexp_extract(line, {lit(TIMESTAMP)}, 1) AS ts_raw FROM {source}
            WHERE line IS NOT NULL) r0
    ) r1 {where}
  )"""


def streams_base_sql(d: Dialect, parsed: str = "parsed") -> str:
    """Per-stream summaries with internal millisecond columns (play_ms, buf_ms).

    A descriptive field is the value on the stream's first line, else the earliest value on
    its other lines (ties at a millisecond: the smallest value). Where a stream has one line
    at its first millisecond, both rules give the earliest value, so every field is the
    earliest value, computed from the fields each event line carries (`parse_sql`), without
    reading the input again. Only where several lines share a stream's first millisecond
    (`tied`) does the first line need its text (the smallest line wins): `first_lines_sql`
    reads those lines again and `merge_sql` puts their values first.
    """
    starts, ends = _in("etype", START_EVENTS), _in("etype", END_EVENTS)
    counts = ",\n    ".join(f"count_if(etype = {lit(t)}) AS {name}" for name, t in TYPE_COUNTS.items())
    meta = ",\n    ".join(f"{_first(col)} AS {col}" for col in META_FIELDS)
    # the events, written out where they are used: as a CTE, DuckDB would copy them all first
    ev = f"(SELECT * FROM {parsed} WHERE status = 'event')"
    return f"""
WITH d AS (
  SELECT stream_key, ts_ms, {starts} AS is_start, {ends} AS is_end,
    coalesce(sum(CASE WHEN {ends} THEN 1 ELSE 0 END) OVER (PARTITION BY stream_key
      ORDER BY ts_ms, CASE WHEN {starts} THEN 0 ELSE 1 END
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS seg
  FROM {ev} ev WHERE {starts} OR {ends}
), dseg AS (
  SELECT stream_key, seg, min(CASE WHEN is_start THEN ts_ms END) AS s,
    max(CASE WHEN is_end THEN ts_ms END) AS e
  FROM d GROUP BY stream_key, seg
), dur AS (
  SELECT stream_key, CAST(sum(CASE WHEN s IS NOT NULL AND e IS NOT NULL THEN e - s ELSE 0 END) AS BIGINT)
    AS play_ms
  FROM dseg GROUP BY stream_key
), b AS (
  SELECT stream_key, etype, ts_ms, loc_raw,
    lag(etype) OVER w AS p_type, lag(ts_ms) OVER w AS p_ts, lag(loc_raw) OVER w AS p_loc
  FROM {ev} ev WHERE etype IN ('MediaBufferingStart', 'MediaBufferingEnd')
  WINDOW w AS (PARTITION BY stream_key ORDER BY ts_ms,
               CASE WHEN etype = 'MediaBufferingStart' THEN 0 ELSE 1 END)
), bagg AS (
  SELECT stream_key,
    bool_or((etype = 'MediaBufferingStart' AND p_type = 'MediaBufferingStart')
         OR (etype = 'MediaBufferingEnd' AND (p_type IS NULL OR p_type = 'MediaBufferingEnd'
                                              OR loc_raw IS DISTINCT FROM p_loc))) AS broken,
    CAST(sum(CASE WHEN etype = 'MediaBufferingEnd' AND p_type = 'MediaBufferingStart'
             THEN ts_ms - p_ts ELSE 0 END) AS BIGINT) AS buf_ms,
    count_if(etype = 'MediaBufferingEnd' AND p_type = 'MediaBufferingStart') AS pairs
  FROM b GROUP BY stream_key
), agg AS (
  SELECT stream_key,
    min(tsk) AS first_tsk, max(tsk) AS last_tsk,
    nullif(substr(min(tsk || coalesce(etype, '')), 24), '') AS first_event_type,
    nullif(substr(max(tsk || coalesce(etype, '')), 24), '') AS last_event_type,
    count(*) AS events,
    count_if(etype = 'MediaCompleted') > 0 AS finished_playback,
    CASE WHEN count_if({ends}) > 0 THEN false
         WHEN count_if(etype = 'MediaStarted') > 0 THEN true END AS incomplete_stream,
    count_if(etype = 'MediaFailed') > 0 AS failed,
    count_if(etype = 'MediaBufferingStart') AS buffer_start_events,
    count_if(etype = 'MediaBufferingEnd' AND NOT after_seek) AS buffering_events,
    CAST(coalesce(sum(CASE WHEN etype = 'MediaInitialBufferEnd' THEN buf_ms END), 0) AS BIGINT)
      AS initial_buffering_length,
    CASE WHEN count_if(etype = 'MediaBufferingEnd' AND NOT after_seek AND x_auto = 'true') > 0 THEN true
         WHEN count_if(etype = 'MediaBufferingEnd' AND NOT after_seek AND x_auto IS NOT NULL) > 0 THEN false
    END AS auto_bitrate,
    count_if(etype = 'MediaQualityChangeAuto') AS auto_bitrate_events,
    count_if(etype = 'MediaQualityChange') AS user_bitrate_events,
    count_if(etype = 'MediaScrub') AS scrub_events,
    {counts},
    count_if(etype IS NULL OR NOT {_in("etype", KNOWN_TYPES)}) AS other_events,
    min(CASE WHEN etype = 'MediaStarted' THEN loc END) AS position_earliest_play,
    max(CASE WHEN {ends} THEN loc END) AS position_latest_play,
    {meta}
  FROM {ev} ev GROUP BY stream_key
), tied AS (
  -- streams with more than one line at their first millisecond
  SELECT ev.stream_key FROM {ev} ev JOIN agg ON ev.stream_key = agg.stream_key AND ev.tsk = agg.first_tsk
  GROUP BY ev.stream_key HAVING count(*) > 1
)
SELECT agg.*,
  tied.stream_key IS NOT NULL AS tied,
  nullif(dur.play_ms, 0) AS play_ms,
  CASE WHEN bagg.broken OR bagg.pairs = 0 THEN NULL ELSE bagg.buf_ms END AS buf_ms
FROM agg LEFT JOIN dur ON dur.stream_key = agg.stream_key
         LEFT JOIN bagg ON bagg.stream_key = agg.stream_key
         LEFT JOIN tied ON tied.stream_key = agg.stream_key
"""


def _number(d: Dialect, expr: str) -> str:
    return f"CASE WHEN {d.matches}({expr}, {lit(NUMBER)}) THEN CAST({expr} AS DOUBLE) END"


def tied_sql(first: str = "streams_first") -> str:
    """How many streams have several lines at their first millisecond (0: no re-read needed)."""
    return f"SELECT count(*) AS n FROM {first} WHERE tied"


def first_lines_sql(d: Dialect, first: str = "streams_first", source: str = "raw_lines") -> str:
    """The descriptive fields of the first line (the smallest text) of each `tied` stream.

    Reads the input again (only the lines at those first milliseconds are kept), so engines
    run it only when `tied_sql` finds such streams.
    """
    tied = f"(SELECT stream_key, first_tsk FROM {first} WHERE tied)"
    lines = fields_sql(d, _reread(d, source, f"(SELECT first_tsk FROM {tied} t0)"), "tsk, line, bad_utf8",
                       "line", KEY_FIELDS)
    key = _event_key("f").replace("f.buf_ok", f"{d.matches}(f.buf_raw, {lit(DIGITS)})")
    fl = f"""(
  SELECT t.stream_key, min(CASE WHEN {key} = t.stream_key THEN f.line END) AS line
  FROM {lines} f
  JOIN {tied} t ON f.tsk = t.first_tsk
  GROUP BY t.stream_key
)"""
    return f"SELECT * FROM {fields_sql(d, fl, 'stream_key', 'line', META_FIELDS)} m0"


def merge_sql(d: Dialect, columns: list[str], first: str = "streams_first",
              first_lines: str = "streams_first_lines") -> str:
    """The summaries: the first line's fields where it was read again, else the earliest values."""
    out = []
    for c in columns:
        if c == "tied":
            continue
        if c not in META_FIELDS:
            out.append(f"s.{c}")
        elif c == "video_length":  # a first line's value that is not a number counts as missing
            out.append(f"coalesce({_number(d, 'f.' + c)}, {_number(d, 's.' + c)}) AS {c}")
        else:
            out.append(f"coalesce(f.{c}, s.{c}) AS {c}")
    return f"SELECT {', '.join(out)} FROM {first} s LEFT JOIN {first_lines} f ON f.stream_key = s.stream_key"


def _iso(col: str) -> str:
    return f"replace({col}, ' ', 'T') || 'Z'"


def _secs(col: str) -> str:
    return f"CAST({col} AS DOUBLE) / 1000"


#: the columns of a stream summary, in output order
STREAM_COLUMNS = (
    "stream_id", "tracking_id", "media_id", "title", "program", "producer", "session_id", "client_id",
    "user_agent", "video_length", "component", "earliest_time", "latest_time", "first_event_type",
    "last_event_type", "events", "finished_playback", "incomplete_stream", "failed", "playing_duration",
    "buffer_start_events", "buffering_events", "buffering_length", "initial_buffering_length",
    "auto_bitrate", "auto_bitrate_events", "user_bitrate_events", "scrub_events",
    *TYPE_COUNTS, "other_events", "position_earliest_play", "position_latest_play",
)


#: the order of streams_sql/videos_sql, in terms of their output columns (for a query wrapping them;
#: earliest_time sorts like first_tsk, which always has the same layout)
OUTPUT_ORDER = {"stream": "earliest_time, tracking_id", "video": "date, media_id"}


def streams_sql(base: str = "streams_base", ordered: bool = True) -> str:
    """The stream summary records, in a stable order (`ordered`: for a query that sorts them itself)."""
    cols = {
        "stream_id": "stream_key || '-' || substr(first_tsk, 1, 10)",
        "tracking_id": "stream_key",
        "earliest_time": _iso("first_tsk"), "latest_time": _iso("last_tsk"),
        "playing_duration": _secs("play_ms"), "buffering_length": _secs("buf_ms"),
    }
    select = ",\n  ".join(f"{cols.get(c, c)} AS {c}" for c in STREAM_COLUMNS)
    order = "\nORDER BY first_tsk, stream_key" if ordered else ""
    return f"SELECT\n  {select}\nFROM {base}{order}"


VIDEO_COLUMNS = (
    "video_id", "media_id", "date", "title", "program", "streams", "viewers", "events",
    "total_playing_duration", "median_playing_duration", "completed_streams", "completion_rate",
    "buffering_length", "buffering_ratio", "failures",
)


def videos_sql(base: str = "streams_base", ordered: bool = True) -> str:
    """Per media id and day (of each stream's earliest event): the `--by video` rollup (see streams_sql)."""
    day = "substr(first_tsk, 1, 10)"
    return f"""
SELECT media_id || '-' || day AS video_id, media_id, day AS date, title, program, streams, viewers, events,
  {_secs("play_ms")} AS total_playing_duration, median_ms / 1000 AS median_playing_duration,
  completed_streams, CAST(completed_streams AS DOUBLE) / streams AS completion_rate,
  {_secs("buf_ms")} AS buffering_length,
  CASE WHEN coalesce(buf_ms, 0) + coalesce(play_ms, 0) > 0
       THEN CAST(coalesce(buf_ms, 0) AS DOUBLE) / (coalesce(buf_ms, 0) + coalesce(play_ms, 0)) END
    AS buffering_ratio,
  failures
FROM (
  SELECT media_id, {day} AS day,
    {_first("title", "first_tsk")} AS title,
    {_first("program", "first_tsk")} AS program,
    count(*) AS streams, count(DISTINCT client_id) AS viewers, CAST(sum(events) AS BIGINT) AS events,
    CAST(sum(play_ms) AS BIGINT) AS play_ms, median(play_ms) AS median_ms,
    count_if(finished_playback) AS completed_streams,
    CAST(sum(buf_ms) AS BIGINT) AS buf_ms,
    count_if(failed) AS failures
  FROM {base} GROUP BY media_id, {day}
) v
""" + ("ORDER BY date, media_id\n" if ordered else "")
