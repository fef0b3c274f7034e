"""Both engines run the one aggregation: identical summaries from DuckDB and Spark.

Small on purpose (local[1], a few hundred lines) so CI stays fast; skipped only where pyspark
or Java is missing (CI installs both).
"""

from __future__ import annotations

import json

import pytest

from harvester.aggregate.spark_engine import spark_available

pytestmark = [pytest.mark.spark,
              pytest.mark.skipif(spark_available() is not None, reason=str(spark_available()))]


@pytest.fixture(scope="module")
def mixed_input(tmp_path_factory):
    """Real lines and synthetic ones (buffering, seeks, bad data, late events, odd lines), gzipped in part."""
    import gzip

    from bench.gen_player_logs import generate
    from tests.conftest import DATA

    root = tmp_path_factory.mktemp("spark-input")
    real = (DATA / "player-logs" / "goonhilly-log-sample").read_bytes().splitlines(keepends=True)
    (root / "real.log").write_bytes(b"".join(real[:200]))
    synthetic = "".join(generate(150_000, seed=5)).encode()
    (root / "synthetic.log.gz").write_bytes(gzip.compress(synthetic))
    (root / "odd.log").write_bytes(
        b"2026-11-23 06:00:00 x_tracking_id=short x_tpmid=7 event_type=MediaStarted\n"
        b'2026-11-23 06:00:01 x_tracking_id=short x_tpmid=7 event_type=MediaEnded title="a \\" x_tpmid=9"\n'
        b"2026-11-23 06:00:02 x_tracking_id=short x_tpmid=7 x_buffering_length=-1\n"
        b"\xff not utf-8\n\n2026-02-30 00:00:00 a=1\n")
    return [str(root / "real.log"), str(root / "synthetic.log.gz"), str(root / "odd.log")]


def _run(engine: str, files: list[str], by: str):
    from harvester.aggregate import run_aggregation

    with run_aggregation(files, engine=engine, by=by, spark_master="local[1]") as agg:
        return [r for batch in agg.batches(500) for r in batch], agg.counters


@pytest.mark.parametrize("by", ["stream", "video"])
def test_duckdb_and_spark_give_identical_summaries(mixed_input, by):
    duck, duck_counters = _run("duckdb", mixed_input, by)
    spark, spark_counters = _run("spark", mixed_input, by)
    assert len(duck) > 50
    assert json.dumps(duck, sort_keys=True) == json.dumps(spark, sort_keys=True)
    # Spark reads bad bytes as U+FFFD, DuckDB rejects the line: both count it as not-utf8.
    assert duck_counters.as_dict() == spark_counters.as_dict()
    assert duck_counters.unparsable["not-utf8"] == 1 and duck_counters.unparsable["bad-timestamp"] == 1
    assert duck_counters.bad_data >= 1 and duck_counters.keyless > 0


def test_cli_spark_engine_writes_parquet(cli_run, mixed_input, tmp_path):
    out = tmp_path / "streams.parquet"
    result = cli_run("logs", "aggregate", mixed_input[0], "--engine", "spark", "--spark-master", "local[1]",
                     "-o", str(out))
    assert result.exit_code == 0, result.stderr
    import duckdb

    n = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{out}/*.parquet')").fetchone()[0]
    duck = cli_run("logs", "aggregate", mixed_input[0])
    assert n == len(duck.stdout.splitlines()) > 0
