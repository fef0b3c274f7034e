"""The analysts' existing queries, run on documents the CLI indexed into the stand-in.

The original deployment's analyses (R notebooks and a Django dashboard over the same indices)
date-histogram useractions on `@timestamp`, filter on `is_live` as an integer, on
`action.is_playing`, `action.type`, `episode.year/term/series` and `huid`, histogram
`action.inpoint`, and bucket viewers by distance from campus on `geoip.location`. One
document of each kind is indexed through the real commands (useractions --output es,
load-episodes, zoom in the original style, all with a GeoLite2 file) and those queries are
run through the official client; the stand-in evaluates them against the index mappings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harvester.elasticsearch.client import SearchClient, es_client
from harvester.elasticsearch.errors import EsCallError
from tests.integration.test_useractions import START, WINDOW
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.mmdb import tiny_geolite
from tests.standins.opencast import oc  # noqa: F401
from tests.standins.zoom import participant, zoom_standin_fixture  # noqa: F401

CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/61.0.3163.100 Safari/537.36")
CAMPUS = {"lat": 42.3736, "lon": -71.1097}  # Cambridge, MA
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


@pytest.fixture
def indexed(cli_run, oc, es_standin, zoom_standin, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GEOLITE_PATH", str(tiny_geolite(tmp_path / "GeoLite2-City.mmdb")))
    monkeypatch.setenv("MATTERHORN_ADMIN_HOST", oc.url)
    assert cli_run("setup", "load-index-templates").exit_code == 0
    oc.add_episode("mp-1", title="Lecture 1", series="20260112345", seriestitle="CSCI E-50")
    rows = [  # (id, seconds after START, huid, ip, inpoint, is_playing (2 = live), type)
        (1, 60, "10001", "18.9.22.1", 0, True, "HEARTBEAT"),
        (2, 90, "10001", "18.9.22.1", 300, True, "HEARTBEAT"),
        (3, 3600 * 25, "10002", "81.2.69.160", 600, True, "HEARTBEAT"),  # London, the next day
        (4, 120, "anonymous", "18.9.22.1", 0, True, "HEARTBEAT"),
        (5, 150, "10003", "10.0.0.8", 0, 2, "HEARTBEAT"),  # live, not in the database
        (6, 180, "10001", "18.9.22.1", 300, False, "PAUSE"),
    ]
    for aid, secs, huid, ip, inpoint, playing, kind in rows:
        oc.add_action(aid, "mp-1", START + timedelta(seconds=secs), user=huid, ip=ip, agent=CHROME_MAC,
                      inpoint=inpoint, outpoint=inpoint + 30, is_playing=playing, type=kind)
    end = (START + timedelta(days=2)).strftime("%Y%m%d%H%M%S")
    result = cli_run("useractions", WINDOW[0], WINDOW[1], "--end", end, "-w", "0", "-o", "es",
                     "--disable-start-end-span-check")
    assert result.exit_code == 0, result.stderr
    result = cli_run("load-episodes", "--mpid", "mp-1", "-w", "0")
    assert result.exit_code == 0, result.stderr
    zoom_standin.add_meeting(YESTERDAY, [
        participant("16778240", "Ann", f"{YESTERDAY}T14:00:00Z", f"{YESTERDAY}T14:20:00Z",
                    ip_address="18.10.0.1", location="Cambridge (US)"),
        participant("16778240", "Ann", f"{YESTERDAY}T14:25:00Z", f"{YESTERDAY}T15:00:00Z",
                    ip_address="18.10.0.1", location="Cambridge (US)"),
        participant("16779264", "Bob", f"{YESTERDAY}T14:01:00Z", f"{YESTERDAY}T15:00:00Z",
                    ip_address="81.2.69.160", location=""),
    ], uuid="ajXp112QmuoKj4854875==", host_id="host-7")
    result = cli_run("zoom", "--date", YESTERDAY)
    assert result.exit_code == 0, result.stderr
    client = Analyst(es_client(), es_standin)
    yield client
    client.client.close()


class Analyst:
    """Queries as an analyst's tools send them, through the client that fits the server."""

    def __init__(self, client: SearchClient, standin):
        self.client, self.standin = client, standin

    def count(self, index: str, query: dict) -> dict:
        return self.client.request("POST", f"/{index}/_count", None, {"query": query})

    def has_index(self, name: str) -> bool:
        return name in self.standin.indices


