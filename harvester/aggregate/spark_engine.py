"""The distributed engine: the same SQL (harvester/aggregate/sql.py) on Apache Spark.

For when one machine is not enough: run `harvest logs aggregate --engine spark` with
`--spark-master` (yarn, spark://..., k8s://...), or launch `harvest.py` with spark-submit on
EMR/Dataproc, where the cluster's own S3/GCS connectors read the input. PySpark is an
optional dependency (`pip install .[spark]`) and needs Java 17+.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from harvester.aggregate import sql
from harvester.aggregate.result import Aggregation, Counters

log = logging.getLogger("harvester.logs")

SESSION_CONF = {
    # literals are read like DuckDB's (the shared SQL's regexes contain backslashes)
    "spark.sql.parser.escapedStringLiterals": "true",
    # log timestamps carry no zone: they are UTC, whatever the cluster's zone
    "spark.sql.session.timeZone": "UTC",
    # the parse query is layered so that each regex runs once per line; collapsing the layers
    # would copy an extracted field into every expression that uses it (and re-run its regex)
    "spark.sql.optimizer.excludedRules": "org.apache.spark.sql.catalyst.optimizer.CollapseProject",
}


def spark_available() -> str | None:
    """None when pyspark and Java can be used, else why not (for errors and test skips)."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'harvester[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed (Spark needs Java 17+; set JAVA_HOME or put java on PATH)"
    return None


def session(master: str | None, app_name: str = "harvest-logs-aggregate"):
    """A SparkSession; `master` None keeps what spark-submit configured (else local[*])."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master or not SparkConf().contains("spark.master"):
        builder = builder.master(master or "local[*]")
    builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    if (master or "local").startswith("local"):
        # one machine: a few shuffle partitions, not the cluster default of 200 per exchange
        builder = builder.config("spark.sql.shuffle.partitions", "8")
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    spark.sparkContext.setLogLevel("WARN")
    return spark


class SparkAggregation(Aggregation):
    def __init__(self, spark, by: str, counters: Counters, cached: list, stop: bool):
        self.spark, self.by, self.counters, self._cached, self._stop = spark, by, counters, cached, stop
        self.result = spark.sql(sql.streams_sql() if by == "stream" else sql.videos_sql())

    def batches(self, size: int = 1000) -> Iterator[list[dict]]:
        batch: list[dict] = []
        for row in self.result.toLocalIterator():
            batch.append(row.asDict())
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def write_parquet(self, path: str) -> None:
        self.result.write.mode("overwrite").parquet(path)

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached = []
        if self._stop and self.spark is not None:
            self.spark.stop()
            self.spark = None


def aggregate(paths: Sequence[str], by: str = "stream", *, master: str | None = None,
              stop: bool = True) -> SparkAggregation:
    """Parse and aggregate files (local paths or URIs the cluster can read) with Spark."""
    from pyspark import StorageLevel

    spark = session(master)
    try:
        if paths:
            lines = spark.read.text(list(paths)).withColumnRenamed("value", "line")
        else:
            lines = spark.sql("SELECT CAST(NULL AS STRING) AS line WHERE false")
        lines.createOrReplaceTempView("raw_lines")
        parsed = spark.sql(sql.parse_sql(sql.SPARK, "raw_lines")).persist(StorageLevel.MEMORY_AND_DISK)
        parsed.createOrReplaceTempView("parsed")
        counters = Counters()
        counters.add_rows((r["status"], r["reason"], r["n"]) for r in spark.sql(sql.counters_sql()).collect())
        first = spark.sql(sql.streams_base_sql(sql.SPARK, "parsed"))
        first = first.persist(StorageLevel.MEMORY_AND_DISK)
        first.createOrReplaceTempView("streams_first")
        tied = spark.sql(sql.tied_sql()).collect()[0]["n"]
        # Only streams with several lines at their first millisecond need the input read again.
        first_lines = spark.sql(sql.first_lines_sql(sql.SPARK, "streams_first", "raw_lines"))
        (first_lines if tied else first_lines.limit(0)).createOrReplaceTempView("streams_first_lines")
        base = spark.sql(sql.merge_sql(sql.SPARK, first.columns)).persist(StorageLevel.MEMORY_AND_DISK)
        base.createOrReplaceTempView("streams_base")
        counters.streams = base.count()
        if by == "video":
            counters.videos = spark.sql(
                "SELECT count(*) AS n FROM (SELECT DISTINCT media_id, substr(first_tsk, 1, 10) "
                "FROM streams_base)").collect()[0]["n"]
    except BaseException:
        if stop:
            spark.stop()
        raise
    return SparkAggregation(spark, by, counters, [parsed, first, base], stop)
