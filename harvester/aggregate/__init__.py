"""Player-log aggregation: the logic once (sql.py), two engines (DuckDB default, Spark).

`run_aggregation` is the library entry point behind `harvest logs aggregate`: it fetches S3
inputs when the engine reads locally, runs the chosen engine and returns an `Aggregation`
(counters + records). Heavy libraries are imported only inside the functions that use them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from harvester.aggregate.result import Aggregation, Counters

log = logging.getLogger("harvester.logs")

ENGINES = ("duckdb", "spark")
GROUPINGS = ("stream", "video")


def _reads_locally(engine: str, master: str | None) -> bool:
    """DuckDB and local Spark read local files; a Spark cluster reads S3 with its own connector."""
    return engine == "duckdb" or (master or "local").startswith("local")


class _Cleanup(Aggregation):
    """Wraps an engine's Aggregation to also delete downloaded inputs on close."""

    def __init__(self, inner: Aggregation, tmpdir: str | None):
        self.inner, self.tmpdir = inner, tmpdir
        self.by, self.counters = inner.by, inner.counters

    def batches(self, size: int = 1000):
        return self.inner.batches(size)

    def json_lines(self, size: int = 5000):
        return self.inner.json_lines(size)

    def write_parquet(self, path: str) -> None:
        self.inner.write_parquet(path)

    def close(self) -> None:
        self.inner.close()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def run_aggregation(uris: list[str], *, engine: str = "duckdb", by: str = "stream",
                    spark_master: str | None = None, memory_limit: str = "512MB",
                    threads: int | None = None) -> Aggregation:
    """Aggregate the given files (local paths or s3:// URIs, already resolved)."""
    from harvester.sources.playerlogs import InputFile, fetch_s3, is_s3

    tmpdir = None
    paths = list(uris)
    try:
        remote = [u for u in uris if is_s3(u)]
        if remote and _reads_locally(engine, spark_master):
            tmpdir = tempfile.mkdtemp(prefix="harvest-logs-s3-")
            log.info("fetching %d S3 object(s) to a temporary directory", len(remote))
            paths = fetch_s3([InputFile(u, 0) for u in uris], Path(tmpdir))
        if engine == "duckdb":
            from harvester.aggregate import duckdb_engine

            inner = duckdb_engine.aggregate(paths, by, memory_limit=memory_limit, threads=threads)
        else:
            from harvester.aggregate import spark_engine

            inner = spark_engine.aggregate(paths, by, master=spark_master)
    except BaseException:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return _Cleanup(inner, tmpdir)


def doctor_check() -> list[tuple[str, str, str]]:
    """The engines of `logs aggregate`: DuckDB importable; Spark usable (pyspark + Java) or not set up."""
    checks: list[tuple[str, str, str]] = []
    try:
        import duckdb

        checks.append(("logs engine duckdb", "ok", f"duckdb {duckdb.__version__}"))
    except ImportError as exc:
        checks.append(("logs engine duckdb", "failed", f"duckdb cannot be imported: {exc}"))
    from harvester.aggregate.spark_engine import spark_available

    problem = spark_available()
    if problem:
        checks.append(("logs engine spark", "not configured", problem))
    else:
        from importlib.metadata import version

        java = shutil.which("java") or "JAVA_HOME"
        checks.append(("logs engine spark", "ok", f"pyspark {version('pyspark')}, java at {java}"))
    return checks


__all__ = ["ENGINES", "GROUPINGS", "Aggregation", "Counters", "doctor_check", "run_aggregation"]