def search(es: Analyst, index: str, **body) -> dict:
    body.setdefault("size", 0)
    return es.client.search(index, body)


def playing_heartbeats(live: int, *extra: dict) -> dict:
    """dce-relastic's getActions filter: playing heartbeats, live or not, no anonymous viewers."""
    return {"bool": {"filter": [{"term": {"action.is_playing": True}}, {"term": {"is_live": live}},
                                {"term": {"action.type": "HEARTBEAT"}}, *extra],
                     "must_not": [{"terms": {"huid": ["anonymous", "public_user"]}}]}}


def test_useractions_answer_the_analyses(indexed):
    es = indexed
    assert es.has_index("useractions-2026.11.23")
    # per-day viewing on @timestamp, unique viewers per day
    body = search(es, "useractions-*", query=playing_heartbeats(0),
                  aggs={"by_day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"},
                                   "aggs": {"viewers": {"cardinality": {"field": "huid"}}}}})
    days = [(b["key_as_string"][:10], b["doc_count"], b["viewers"]["value"])
            for b in body["aggregations"]["by_day"]["buckets"]]
    assert days == [("2026-11-23", 2, 1), ("2026-11-24", 1, 1)]
    # le-dash's lecture watch query: inpoint histogram -> viewer -> 5 minute periods
    body = search(es, "useractions-*", query={"bool": {"must": [{"match": {"mpid": "mp-1"}}],
                                                       "filter": playing_heartbeats(0)["bool"]["filter"]}},
                  aggs={"by_inpoint": {"histogram": {"field": "action.inpoint", "interval": 300},
                                       "aggs": {"by_huid": {"terms": {"field": "huid"}, "aggs": {
                                           "by_period": {"date_histogram": {"field": "@timestamp",
                                                                            "fixed_interval": "5m",
                                                                            "min_doc_count": 1}}}}}}})
    inpoints = {b["key"]: [h["key"] for h in b["by_huid"]["buckets"]]
                for b in body["aggregations"]["by_inpoint"]["buckets"]}
    assert inpoints == {0.0: ["10001", "anonymous"], 300.0: ["10001"], 600.0: ["10002"]}
    # one course and term, viewers by distance from campus (geoip.location is a geo_point)
    term = [{"term": {"episode.year": "2026"}}, {"term": {"episode.term": "01"}},
            {"term": {"episode.series": "20260112345"}}]
    body = search(es, "useractions-*", query=playing_heartbeats(0, *term),
                  aggs={"distance": {"geo_distance": {
                      "field": "geoip.location", "unit": "km", "origin": CAMPUS,
                      "ranges": [{"key": "oncampus", "to": 1}, {"key": "local", "from": 1, "to": 10},
                                 {"key": "remote", "from": 100}]}}})
    assert body["hits"]["total"]["value"] == 3
    assert {b["key"]: b["doc_count"] for b in body["aggregations"]["distance"]["buckets"]} == \
        {"oncampus": 0, "local": 2, "remote": 1}
    # live: the integer is_live, and the range/exists filters
    assert search(es, "useractions-*", query=playing_heartbeats(1))["hits"]["total"]["value"] == 1
    assert es.count(index="useractions-*", query={"range": {"action.inpoint": {"gte": 300, "lt": 600}}})[
        "count"] == 2
    assert es.count(index="useractions-*", query={"exists": {"field": "geoip.location"}})["count"] == 5
    with pytest.raises(EsCallError) as refused:  # is_live is an integer: a boolean term is refused
        es.count(index="useractions-*", query={"term": {"is_live": True}})
    assert refused.value.status == 400
    # the Logstash fields next to ECS user_agent
    hit = search(es, "useractions-*", size=1, query={"ids": {"values": ["3"]}})["hits"]["hits"][0]["_source"]
    assert hit["@timestamp"] == "2026-11-24T15:00:00Z" and hit["hostname"] == "81.2.69.160"
    assert hit["geoip"]["city_name"] == "London" and hit["geoip"]["location"] == [-0.0931, 51.5142]
    assert hit["ua"] == {"name": "Chrome", "major": "61", "minor": "0", "patch": "3163", "build": "100",
                         "os": "Mac OS X 10.12.6", "os_name": "Mac OS X", "os_major": "10",
                         "os_minor": "12", "device": "Mac"}
    assert hit["user_agent"]["name"] == "Chrome" and hit["user_agent"]["os"]["full"] == "Mac OS X 10.12.6"
    body = search(es, "useractions-*", aggs={"browsers": {"terms": {"field": "ua.name"}},
                                             "os": {"terms": {"field": "ua.os_name"}}})
    assert body["aggregations"]["browsers"]["buckets"] == [{"key": "Chrome", "doc_count": 6}]


