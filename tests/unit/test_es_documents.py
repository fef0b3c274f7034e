"""The documents --output es writes: the Logstash stage's fields, index names, geolocation, Zoom styles."""

from __future__ import annotations

import pytest

from harvester.errors import ConfigError
from harvester.geoip import GeoLite, logstash_fields, open_geolite
from harvester.sinks.es_documents import dated_index, parse_user_agent, useraction_document
from harvester.sources.zoom.original_style import original_meeting, original_session, split_location
from harvester.sources.zoom.records import number_stays
from tests.standins.mmdb import BOSTON, tiny_geolite

# The sample of the Logstash useragent filter's own spec (defaults, target => "ua").
LOGSTASH_SPEC_SAMPLE = ("Mozilla/5.0 (X11; Linux i686) AppleWebKit/537.31 (KHTML, like Gecko) "
                        "Chrome/26.0.1410.63 Safari/537.31")
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/45.0.2454.85 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 11_0 like Mac OS X) AppleWebKit/604.1.38 (KHTML, like Gecko) "
          "Version/11.0 Mobile/15A372 Safari/604.1")


def test_user_agent_fields_are_the_logstash_filters():
    ua, ecs = parse_user_agent(LOGSTASH_SPEC_SAMPLE)
    assert (ua["name"], ua["os"], ua["major"], ua["minor"]) == ("Chrome", "Linux", "26", "0")
    assert (ua["patch"], ua["build"], ua["os_name"]) == ("1410", "63", "Linux")
    assert "os_major" not in ua  # Linux without a version: the filter sets no os_major
    ua, ecs = parse_user_agent(MAC)
    assert ua == {"name": "Chrome", "major": "45", "minor": "0", "patch": "2454", "build": "85",
                  "os": "Mac OS X 10.10.5", "os_name": "Mac OS X", "os_major": "10", "os_minor": "10",
                  "device": "Mac"}
    assert ecs == {"original": MAC, "name": "Chrome", "version": "45.0.2454.85",
                   "os": {"name": "Mac OS X", "version": "10.10.5", "full": "Mac OS X 10.10.5"},
                   "device": {"name": "Mac"}}
    ua, _ = parse_user_agent(IPHONE)
    assert (ua["name"], ua["os_name"], ua["device"]) == ("Mobile Safari", "iOS", "iPhone")
    ua, ecs = parse_user_agent("not a browser at all")
    assert ua == {"name": "Other", "os": "Other", "os_name": "Other", "device": "Other"}


def test_useraction_document_adds_what_logstash_added_and_leaves_the_record_alone(tmp_path):
    record = {"action_id": 5, "timestamp": "2026-11-23T14:02:11.250Z", "ip": "18.9.22.1",
              "useragent": MAC, "is_live": 0}
    geo = GeoLite(str(tiny_geolite(tmp_path / "c.mmdb")))
    doc = useraction_document(record, geo)
    assert record == {"action_id": 5, "timestamp": "2026-11-23T14:02:11.250Z", "ip": "18.9.22.1",
                      "useragent": MAC, "is_live": 0}
    assert (doc["@timestamp"], doc["@version"], doc["hostname"]) == ("2026-11-23T14:02:11.250Z", "1",
                                                                      "18.9.22.1")
    assert doc["geoip"]["city_name"] == "Boston" and doc["ua"]["os_name"] == "Mac OS X"
    bare = useraction_document({"action_id": 6, "timestamp": "2026-11-23T14:00:00Z", "ip": None,
                                "useragent": " "})
    assert "hostname" not in bare and "ua" not in bare and "user_agent" not in bare and "geoip" not in bare


