"""`harvest mediaconvert` into Elasticsearch (strict stand-in) and with an archive copy."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.integration.test_mediaconvert import CHECKPOINT, ago, by_id
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.mediaconvert import mediaconvert  # noqa: F401


def test_jobs_are_indexed_by_job_id_and_a_later_poll_updates_them(cli_run, mediaconvert, es_standin):  # noqa: F811
    loaded = cli_run("setup", "load-index-templates")  # the shipped mapping, enforced by the stand-in
    assert loaded.exit_code == 0, loaded.stderr
    job = mediaconvert.add("j1", "PROGRESSING", ago(hours=1), start=ago(minutes=50), percent=30)
    for i in range(30):
        mediaconvert.add(f"c{i:02d}", "COMPLETE", ago(minutes=40 - i), finish=ago(minutes=39 - i))
    result = cli_run("mediaconvert", "--output", "es")
    assert result.exit_code == 0, result.stderr
    docs = es_standin.docs("mediaconvert-jobs-*")
    assert len(docs) == 31
    assert es_standin.bulk_requests == 1  # one bulk request for the run, never one per document
    assert es_standin.doc_requests == 0
    index = es_standin.index_names()[0]
    assert index.startswith("mediaconvert-jobs-")
    assert es_standin.doc(index, "j1")["status"] == "PROGRESSING"

    job.status, job.percent, job.finish = "COMPLETE", 100, ago(seconds=2)
    result = cli_run("mediaconvert", "--output", "es")
    assert result.exit_code == 0, result.stderr
    assert len(es_standin.docs("mediaconvert-jobs-*")) == 31  # the same document, updated
    assert es_standin.doc(index, "j1")["status"] == "COMPLETE"


def test_elasticsearch_down_exits_1_and_keeps_the_checkpoint(cli_run, mediaconvert, es_standin):  # noqa: F811
    mediaconvert.add("j1", "PROGRESSING", ago(hours=1), start=ago(minutes=50), percent=30)
    es_standin.inject_unavailable(times=None)
    result = cli_run("mediaconvert", "--output", "es")
    assert result.exit_code == 1
    assert "elasticsearch" in result.stderr.lower()
    assert not CHECKPOINT.exists()


def test_archive_keeps_a_copy(cli_run, mediaconvert):  # noqa: F811
    mediaconvert.add("j1", "COMPLETE", ago(minutes=10))
    mediaconvert.add("j2", "ERROR", ago(minutes=5), error_code=1010, error_message="bad input")
    result = cli_run("mediaconvert", "--archive", "dir:arch")
    assert result.exit_code == 0, result.stderr
    assert set(by_id(result.stdout)) == {"j1", "j2"}
    archived = [json.loads(line) for f in Path("arch").rglob("*.jsonl.gz")
                for line in gzip.decompress(f.read_bytes()).decode().splitlines()]
    assert {d["job_id"] for d in archived} == {"j1", "j2"}