def test_episode_and_zoom_documents_answer_the_analyses(indexed):
    es = indexed
    episode = search(es, "episodes", size=5, query={"bool": {"filter": [
        {"term": {"series": "20260112345"}}, {"term": {"year": "2026"}}, {"match": {"title": "lecture"}}]}})
    assert [h["_id"] for h in episode["hits"]["hits"]] == ["mp-1"]
    day = YESTERDAY.replace("-", ".")
    assert es.has_index(f"meetings-{day}") and es.has_index(f"sessions-{day}")
    found = search(es, "meetings-*", size=1, query={"term": {"host.email": "host-7@example.edu"}})
    meeting = found["hits"]["hits"][0]
    assert meeting["_id"] == "ajXp112QmuoKj4854875=="
    src = meeting["_source"]
    assert src["host"]["name"] == "Host host-7" and src["meeting_series_id"]
    assert src["participant_sessions"] == 3
    # the current style's names still answer, as aliases
    assert es.count(index="meetings-*", query={"term": {"host_name": "Host host-7"}})["count"] == 1
    sessions = search(es, "sessions-*", size=10, query={"term": {"meeting": "ajXp112QmuoKj4854875=="}},
                      aggs={"countries": {"terms": {"field": "country"}},
                            "per_hour": {"date_histogram": {"field": "join_time",
                                                            "calendar_interval": "hour"}},
                            "near": {"geo_distance": {"field": "geoip.location", "unit": "km",
                                                      "origin": CAMPUS, "ranges": [{"to": 10}]}}})
    ids = {h["_id"] for h in sessions["hits"]["hits"]}
    assert ids == {"ajXp112QmuoKj4854875==16778240", "ajXp112QmuoKj4854875==16779264",
                   f"ajXp112QmuoKj4854875==16778240#{YESTERDAY}T14:25:00Z"}
    assert {b["key"]: b["doc_count"] for b in sessions["aggregations"]["countries"]["buckets"]} == \
        {"US": 2, "GB": 1}
    assert sessions["aggregations"]["per_hour"]["buckets"][0]["doc_count"] == 3
    assert sessions["aggregations"]["near"]["buckets"][0]["doc_count"] == 2
    bob = next(h["_source"] for h in sessions["hits"]["hits"] if h["_source"]["user_name"] == "Bob")
    assert (bob["city"], bob["country"], bob["ip_address"]) == ("London", "GB", "81.2.69.160")
    assert bob["geoip"]["country_name"] == "United Kingdom"
    assert es.count(index="sessions-*", query={"term": {"participant_id": "16779264"}})["count"] == 1
