"""The embedded engine: DuckDB in-process, reading the files itself, in parallel.

DuckDB's CSV reader, told that a whole line is one column, streams plain and gzipped files
and hands lines to the shared SQL (harvester/aggregate/sql.py). Parsed lines are kept in a
temporary table under a memory limit, spilled to a temporary directory beyond it, so memory
stays bounded however large the input; lines that are not valid UTF-8 are rejected by the
reader and counted as unparsable.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence

from harvester.aggregate import sql
from harvester.aggregate.result import Aggregation, Counters

log = logging.getLogger("harvester.logs")

MAX_LINE_BYTES = 1024 * 1024
# Each line is one column, so the CSV reader needs a delimiter no log line holds. DuckDB
# reads a delimiter literally (delim='\0' would be backslash and zero, which real lines do
# hold, and cut them there) and takes up to four bytes: four control characters in a row.
LINE_DELIMITER = "chr(0) || chr(1) || chr(30) || chr(31)"
READ_OPTIONS = (
    f"columns={{'line': 'VARCHAR'}}, delim={LINE_DELIMITER}, quote='', escape='', header=false, "
    "auto_detect=false, new_line='\\n', strict_mode=false, ignore_errors=true, store_rejects=true, "
    f"max_line_size={MAX_LINE_BYTES}"
)
REJECT_REASONS = {"INVALID ENCODING": "not-utf8", "INVALID UNICODE": "not-utf8",
                  "LINE SIZE OVER MAXIMUM": "line-too-long"}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# DuckDB's to_json spells a DOUBLE like Python's repr (shortest round trip) in this range,
# checked on millions of values; outside it (huge numbers, tiny ones, inf, nan) and in any
# line holding a \u escape (DuckDB writes control characters as \u00XX in upper case, Python
# in lower case), the row is encoded by Python instead.
_SAFE_DOUBLE = "(abs({c}) >= 0.0001 AND abs({c}) < 1e15 OR {c} = 0)"
_JSON_TYPES = ("VARCHAR", "BOOLEAN", "DOUBLE", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
               "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def json_line_sql(columns: Sequence[tuple[str, str]], source: str, order: Sequence[str],
                  fallback: bool = False) -> str:
    """`SELECT line FROM source ORDER BY order`: each row as the JSON line `dumps` would write.

    `columns` are (name, DuckDB type) in output order. `line` is the row's JSON text, built
    by DuckDB; where DuckDB's text could differ from Python's it is NULL. With `fallback`,
    the query gives those rows only, as `record` (a struct, which Python reads as a dict in
    column order), in the same order, for `dumps`.
    """
    risky = []
    for name, kind in columns:
        if kind.upper() not in _JSON_TYPES:
            raise ValueError(f"no JSON encoding for column {name} of type {kind}")
        if kind.upper() == "DOUBLE":
            risky.append(f'("{name}" IS NOT NULL AND NOT {_SAFE_DOUBLE.format(c=chr(34) + name + chr(34))})')
    record = "{" + ", ".join(f"{_quote(name)}: \"{name}\"" for name, _ in columns) + "}"
    keys = ", ".join(f'"{c}"' for c in order)
    select = ("record FROM j3 WHERE fallback" if fallback
              else "CASE WHEN NOT fallback THEN line END AS line FROM j3")
    return f"""
