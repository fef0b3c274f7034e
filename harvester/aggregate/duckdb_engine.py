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
READ_OPTIONS = (
    "columns={'line': 'VARCHAR'}, delim='\\0', quote='', escape='', header=false, auto_detect=false, "
    "new_line='\\n', strict_mode=false, ignore_errors=true, store_rejects=true, "
    f"max_line_size={MAX_LINE_BYTES}"
)
REJECT_REASONS = {"INVALID ENCODING": "not-utf8", "INVALID UNICODE": "not-utf8",
                  "LINE SIZE OVER MAXIMUM": "line-too-long"}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
        con.execute(f"CREATE TABLE streams_base AS {sql.merge_sql(sql.DUCKDB, columns)}")
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
