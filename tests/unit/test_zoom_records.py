"""Normalizing Zoom's answers: durations, times, ids, addresses; never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.sources.zoom.records import (
    clock_seconds,
    meeting_doc,
    session_doc,
    session_id,
    valid_ip,
)
from harvester.sources.zoom.source import encode_uuid

MEETING = {"uuid": "abc+/def==", "id": 912345678, "topic": "CSCI E-1", "host": "Prof X",
           "email": "x@example.edu", "start_time": "2026-11-23T14:00:00Z", "end_time": "2026-11-23T15:15:30Z",
           "duration": "01:15:30", "participants": 2, "has_video": True, "has_pstn": False}


def test_clock_durations():
    assert clock_seconds("01:15:30") == 4530
    assert clock_seconds("15:30") == 930
    assert clock_seconds("100:00:00") == 360000
    assert clock_seconds("") is None and clock_seconds("1h") is None and clock_seconds(None) is None


def test_times_become_utc_with_z_and_an_unreadable_time_becomes_null():
    doc = meeting_doc({"uuid": "u", "start_time": "2026-11-23T09:00:00-05:00", "end_time": "yesterday"},
                      source="dashboard", day="2026-11-23", sessions=[])
    assert doc["start_time"] == "2026-11-23T14:00:00Z" and doc["end_time"] is None


def test_ip_addresses_are_checked():
    assert valid_ip("18.10.0.1") == "18.10.0.1"
    assert valid_ip("2001:db8::1") == "2001:db8::1"
    assert valid_ip("") is None and valid_ip("unknown") is None and valid_ip("10.0.0.1, 1.2.3.4") is None


def test_uuid_encoding_once_or_twice():
    assert encode_uuid("abc+def==") == "abc%2Bdef%3D%3D"
    assert encode_uuid("ab/cd==") == "ab%2Fcd%3D%3D"  # a single inner slash: once is enough
    assert encode_uuid("/abc==") == "%252Fabc%253D%253D"
    assert encode_uuid("ab//cd") == "ab%252F%252Fcd"


def test_meeting_document_from_the_dashboard():
    sessions = [{"participant_id": "1", "session_id": "a"}, {"participant_id": "1", "session_id": "b"},
                {"participant_id": "2", "session_id": "c"}]
    doc = meeting_doc(MEETING, source="dashboard", day="2026-11-23", sessions=sessions)
    assert doc["doc_type"] == "meeting" and doc["uuid"] == "abc+/def=="
    assert doc["meeting_id"] == "912345678" and doc["host_name"] == "Prof X"
    assert doc["duration"] == 4530 and doc["start_time"] == "2026-11-23T14:00:00Z"
    assert doc["session_count"] == 3 and doc["participant_count"] == 2 and doc["zoom_participant_count"] == 2
    assert doc["has_video"] is True and doc["has_pstn"] is False and doc["has_sip"] is None
    assert "participants_error" not in doc


def test_meeting_document_from_the_report_api_and_without_sessions():
    raw = {"uuid": "u1", "id": 1, "user_name": "Prof Y", "user_email": "y@example.edu", "duration": 42,
           "start_time": "2026-11-23T14:00:00Z", "participants_count": 7}
    doc = meeting_doc(raw, source="report", day="2026-11-23", sessions=None, error="HTTP 404 code 3001: gone")
    assert doc["duration"] == 42 * 60  # report durations are minutes
    assert doc["host_name"] == "Prof Y" and doc["host_email"] == "y@example.edu"
    assert doc["session_count"] is None and doc["participants_error"].startswith("HTTP 404")
    assert doc["zoom_participant_count"] == 7


def test_sessions_have_computed_durations_and_distinct_ids_per_join():
    first = {"user_id": "16778240", "user_name": "Ann", "email": "", "join_time": "2026-11-23T14:00:00Z",
             "leave_time": "2026-11-23T14:20:00Z", "ip_address": "18.10.0.1", "device": "Mac"}
    again = {**first, "join_time": "2026-11-23T14:25:00Z", "leave_time": "2026-11-23T15:00:00Z"}
    a, b = session_doc(first, MEETING, "dashboard"), session_doc(again, MEETING, "dashboard")
    assert a["duration"] == 1200 and b["duration"] == 2100
    assert a["session_id"] != b["session_id"]
    assert a["session_id"] == session_doc(dict(first), MEETING, "dashboard")["session_id"]
    assert a["email"] is None and a["ip"] == "18.10.0.1" and a["device"] == "Mac"
    assert a["meeting_uuid"] == "abc+/def==" and a["participant_id"] == "16778240"


def test_session_ids_depend_on_meeting_participant_and_join():
    base = session_id("m", "p", "2026-11-23T14:00:00Z")
    assert base != session_id("m2", "p", "2026-11-23T14:00:00Z")
    assert base != session_id("m", "p2", "2026-11-23T14:00:00Z")
    assert len(base) == 64


def test_report_participants_use_their_own_field_names():
    raw = {"id": "zoomuser", "user_id": "42", "name": "Bob", "user_email": "bob@example.edu",
           "join_time": "2026-11-23T14:00:00Z", "leave_time": None, "duration": 300}
    doc = session_doc(raw, MEETING, "report")
    assert doc["user_name"] == "Bob" and doc["email"] == "bob@example.edu"
    assert doc["duration"] == 300 and doc["zoom_user_id"] == "zoomuser"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
keys = st.sampled_from(["uuid", "id", "user_id", "join_time", "leave_time", "start_time", "end_time",
                        "duration", "ip_address", "email", "participants", "has_video", "custom_keys",
                        "name", "user_name", "device", "failover", "attentiveness_score", "host"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, json_values), st.dictionaries(keys, json_values))
def test_normalizers_never_raise(raw, meeting):
    doc = session_doc(raw, meeting, "dashboard")
    assert doc["doc_type"] == "session" and isinstance(doc["session_id"], str)
    mdoc = meeting_doc(meeting, source="report", day="2026-11-23", sessions=[doc])
    assert mdoc["session_count"] == 1
    assert mdoc["duration"] is None or isinstance(mdoc["duration"], int)
    assert doc["ip"] is None or valid_ip(doc["ip"]) == doc["ip"]


@given(st.text(min_size=1, max_size=40))
def test_uuid_encoding_round_trips_as_zoom_decodes(uuid):
    from urllib.parse import unquote

    encoded = encode_uuid(uuid)
    assert "/" not in encoded
    once = unquote(encoded)
    assert (unquote(once) if (uuid.startswith("/") or "//" in uuid) else once) == uuid