def test_geoip_fields_are_the_logstash_filters(tmp_path):
    located = logstash_fields("18.9.22.1", BOSTON)
    assert located == {"ip": "18.9.22.1", "country_code2": "US", "country_code3": "US",
                       "country_name": "United States", "continent_code": "NA", "region_name": "MA",
                       "region_code": "MA", "real_region_name": "Massachusetts", "city_name": "Boston",
                       "postal_code": "02108", "dma_code": 506, "timezone": "America/New_York",
                       "latitude": 42.3562, "longitude": -71.0631, "location": [-71.0631, 42.3562]}
    geo = open_geolite(str(tiny_geolite(tmp_path / "c.mmdb")))
    assert geo.database_type == "GeoLite2-City"
    assert geo.lookup("81.2.69.160")["country_name"] == "United Kingdom"
    assert geo.lookup("8.8.8.8") is None and geo.lookup("::1") is None and geo.lookup("-omitted-") is None
    assert open_geolite(None) is None


@pytest.mark.parametrize("name", ["missing.mmdb", "junk.mmdb"])
def test_a_bad_geolite_file_is_a_usage_error(tmp_path, name):

    (tmp_path / "junk.mmdb").write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError) as err:
        open_geolite(str(tmp_path / name))
    assert "GEOLITE_PATH" in err.value.format_message() or "GEOLITE_PATH" in str(err.value.hint)


def test_index_names_take_a_prefix_or_the_logstash_date_pattern():
    assert dated_index("useractions", "2026.11.23") == "useractions-2026.11.23"
    assert dated_index("useractions-prod-%{+YYYY.MM.dd}", "2026.11.23") == "useractions-prod-2026.11.23"
    assert dated_index("ua-%{+yyyy.MM}", "2026.11.23") == "ua-2026.11"


def test_zoom_original_style():
    meeting = {"doc_type": "meeting", "uuid": "u==", "meeting_id": "123", "topic": "T", "host_id": None,
               "host_name": "Prof", "host_email": "p@x.edu", "user_type": "Licensed", "dept": "CS",
               "start_time": "2026-11-23T10:00:00Z", "zoom_participant_count": 2, "session_count": 3,
               "has_recording": True}
    doc = original_meeting(meeting)
    assert doc["host"] == {"host_id": None, "name": "Prof", "email": "p@x.edu", "user_type": "Licensed"}
    assert (doc["meeting_series_id"], doc["participant_sessions"], doc["recording"]) == ("123", 3, True)
    assert not {"meeting_id", "host_name", "host_email", "has_recording"} & set(doc)
    sessions = [{"session_id": "b", "participant_id": "7", "join_time": "2026-11-23T10:30:00Z"},
                {"session_id": "a", "participant_id": "7", "join_time": "2026-11-23T10:00:00Z"},
                {"session_id": "c", "participant_id": "8", "join_time": "2026-11-23T10:05:00Z"}]
    number_stays(sessions)
    assert [s["stay"] for s in sessions] == [2, 1, 1]
    from harvester.datasets import SESSIONS

    first = original_session({**sessions[1], "meeting_uuid": "u==", "ip": "18.1.1.1",
                              "location": "Cambridge (US)", "zoom_user_id": "zu"})
    assert (first["meeting"], first["user_id"], first["id"], first["ip_address"]) == ("u==", "7", "zu",
                                                                                    "18.1.1.1")
    assert (first["city"], first["country"]) == ("Cambridge", "US")
    assert not {"meeting_uuid", "participant_id", "ip", "session_id"} & set(first)
    assert SESSIONS.id_of(first) == "u==7"
    again = original_session({**sessions[0], "meeting_uuid": "u=="})
    assert SESSIONS.id_of(again) == "u==7#2026-11-23T10:30:00Z"
    assert split_location("São Paulo (BR)") == ("São Paulo", "BR")
    assert split_location("Somewhere") == ("Somewhere", None) and split_location("") == (None, None)


def test_doctor_reports_the_geolite_file(tmp_path, monkeypatch):
    from harvester.geoip import doctor_check

    assert doctor_check()[0][:2] == ("geolite", "not configured")
    monkeypatch.setenv("GEOLITE_PATH", str(tmp_path / "gone.mmdb"))
    assert doctor_check()[0][1] == "failed" and "no such file" in doctor_check()[0][2]
    monkeypatch.setenv("GEOLITE_PATH", str(tiny_geolite(tmp_path / "c.mmdb")))
    (name, status, detail), = doctor_check()
    assert status == "ok" and "GeoLite2-City, built " in detail