WITH j3 AS (
  SELECT record, risky OR contains(line, '\\u') AS fallback, line, {keys}
  FROM (
    SELECT record, risky, CAST(to_json(record) AS VARCHAR) AS line, {keys}
    FROM (SELECT {record} AS record, {" OR ".join(risky) or "false"} AS risky, {keys} FROM {source} j0) j1
  ) j2
)
SELECT {select}
ORDER BY {keys}"""


def encode_lines(con, columns: Sequence[tuple[str, str]], source: str, order: Sequence[str],
                 size: int = 5000) -> Iterator[list[str]]:
    """The rows of `source` as JSON lines (`json_line_sql`), `size` at a time, in `order`.

    The few rows DuckDB leaves to Python are fetched by a second query, in the same order,
    only when the first one meets them; `order` must identify a row.
    """
    from harvester.sinks.jsonlines import dumps

    cur = con.cursor()
    cur.execute(json_line_sql(columns, source, order))
    records = None
    while rows := cur.fetchmany(size):
        lines = [line for (line,) in rows]
        if None in lines:
            if records is None:
                records = con.cursor()
                records.execute(json_line_sql(columns, source, order, fallback=True))
            lines = [line if line is not None else dumps(records.fetchone()[0]) for line in lines]
        yield lines


class DuckDBAggregation(Aggregation):
    def __init__(self, con, workdir: str, by: str, counters: Counters):
        self.con, self.workdir, self.by, self.counters = con, workdir, by, counters
        self.query = sql.streams_sql() if by == "stream" else sql.videos_sql()

    def batches(self, size: int = 1000) -> Iterator[list[dict]]:
        cur = self.con.cursor()
        # Counters come out of count_if as HUGEINT, which DuckDB turns into Python ints several
        # times slower than BIGINT: the same ints, cast first (the Parquet output keeps its types).
        described = cur.execute(f"DESCRIBE {self.query}").fetchall()
        huge = [name for name, kind, *_ in described if kind == "HUGEINT"]
        query = self.query
        if huge:
            casts = ", ".join(f"CAST({name} AS BIGINT) AS {name}" for name in huge)
            query = f"SELECT * REPLACE ({casts}) FROM ({self.query}) ORDER BY {sql.OUTPUT_ORDER[self.by]}"
        cur.execute(query)
        cols = [d[0] for d in cur.description]
        while rows := cur.fetchmany(size):
            yield [dict(zip(cols, row, strict=True)) for row in rows]

    def json_lines(self, size: int = 5000) -> Iterator[list[str]]:
        """The records as JSON lines encoded by DuckDB: the text `batches` + `dumps` would give.

        Each row's line is built in SQL (`encode_lines`); the rare row holding a value whose
        text DuckDB is not known to spell like Python is encoded by
        `harvester.sinks.jsonlines.dumps`. Order and batching follow the query.
        """
        described = [(name, kind) for name, kind, *_ in self.con.execute(f"DESCRIBE {self.query}").fetchall()]
        order = [c.strip() for c in sql.OUTPUT_ORDER[self.by].split(",")]
        unordered = sql.streams_sql(ordered=False) if self.by == "stream" else sql.videos_sql(ordered=False)
        yield from encode_lines(self.con, described, f"({unordered})", order, size)

    def write_parquet(self, path: str) -> None:
        self.con.execute(f"COPY ({self.query}) TO {_quote(path)} (FORMAT parquet, COMPRESSION zstd)")

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def aggregate(paths: Sequence[str], by: str = "stream", *, memory_limit: str = "512MB",
              threads: int | None = None) -> DuckDBAggregation:
    """Parse and aggregate local files (plain or .gz) with DuckDB."""
    import duckdb

    workdir = tempfile.mkdtemp(prefix="harvest-logs-")
    # In memory (nothing is ever checkpointed to disk), spilling to `workdir` past the limit.
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = {_quote(memory_limit)}")
        con.execute(f"SET temp_directory = {_quote(os.path.join(workdir, 'spill'))}")
        con.execute("SET preserve_insertion_order = false")
        # The queries put the small side of every join on the right (first-line times, tied
        # streams, ...), which is the side DuckDB builds its hash table on. Its estimate for lines
        # read from files is far too low, so left to itself it would build on all the lines read
        # again (the whole input in a hash table) instead: keep the joins as written.
        con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        counters = Counters()
        params = {"files": list(paths)} if paths else {}
        source = f"read_csv($files, {READ_OPTIONS})" if paths else "(SELECT NULL::VARCHAR AS line)"
        con.execute(f"CREATE TABLE parsed AS {sql.parse_sql(sql.DUCKDB, source)}", params)
        if paths:
            for error_type, n in con.execute(
                    "SELECT error_type, count(*) FROM reject_errors GROUP BY error_type").fetchall():
                reason = REJECT_REASONS.get(str(error_type).upper(), "unreadable")
                counters.unparsable[reason] = counters.unparsable.get(reason, 0) + int(n)
        counters.add_rows(con.execute(sql.counters_sql()).fetchall())
        con.execute(f"CREATE TABLE streams_first AS {sql.streams_base_sql(sql.DUCKDB, 'parsed')}")
        con.execute("DROP TABLE parsed")
        tied = con.execute(sql.tied_sql()).fetchone()[0]
        # Only streams with several lines at their first millisecond need the input read again.
        limit = "" if tied else " LIMIT 0"
        first_lines = sql.first_lines_sql(sql.DUCKDB, "streams_first", source)
        con.execute(f"CREATE TABLE streams_first_lines AS {first_lines}{limit}", params)
        columns = [r[0] for r in con.execute("DESCRIBE streams_first").fetchall()]
        # A view: the output query reads it once, and copying the wide rows into a table first
        # took half as long as encoding them (0.15 s for 85,000 streams).
        con.execute(f"CREATE VIEW streams_base AS {sql.merge_sql(sql.DUCKDB, columns)}")
        counters.streams = con.execute("SELECT count(*) FROM streams_base").fetchone()[0]
        if by == "video":
            counters.videos = con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT media_id, substr(first_tsk, 1, 10) FROM streams_base)"
            ).fetchone()[0]
    except BaseException:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return DuckDBAggregation(con, workdir, by, counters)
