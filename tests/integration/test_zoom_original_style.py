"""`harvest zoom` in the original document style (the default), with and without a GeoLite2 file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.integration.test_useractions import WINDOW
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.mmdb import tiny_geolite
from tests.standins.opencast import oc  # noqa: F401
from tests.standins.zoom import participant, zoom_standin_fixture  # noqa: F401

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
DAY = YESTERDAY.replace("-", ".")


def seed(zoom):
    return zoom.add_meeting(YESTERDAY, [
        participant("16778240", "Ann", f"{YESTERDAY}T14:00:00Z", f"{YESTERDAY}T14:20:00Z",
                    ip_address="18.10.0.1", location=""),
        participant("16778240", "Ann", f"{YESTERDAY}T14:25:00Z", f"{YESTERDAY}T15:00:00Z",
                    ip_address="18.10.0.1", location=""),
        participant("16779264", "Bob", f"{YESTERDAY}T14:01:00Z", f"{YESTERDAY}T15:00:00Z",
                    ip_address="8.8.4.4", location="Lisbon (PT)")])


def test_stdout_shows_original_documents_located_from_the_geolite_file(cli_run, zoom_standin, tmp_path):
    meeting = seed(zoom_standin)
    geolite = tiny_geolite(tmp_path / "GeoLite2-City.mmdb")
    result = cli_run("zoom", "--date", YESTERDAY, "--destination", "stdout", "--geolite", str(geolite))
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    meetings = [d for d in docs if d["doc_type"] == "meeting"]
    sessions = [d for d in docs if d["doc_type"] == "session"]
    assert [m["uuid"] for m in meetings] == [meeting.uuid]
    assert meetings[0]["participant_sessions"] == 3 and "host_name" not in meetings[0]
    ann = sorted((s for s in sessions if s["user_name"] == "Ann"), key=lambda s: s["join_time"])
    assert [s["stay"] for s in ann] == [1, 2]
    assert all(s["geoip"]["city_name"] == "Boston" for s in ann)
    assert (ann[0]["city"], ann[0]["country"]) == ("Boston", "US")  # Zoom gave no location: GeoLite2
    bob = next(s for s in sessions if s["user_name"] == "Bob")
    assert (bob["city"], bob["country"]) == ("Lisbon", "PT") and "geoip" not in bob  # not in the file


def test_without_a_geolite_file_the_pipeline_locates_sessions(cli_run, zoom_standin, es_standin):
    seed(zoom_standin)
    assert cli_run("setup", "load-index-templates").exit_code == 0
    result = cli_run("zoom", "--date", YESTERDAY)
    assert result.exit_code == 0, result.stderr
    sessions = es_standin.docs(f"sessions-{DAY}")
    assert len(sessions) == 3
    # the stand-in's geoip processor marks what it located; it ran because there was no geoip yet
    assert all(s["geoip"]["country_iso_code"] == "ZZ" for s in sessions.values())
    assert all(es_standin.pipeline_of(f"sessions-{DAY}", i) == "harvester-zoom-sessions" for i in sessions)


def test_with_a_geolite_file_the_pipeline_leaves_geoip_alone(cli_run, zoom_standin, es_standin, tmp_path,
                                                             monkeypatch):
    seed(zoom_standin)
    monkeypatch.setenv("GEOLITE_PATH", str(tiny_geolite(tmp_path / "GeoLite2-City.mmdb")))
    assert cli_run("setup", "load-index-templates").exit_code == 0
    assert cli_run("zoom", "--date", YESTERDAY).exit_code == 0
    sessions = list(es_standin.docs(f"sessions-{DAY}").values())
    ann = [s for s in sessions if s["user_name"] == "Ann"]
    assert all(s["geoip"]["country_code2"] == "US" and "country_iso_code" not in s["geoip"] for s in ann)
    bob = next(s for s in sessions if s["user_name"] == "Bob")
    assert bob["geoip"]["country_iso_code"] == "ZZ"  # not in the file: the pipeline's turn


def test_a_bad_geolite_path_is_exit_2_before_any_call(cli_run, zoom_standin, tmp_path):
    result = cli_run("zoom", "--date", YESTERDAY, "--geolite", str(tmp_path / "nope.mmdb"))
    assert result.exit_code == 2 and "GEOLITE_PATH" in result.stderr and "Traceback" not in result.stderr
    assert zoom_standin.count("/v2/") == 0


def test_useractions_pipeline_fills_geoip_only_without_a_geolite_file(cli_run, oc, es_standin, tmp_path,  # noqa: F811
                                                                      monkeypatch):
    oc.add_action(1, "mp-1", datetime(2026, 11, 23, 14, 1, tzinfo=UTC), ip="18.9.22.1")
    oc.add_action(2, "mp-1", datetime(2026, 11, 23, 14, 2, tzinfo=UTC), ip="8.8.4.4")
    assert cli_run("setup", "load-index-templates").exit_code == 0
    assert cli_run("useractions", *WINDOW, "-w", "0", "-o", "es", "--no-update-last-ts").exit_code == 0
    first = es_standin.doc("useractions-2026.11.23", "1")
    assert first["geoip"] == {"ip": "18.9.22.1", "country_iso_code": "ZZ"}  # the stand-in's processor
    monkeypatch.setenv("GEOLITE_PATH", str(tiny_geolite(tmp_path / "GeoLite2-City.mmdb")))
    assert cli_run("useractions", *WINDOW, "-w", "0", "-o", "es", "--no-update-last-ts").exit_code == 0
    located = es_standin.doc("useractions-2026.11.23", "1")
    assert located["geoip"]["city_name"] == "Boston" and "country_iso_code" not in located["geoip"]
    assert es_standin.doc("useractions-2026.11.23", "2")["geoip"]["country_iso_code"] == "ZZ"
