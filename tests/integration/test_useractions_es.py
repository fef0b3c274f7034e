"""useractions --output es: dated indices, action_id as _id, the ingest pipeline, failures."""

from __future__ import annotations

from tests.integration.test_useractions import END, WINDOW, populate
from tests.standins.elasticsearch import es_standin  # noqa: F401 (fixture)
from tests.standins.opencast import oc  # noqa: F401


def test_actions_are_indexed_by_day_with_their_id(cli_run, oc, es_standin):
    served = populate(oc, n=40, mpids=4)
    assert cli_run("setup", "load-index-templates").exit_code == 0
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "es")
    assert result.exit_code == 0, result.stderr
    assert es_standin.index_names() == ["useractions-2026.11.23"]
    assert es_standin.ids("useractions-*") == {str(i) for i in served}
    doc = es_standin.doc("useractions-2026.11.23", "1")
    assert doc["action_id"] == 1 and doc["episode"]["title"] == "Lecture 0"
    assert es_standin.pipeline_of("useractions-2026.11.23", "1")
    assert es_standin.bulk_requests <= 2  # bulk only, never one request per action
    # re-running the window overwrites the same documents: no duplicates
    assert cli_run("useractions", *WINDOW, "-w", "0", "-o", "es", "--no-update-last-ts").exit_code == 0
    assert len(es_standin.ids("useractions-*")) == len(served)


def test_elasticsearch_503_is_retried_and_429_items_too(cli_run, oc, es_standin):
    served = populate(oc, n=25, mpids=2)
    assert cli_run("setup", "load-index-templates").exit_code == 0
    es_standin.inject_unavailable(times=2, path_prefix="/_bulk")
    es_standin.inject_item_error(times=5)
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "es")
    assert result.exit_code == 0, result.stderr
    assert es_standin.ids("useractions-*") == {str(i) for i in served}


def test_elasticsearch_down_exits_1_and_keeps_checkpoint(cli_run, oc, es_standin, tmp_path, monkeypatch):
    populate(oc, n=10, mpids=2)
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    cp.parent.mkdir()
    cp.write_text("20261123140000")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    es_standin.inject_unavailable(times=None)
    from harvester.timeutil import format_compact

    result = cli_run("useractions", "--end", format_compact(END), "-w", "0", "-o", "es")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert cp.read_text() == "20261123140000"


def test_the_index_name_of_the_original_logstash_output(cli_run, oc, es_standin, monkeypatch):
    """ES_USERACTIONS_INDEX takes Logstash's own `index =>` value, date pattern included."""
    served = populate(oc, n=5, mpids=1)
    monkeypatch.setenv("ES_USERACTIONS_INDEX", "useractions-matterhorn-production-%{+YYYY.MM.dd}")
    assert cli_run("setup", "load-index-templates").exit_code == 0
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "es")
    assert result.exit_code == 0, result.stderr
    assert es_standin.index_names() == ["useractions-matterhorn-production-2026.11.23"]
    assert es_standin.ids("useractions-*") == {str(i) for i in served}
    doc = es_standin.doc("useractions-matterhorn-production-2026.11.23", "1")
    assert doc["@timestamp"] == doc["timestamp"] and doc["hostname"] == doc["ip"] == "10.0.0.1"
    assert doc["ua"]["name"] == "Other" and "geoip" not in doc  # no GeoLite2 file, private address


def test_bad_index_or_geolite_file_exits_2_before_harvesting(cli_run, oc, es_standin, monkeypatch, tmp_path):
    populate(oc, n=3, mpids=1)
    monkeypatch.setenv("ES_USERACTIONS_INDEX", "UserActions")
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "es")
    assert result.exit_code == 2 and "ES_USERACTIONS_INDEX" in result.stderr
    monkeypatch.delenv("ES_USERACTIONS_INDEX")
    (tmp_path / "not.mmdb").write_text("not a database")
    for path in (tmp_path / "missing.mmdb", tmp_path / "not.mmdb"):
        monkeypatch.setenv("GEOLITE_PATH", str(path))
        result = cli_run("useractions", *WINDOW, "-w", "0", "-o", "es")
        assert result.exit_code == 2 and "GEOLITE_PATH" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert es_standin.index_names() == [] and oc.count("/usertracking") == 0
