"""Every template and pipeline file: valid, modern, and mapping the fields the code writes.

Documents built by the harvester's own record builders are checked against the template
mappings with the stand-in's mapping rules, so a renamed field or a type that would make
Elasticsearch reject a document fails here, not in production.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harvester.datasets import REGISTRY
from harvester.elasticsearch.loading import TEMPLATES_DIR, expected_objects, read_objects
from harvester.sinks.elasticsearch import PIPELINES
from tests.standins.elasticsearch import ElasticsearchStandIn, EsError, Index

DATA = Path(__file__).resolve().parents[1] / "data"


def template(name: str) -> dict:
    return json.loads((TEMPLATES_DIR / f"{name}.json").read_text())


def template_for_index(index: str) -> tuple[str, dict]:
    es = ElasticsearchStandIn()
    for obj in read_objects():
        if obj.kind == "index template":
            es._validate_composable(obj.name, obj.body)
            es.templates[obj.name] = obj.body
    name, merged = es._template_for(index)
    assert name is not None, f"no template matches {index}"
    return name, merged


def mapped_paths(properties: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, spec in properties.items():
        out.add(prefix + key)
        out |= mapped_paths(spec.get("properties", {}), f"{prefix}{key}.")
    return out


def doc_paths(doc: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in doc.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= doc_paths(value, f"{prefix}{key}.")
    return out


def assert_indexable(index: str, docs: list[dict], *, flattened: tuple[str, ...] = ()) -> None:
    """Every field explicitly mapped, and every value accepted by its mapping."""
    name, merged = template_for_index(index)
    mapped = mapped_paths(merged["mappings"]["properties"])
    for doc in docs:
        paths = {p for p in doc_paths(doc) if not any(p.startswith(f + ".") for f in flattened)}
        assert paths <= mapped, f"{name}: unmapped fields {sorted(paths - mapped)}"
        idx = Index(index, name, merged["mappings"], merged["settings"])
        written_aliases = sorted(p for p in paths if (idx.field_mapping(p) or {}).get("type") == "alias")
        assert not written_aliases, f"{name}: documents write to field aliases {written_aliases}"
        try:
            idx.check_and_map(doc)
        except EsError as exc:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{name} rejects {doc}: {exc.reason}")


def test_one_template_per_dataset_and_pipelines_beside_them():
    templates, pipelines = expected_objects()
    assert templates == ["episodes", "mediaconvert-jobs", "meetings", "player-streams", "player-videos",
                         "sessions", "useractions", "zoom-meetings", "zoom-sessions"]
    for dataset in REGISTRY.values():
        index = dataset.index_prefix + ("-2026.11.23" if dataset.dated_index else "")
        template_for_index(index)
    assert set(PIPELINES.values()) == set(pipelines)


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.rglob("*.json")), ids=lambda p: p.name)
def test_files_are_valid_json_objects_accepted_by_the_stand_in(path):
    body = json.loads(path.read_text())
    es = ElasticsearchStandIn()
    if path.parent.name == "pipelines":
        assert body["description"]
        kinds = [next(iter(p)) for p in body["processors"]]
        assert set(kinds) <= {"geoip", "user_agent"}
    else:
        es._validate_composable(path.stem, body)
        assert body["priority"] > 100  # above the built-in logs-*/metrics-* templates
        assert body["_meta"]["managed_by"] == "harvester"
        text = path.read_text()
        assert '"type": "string"' not in text and "not_analyzed" not in text and "_default_" not in text


def test_useractions_pipeline_enriches_ip_and_user_agent():
    body = json.loads((TEMPLATES_DIR / "pipelines" / "harvester-useractions.json").read_text())
    fields = {(next(iter(p)), next(iter(p.values()))["field"]) for p in body["processors"]}
    assert fields == {("geoip", "ip"), ("user_agent", "useragent")}
    for proc in body["processors"]:  # "-omitted-" addresses must not reject the action
        assert next(iter(proc.values()))["ignore_failure"] is True


def sample_episode_fields() -> dict:
    from harvester.sources.opencast.client import episode_fields, search_results

    doc = json.loads((DATA / "opencast" / "search-episode-oc16-lti-mock.json").read_text())
    return episode_fields(search_results(doc)[0])


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


def test_useraction_records_are_mapped(tmp_path):
    from harvester.sources.opencast.client import normalize_action

    raw = {"id": 7, "mediapackageId": "mp-1", "type": "HEARTBEAT", "inpoint": 10, "outpoint": 20,
           "length": 10, "isPlaying": 2, "created": "2026-11-23T09:02:11-05:00",
           "sessionId": {"sessionId": "s1", "userId": 123, "userIp": "10.0.0.1, 192.0.2.9, 198.51.100.7",
                         "userAgent": "Mozilla/5.0"}}
    record = normalize_action(raw)
    record["episode"] = sample_episode_fields()
    omitted = normalize_action({**raw, "sessionId": {"sessionId": "s", "userId": "-omitted-",
                                                     "userIp": "-omitted-"}})
    omitted["episode"] = None
    assert_indexable("useractions-2026.11.23", [record, omitted])
    assert {"proxy1", "proxy2"} <= set(record)
    # and as --output es writes them: Logstash's @timestamp, hostname, geoip and ua, plus ECS user_agent
    from harvester.geoip import GeoLite
    from harvester.sinks.es_documents import useraction_document
    from tests.standins.mmdb import tiny_geolite

    geo = GeoLite(str(tiny_geolite(tmp_path / "city.mmdb")))
    located = {**record, "ip": "18.10.0.1", "useragent": FIREFOX}
    docs = [useraction_document(r, geo) for r in (located, record, omitted)]
    assert_indexable("useractions-2026.11.23", docs)
    assert docs[0]["geoip"]["location"] == [-71.0631, 42.3562] and docs[0]["ua"]["name"] == "Firefox"
    assert "geoip" not in docs[1]  # 10.0.0.1 is not in the database


def test_episode_documents_are_mapped():
    from harvester.sources.opencast.episodes import episode_document

    search = json.loads((DATA / "opencast" / "search-episode-oc16-lti-mock.json").read_text())
    from harvester.sources.opencast.client import search_results

    result = search_results(search)[0]
    doc = episode_document("0001", result, workflows=[], technical=None,
                           now=datetime(2026, 11, 24, tzinfo=UTC))
    wf = {"id": 9, "state": "SUCCEEDED", "template": "DCE-archive-publish-external", "operations": {
        "operation": [{"id": "capture", "started": 1_762_005_600_000, "completed": 1_762_009_200_000},
                      {"id": "retract-element", "started": 1_762_010_000_000,
                       "completed": 1_762_010_001_000}]}}
    live = episode_document("0001", result, workflows=[wf], technical=None, dce=True,
                            now=datetime(2026, 11, 24, tzinfo=UTC))
    assert (live["live_source"], live["available_source"]) == ("capture", "retract-element")
    assert_indexable("episodes", [doc, live])


def test_zoom_documents_are_mapped():
    zr = pytest.importorskip("harvester.sources.zoom.records")
    meeting = {"uuid": "abc==", "id": 123, "topic": "Lecture", "host": "Prof", "email": "p@x.edu",
               "user_type": "Licensed", "dept": "CS", "start_time": "2026-11-23T10:00:00Z",
               "end_time": "2026-11-23T11:00:00Z", "duration": "01:00:00", "participants": 2,
               "has_pstn": False, "has_video": True, "custom_keys": [{"key": "k", "value": "v"}]}
    participant = {"id": "u1", "user_id": "16778240", "user_name": "Ann", "email": "",
                   "participant_uuid": "P1", "join_time": "2026-11-23T10:00:00Z",
                   "leave_time": "2026-11-23T10:30:00Z", "leave_reason": "left", "status": "in_meeting",
                   "role": "attendee", "device": "Mac", "os": "Mac", "version": "5.17",
                   "ip_address": "192.0.2.10", "location": "Boston", "network_type": "Wifi",
                   "data_center": "US", "connection_type": "P2P", "camera": "FaceTime",
                   "microphone": "Mic", "speaker": "Spk", "audio_quality": "good", "video_quality": "good",
                   "screen_share_quality": "", "share_application": False, "share_desktop": True,
                   "share_whiteboard": False, "recording": False, "customer_key": "ck"}
    session = zr.session_doc(participant, meeting, "dashboard")
    unknown_ip = zr.session_doc({**participant, "ip_address": "unknown"}, meeting, "dashboard")
    assert_indexable("zoom-sessions-2026.11.23", [session, unknown_ip])
    zr.number_stays([session, unknown_ip])
    assert_indexable("zoom-sessions-2026.11.23", [session, unknown_ip])
    doc = zr.meeting_doc(meeting, source="dashboard", day="2026-11-23", sessions=[session])
    assert_indexable("zoom-meetings-2026.11.23", [doc], flattened=("custom_keys", "tracking_fields"))
    # the original style, and its aliases for the current names
    from harvester.sources.zoom.original_style import (
        MEETING_ALIASES,
        SESSION_ALIASES,
        original_meeting,
        original_session,
    )

    assert_indexable("meetings-2026.11.23", [original_meeting(doc)],
                     flattened=("custom_keys", "tracking_fields"))
    assert_indexable("sessions-2026.11.23", [original_session(session), original_session(unknown_ip)])
    for index, aliases in (("meetings-2026.11.23", MEETING_ALIASES),
                           ("sessions-2026.11.23", SESSION_ALIASES)):
        _, merged = template_for_index(index)
        idx = Index(index, None, merged["mappings"], {})
        for name, path in aliases.items():
            assert idx.field_mapping(name) == {"type": "alias", "path": path}
            assert idx.field_mapping(path)["type"] not in (None, "alias", "object"), path


def test_mediaconvert_documents_are_mapped():
    mc = pytest.importorskip("harvester.sources.mediaconvert")
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    job = {"Id": "1700000000000-abc123", "Arn": "arn:aws:mediaconvert:us-east-1:1:jobs/x",
           "Status": "PROGRESSING", "CreatedAt": t0,
           "Queue": "arn:aws:mediaconvert:us-east-1:1:queues/Default",
           "Priority": 0, "UserMetadata": {"mpid": "mp-1"},
           "Settings": {"Inputs": [{"FileInput": "s3://in/a.mp4"}]},
           "Timing": {"SubmitTime": t0, "StartTime": t0}, "JobPercentComplete": 40,
           "CurrentPhase": "TRANSCODING", "RetryCount": 0, "Warnings": [{"Code": 230001, "Count": 1}],
           "QueueTransitions": [{"SourceQueue": "a", "DestinationQueue": "b", "Timestamp": t0}]}
    doc = mc.job_document(job, polled_at=datetime(2026, 11, 23, 10, 5, tzinfo=UTC))
    assert_indexable("mediaconvert-jobs-2026.11.23", [doc], flattened=("user_metadata",))


def test_player_summaries_are_mapped():
    sql = pytest.importorskip("harvester.aggregate.sql")
    _, streams = template_for_index("player-streams-2026.11.23")
    _, videos = template_for_index("player-videos-2026.11.23")
    assert set(sql.STREAM_COLUMNS) <= set(streams["mappings"]["properties"])
    assert set(sql.VIDEO_COLUMNS) <= set(videos["mappings"]["properties"])
